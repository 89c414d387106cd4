/* Event Grid sink: batches of CloudEvents POSTed to a topic endpoint (CloudEvents v1.0
 * schema, "aeg-sas-key" auth), with retries, backoff honouring Retry-After and a circuit
 * breaker. Runs on the sink's worker thread; aos_http_client_do blocks only that thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/log.h"
#include "aos/resilience.h"
#include "events_internal.h"

#define EG_API_VERSION "api-version=2018-01-01"

size_t aos_eventgrid_plan_batch(const size_t *sizes, size_t count, size_t max_items,
                                size_t max_request_bytes)
{
    if (count == 0)
        return 0;
    size_t total = 2; /* "[" "]" */
    size_t n = 0;
    while (n < count && (max_items == 0 || n < max_items)) {
        size_t add = sizes[n] + (n > 0 ? 1 : 0);
        if (n > 0 && (add > max_request_bytes || total + add > max_request_bytes))
            break;
        total += add;
        n++;
    }
    return n;
}

bool aos_eventgrid_event_fits(size_t len, size_t max_request_bytes)
{
    size_t limit = max_request_bytes < AOS_EVENTGRID_MAX_EVENT_BYTES + 2
                       ? max_request_bytes
                       : AOS_EVENTGRID_MAX_EVENT_BYTES + 2;
    return len <= AOS_EVENTGRID_MAX_EVENT_BYTES && len + 2 <= limit;
}

aos_result aos_eventgrid_join_batch(char *const *items, const size_t *lens, size_t count,
                                    char **out_body, size_t *out_len)
{
    size_t total = 3;
    for (size_t i = 0; i < count; i++)
        total += lens[i] + 1;
    char *b = malloc(total);
    if (!b)
        return AOS_ERR_NOMEM;
    size_t o = 0;
    b[o++] = '[';
    for (size_t i = 0; i < count; i++) {
        if (i > 0)
            b[o++] = ',';
        memcpy(b + o, items[i], lens[i]);
        o += lens[i];
    }
    b[o++] = ']';
    b[o] = '\0';
    *out_body = b;
    *out_len = o;
    return AOS_OK;
}

aos_result ev_eventgrid_url(const char *endpoint, char **out_url, char *errbuf, size_t errlen)
{
    if (strncmp(endpoint, "https://", 8) != 0 && strncmp(endpoint, "http://", 7) != 0)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "AOS_EVENTGRID_ENDPOINT: expected an http(s) URL");
    if (strpbrk(endpoint, " \r\n\t"))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "AOS_EVENTGRID_ENDPOINT: URL contains whitespace");
    bool has_version = strstr(endpoint, "api-version=") != NULL;
    size_t n = strlen(endpoint) + sizeof EG_API_VERSION + 2;
    char *u = malloc(n);
    if (!u)
        return AOS_ERR_NOMEM;
    if (has_version)
        snprintf(u, n, "%s", endpoint);
    else
        snprintf(u, n, "%s%c%s", endpoint, strchr(endpoint, '?') ? '&' : '?', EG_API_VERSION);
    *out_url = u;
    return AOS_OK;
}

typedef enum { EG_SENT, EG_TOO_LARGE, EG_FAILED, EG_GAVE_UP, EG_RETRY } eg_outcome;

/* Wait while the breaker is open; false when the flush deadline passed meanwhile. */
static bool wait_for_circuit(ev_sink_t *s)
{
    aos_event_publisher_t *p = s->pub;
    while (!aos_circuit_allow(&p->circuit, aos_clock_monotonic_ms())) {
        if (!ev_sink_sleep(s, 200))
            return false;
    }
    return true;
}

static void log_refusal(int status, const aos_http_response_t *resp, size_t n)
{
    char st[16], cnt[24], body[256];
    snprintf(st, sizeof st, "%d", status);
    snprintf(cnt, sizeof cnt, "%zu", n);
    snprintf(body, sizeof body, "%.*s", (int)(resp && resp->body_len < 200 ? resp->body_len : 200),
             resp && resp->body ? resp->body : "");
    aos_log(AOS_LOG_ERROR, "event grid refused a batch", "status", st, "events", cnt, "detail",
            body, NULL);
}

static eg_outcome post_once(ev_sink_t *s, const char *body, size_t len, size_t n,
                            uint32_t *attempts)
{
    aos_event_publisher_t *p = s->pub;
    aos_http_header_t hdrs[] = {{"aeg-sas-key", p->eg_key},
                                {"Content-Type", AOS_EVENTGRID_CONTENT_TYPE}};
    uint32_t timeout = p->request_timeout_ms;
    uint32_t left = ev_sink_remaining_ms(s);
    if (left < timeout)
        timeout = left;
    aos_http_client_request_t req = {.method = "POST",
                                     .url = p->eg_url,
                                     .headers = hdrs,
                                     .header_count = 2,
                                     .body = body,
                                     .body_len = len,
                                     .timeout_ms = timeout};
    aos_http_response_t *resp = NULL;
    char err[256] = "";
    aos_result r = aos_http_client_do(p->http, &req, &resp, err, sizeof err);
    (*attempts)++;
    int status = resp ? resp->status : 0;
    bool retryable = r != AOS_OK || aos_retry_http_status_retryable(status);
    int64_t now = aos_clock_monotonic_ms();
    if (r == AOS_ERR_CANCELLED)
        aos_circuit_record_release(&p->circuit);
    else if (retryable)
        aos_circuit_record_failure(&p->circuit, now);
    else
        aos_circuit_record_success(&p->circuit, now);

    eg_outcome out;
    if (r == AOS_OK && status >= 200 && status < 300) {
        out = EG_SENT;
    } else if (retryable) {
        uint64_t delay = 0;
        if (aos_retry_may_retry(&p->retry, *attempts)) {
            const char *ra = resp ? aos_http_response_get_header(resp, "retry-after") : NULL;
            const char *ram = resp ? aos_http_response_get_header(resp, "retry-after-ms") : NULL;
            delay = aos_retry_next_delay_ms(&p->retry, *attempts, ram, ra, aos_clock_realtime_ms(),
                                            NULL, NULL);
            char st[16];
            snprintf(st, sizeof st, "%d", status);
            aos_log(AOS_LOG_WARN, "event grid post failed, retrying", "status", st, "error",
                    r == AOS_OK ? "" : err, NULL);
            out = ev_sink_sleep(s, delay) ? EG_RETRY : EG_GAVE_UP;
        } else {
            log_refusal(status, resp, n);
            out = EG_FAILED;
        }
    } else if (status == 413) {
        out = EG_TOO_LARGE;
    } else {
        log_refusal(status, resp, n);
        out = EG_FAILED;
    }
    aos_http_response_free(resp);
    return out;
}

/* Post one body until it is sent, refused, or retries / the flush deadline run out. */
static eg_outcome post_batch(ev_sink_t *s, const char *body, size_t len, size_t n)
{
    uint32_t attempts = 0;
    for (;;) {
        if (!wait_for_circuit(s))
            return EG_GAVE_UP;
        eg_outcome o = post_once(s, body, len, n, &attempts);
        if (o != EG_RETRY)
            return o;
    }
}

/* Send the serialized events items[0..m) in order, in as few requests as the limits allow. */
static void send_items(ev_sink_t *s, char **items, size_t *lens, size_t m)
{
    aos_event_publisher_t *p = s->pub;
    size_t off = 0, cap = p->batch_max;
    while (off < m) {
        size_t k = aos_eventgrid_plan_batch(lens + off, m - off, cap, p->max_request_bytes);
        char *body = NULL;
        size_t blen = 0;
        if (aos_eventgrid_join_batch(items + off, lens + off, k, &body, &blen) != AOS_OK) {
            ev_sink_count(s, false, k);
            off += k;
            continue;
        }
        eg_outcome o = post_batch(s, body, blen, k);
        free(body);
        if (o == EG_TOO_LARGE && k > 1) {
            cap = k / 2;
            continue;
        }
        if (o == EG_SENT)
            ev_sink_count(s, true, k);
        else if (o == EG_GAVE_UP)
            ev_sink_count_drop(s, s->m_drop_shutdown, k);
        else
            ev_sink_count(s, false, k);
        if (o == EG_TOO_LARGE)
            aos_log(AOS_LOG_ERROR, "event grid refused an event as too large", NULL);
        off += k;
        cap = p->batch_max;
    }
}

/* Serialize evs (freeing them); oversize or unencodable events are dropped and counted. */
static size_t serialize(ev_sink_t *s, aos_event_t **evs, size_t n, char **items, size_t *lens)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        char *json = NULL;
        if (aos_event_to_json(evs[i], &json) != AOS_OK) {
            aos_log(AOS_LOG_ERROR, "event not encodable as CloudEvents JSON", "id", evs[i]->id,
                    NULL);
            ev_sink_count(s, false, 1);
        } else if (!aos_eventgrid_event_fits(strlen(json), s->pub->max_request_bytes)) {
            char sz[24];
            snprintf(sz, sizeof sz, "%zu", strlen(json));
            aos_log(AOS_LOG_ERROR, "event over the event grid size limit, dropped", "id",
                    evs[i]->id, "type", evs[i]->type, "bytes", sz, NULL);
            ev_sink_count_drop(s, s->m_drop_large, 1);
            free(json);
        } else {
            items[m] = json;
            lens[m] = strlen(json);
            m++;
        }
        aos_event_free(evs[i]);
    }
    return m;
}

void *ev_eventgrid_worker(void *arg)
{
    ev_sink_t *s = arg;
    size_t max = s->pub->batch_max;
    aos_event_t **evs = calloc(max, sizeof *evs);
    char **items = calloc(max, sizeof *items);
    size_t *lens = calloc(max, sizeof *lens);
    if (!evs || !items || !lens) {
        aos_log(AOS_LOG_ERROR, "event grid worker out of memory", NULL);
        free(evs);
        free(items);
        free(lens);
        return NULL;
    }
    size_t n;
    while ((n = ev_sink_take(s, evs, max, s->pub->linger_ms)) > 0) {
        size_t m = serialize(s, evs, n, items, lens);
        send_items(s, items, lens, m);
        for (size_t i = 0; i < m; i++)
            free(items[i]);
    }
    free(evs);
    free(items);
    free(lens);
    return NULL;
}
