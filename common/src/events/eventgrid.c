/* Event Grid sink: batches of CloudEvents POSTed to a topic endpoint (CloudEvents v1.0
 * schema, "aeg-sas-key" auth), with retries, backoff honouring Retry-After and a circuit
 * breaker. Runs on the sink's worker thread, one request at a time; a request still running
 * when the flush deadline passes is cancelled. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* What the worker needs of one answer, copied on the HTTP client thread. */
typedef struct eg_answer {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    aos_result result;
    int status;
    char error[256];
    char detail[200];
    char retry_after[64], retry_after_ms[64];
    bool has_retry_after, has_retry_after_ms;
} eg_answer_t;

static void copy_header(const aos_http_response_t *resp, const char *name, char *out, size_t len,
                        bool *has)
{
    const char *v = aos_http_response_get_header(resp, name);
    *has = v != NULL;
    snprintf(out, len, "%s", v ? v : "");
}

static void on_answer(const aos_http_response_t *resp, void *ctx)
{
    eg_answer_t *a = ctx;
    pthread_mutex_lock(&a->mu);
    a->result = resp->result;
    a->status = resp->status;
    snprintf(a->error, sizeof a->error, "%s", resp->error ? resp->error : "");
    size_t n = resp->body_len < sizeof a->detail - 1 ? resp->body_len : sizeof a->detail - 1;
    memcpy(a->detail, resp->body ? resp->body : "", resp->body ? n : 0);
    a->detail[resp->body ? n : 0] = '\0';
    copy_header(resp, "retry-after", a->retry_after, sizeof a->retry_after, &a->has_retry_after);
    copy_header(resp, "retry-after-ms", a->retry_after_ms, sizeof a->retry_after_ms,
                &a->has_retry_after_ms);
    a->done = true;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

/* Submit req and wait for its answer; cancel it when the flush deadline passes. */
static void eg_do(ev_sink_t *s, const aos_http_client_request_t *req, eg_answer_t *a)
{
    aos_http_client_t *http = s->pub->http;
    uint64_t id = 0;
    aos_result r = aos_http_client_submit(http, req, on_answer, a, &id);
    if (r != AOS_OK) {
        a->result = r;
        a->done = true;
        return;
    }
    bool cancelled = false;
    pthread_mutex_lock(&a->mu);
    while (!a->done) {
        struct timespec ts = aos_clock_deadline(CLOCK_REALTIME, 100);
        pthread_cond_timedwait(&a->cv, &a->mu, &ts);
        if (!a->done && !cancelled && !ev_sink_alive(s)) {
            cancelled = true;
            pthread_mutex_unlock(&a->mu);
            aos_http_client_cancel(http, id);
            pthread_mutex_lock(&a->mu);
        }
    }
    pthread_mutex_unlock(&a->mu);
}

static void log_refusal(const eg_answer_t *a, size_t n)
{
    char st[16], cnt[24];
    snprintf(st, sizeof st, "%d", a->status);
    snprintf(cnt, sizeof cnt, "%zu", n);
    aos_log(AOS_LOG_ERROR, "event grid refused a batch", "status", st, "events", cnt, "detail",
            a->result == AOS_OK ? a->detail : a->error, NULL);
}

static eg_outcome classify(ev_sink_t *s, const eg_answer_t *a, size_t n, uint32_t attempts)
{
    aos_event_publisher_t *p = s->pub;
    bool retryable = a->result != AOS_OK || aos_retry_http_status_retryable(a->status);
    int64_t now = aos_clock_monotonic_ms();
    if (a->result == AOS_ERR_CANCELLED)
        aos_circuit_record_release(&p->circuit);
    else if (retryable)
        aos_circuit_record_failure(&p->circuit, now);
    else
        aos_circuit_record_success(&p->circuit, now);

    if (a->result == AOS_OK && a->status >= 200 && a->status < 300)
        return EG_SENT;
    if (retryable) {
        if (!aos_retry_may_retry(&p->retry, attempts)) {
            log_refusal(a, n);
            return EG_FAILED;
        }
        uint64_t delay = aos_retry_next_delay_ms(
            &p->retry, attempts, a->has_retry_after_ms ? a->retry_after_ms : NULL,
            a->has_retry_after ? a->retry_after : NULL, aos_clock_realtime_ms(), NULL, NULL);
        char st[16];
        snprintf(st, sizeof st, "%d", a->status);
        aos_log(AOS_LOG_WARN, "event grid post failed, retrying", "status", st, "error",
                a->result == AOS_OK ? "" : a->error, NULL);
        return ev_sink_sleep(s, delay) ? EG_RETRY : EG_GAVE_UP;
    }
    if (a->status == 413)
        return EG_TOO_LARGE;
    log_refusal(a, n);
    return EG_FAILED;
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
    eg_answer_t a = {.done = false};
    pthread_mutex_init(&a.mu, NULL);
    pthread_cond_init(&a.cv, NULL);
    eg_do(s, &req, &a);
    pthread_cond_destroy(&a.cv);
    pthread_mutex_destroy(&a.mu);
    (*attempts)++;
    return classify(s, &a, n, *attempts);
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
