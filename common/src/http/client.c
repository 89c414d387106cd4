/* Asynchronous HTTP client: one thread drives one curl multi handle. Other threads prepare
 * an easy handle (not yet shared with anyone) and hand it over through a mutex-protected
 * queue plus curl_multi_wakeup(); the multi handle is used by the client thread only. */
#include "aos/http_client.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aos/log.h"
#include "http_parse.h"
#include "server_internal.h"
#include "aos/buf.h"

struct aos_http_headers {
    http_kv *kv; /* owned strings */
    size_t n, cap;
};

typedef struct pending {
    struct pending *next, *prev; /* submit queue, then the active list */
    uint64_t id;
    CURL *easy;
    struct curl_slist *hdrs;
    char *body;
    aos_http_done_fn done;
    aos_http_data_fn on_data;
    void *ctx;
    size_t max_bytes;
    aos_buf_t resp_body;
    struct aos_http_headers resp_headers;
    aos_result forced; /* set by our callbacks: TOO_LARGE, CANCELLED, NOMEM */
    char err[CURL_ERROR_SIZE];
} pending;

struct aos_http_client {
    /* mu: created with the thread by the first submission, so a service that never makes an
     * HTTP call never initializes libcurl and its TLS library (megabytes of RSS) */
    CURLM *multi;
    pthread_t thread;
    pthread_mutex_t mu;
    pending *qhead, *qtail; /* mu: submitted, not yet on the multi handle */
    uint64_t *cancels;      /* mu: ids to cancel */
    size_t ncancels, capcancels;
    bool stopping;   /* mu */
    pending *active; /* client thread only */
    _Atomic uint64_t next_id;
    _Atomic uint64_t connections;
    aos_http_client_config_t cfg;
    char *user_agent;
    char *ca_file;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- response headers ---- */

static void headers_clear(struct aos_http_headers *h)
{
    for (size_t i = 0; i < h->n; i++) {
        free((char *)h->kv[i].name);
        free((char *)h->kv[i].value);
    }
    h->n = 0;
}

static void headers_free(struct aos_http_headers *h)
{
    headers_clear(h);
    free(h->kv);
    h->kv = NULL;
    h->cap = 0;
}

static bool headers_add(struct aos_http_headers *h, const char *name, size_t nlen,
                        const char *value, size_t vlen)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        http_kv *kv = realloc(h->kv, cap * sizeof *kv);
        if (!kv)
            return false;
        h->kv = kv;
        h->cap = cap;
    }
    char *n = strndup(name, nlen), *v = strndup(value, vlen);
    if (!n || !v) {
        free(n);
        free(v);
        return false;
    }
    h->kv[h->n].name = n;
    h->kv[h->n++].value = v;
    return true;
}

const char *aos_http_response_get_header(const aos_http_response_t *resp, const char *name)
{
    if (!resp || !resp->headers)
        return NULL;
    return http_kv_find_ci(resp->headers->kv, resp->headers->n, name);
}

bool aos_http_response_header_at(const aos_http_response_t *resp, size_t index,
                                 const char **out_name, const char **out_value)
{
    if (!resp || !resp->headers || index >= resp->headers->n)
        return false;
    if (out_name)
        *out_name = resp->headers->kv[index].name;
    if (out_value)
        *out_value = resp->headers->kv[index].value;
    return true;
}

/* ---- curl callbacks (client thread) ---- */

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    pending *p = arg;
    size_t n = size * nmemb;
    if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        headers_clear(&p->resp_headers); /* a new (final or interim) response starts */
        return n;
    }
    const char *name, *value;
    size_t nlen, vlen;
    if (!http_header_line_parse(data, n, &name, &nlen, &value, &vlen))
        return n; /* blank line, folded continuation or junk: not a header we keep */
    if (!headers_add(&p->resp_headers, name, nlen, value, vlen)) {
        p->forced = AOS_ERR_NOMEM;
        return 0;
    }
    return n;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    pending *p = arg;
    size_t n = size * nmemb;
    if (p->on_data) {
        long status = 0;
        curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &status);
        if (!p->on_data((int)status, data, n, p->ctx)) {
            p->forced = AOS_ERR_CANCELLED;
            return 0;
        }
        return n;
    }
    if (n > p->max_bytes - p->resp_body.len) {
        p->forced = AOS_ERR_TOO_LARGE;
        return 0;
    }
    aos_buf_append(&p->resp_body, data, n);
    if (aos_buf_failed(&p->resp_body)) {
        p->forced = AOS_ERR_NOMEM;
        return 0;
    }
    return n;
}

/* ---- completion ---- */

static aos_result map_curl(CURLcode rc)
{
    switch (rc) {
    case CURLE_OK:
        return AOS_OK;
    case CURLE_OPERATION_TIMEDOUT:
        return AOS_ERR_TIMEOUT;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_BAD_FUNCTION_ARGUMENT:
        return AOS_ERR_INVALID;
    case CURLE_FILESIZE_EXCEEDED:
        return AOS_ERR_TOO_LARGE;
    case CURLE_ABORTED_BY_CALLBACK:
        return AOS_ERR_CANCELLED;
    case CURLE_OUT_OF_MEMORY:
        return AOS_ERR_NOMEM;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_BAD_CONTENT_ENCODING:
        return AOS_ERR_PROTOCOL;
    default:
        /* resolve, connect, send, receive, TLS, peer closed early: the endpoint is not
         * usable right now */
        return AOS_ERR_UNAVAILABLE;
    }
}

static void pending_free(pending *p)
{
    if (p->easy)
        curl_easy_cleanup(p->easy);
    curl_slist_free_all(p->hdrs);
    free(p->body);
    aos_buf_free(&p->resp_body);
    headers_free(&p->resp_headers);
    free(p);
}

static void complete(aos_http_client_t *c, pending *p, aos_result result, const char *detail)
{
    long status = 0;
    if (result == AOS_OK)
        curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &status);
    long conns = 0;
    if (p->easy && curl_easy_getinfo(p->easy, CURLINFO_NUM_CONNECTS, &conns) == CURLE_OK)
        atomic_fetch_add(&c->connections, (uint64_t)conns);
    aos_http_response_t resp = {
        .result = result,
        .status = (int)status,
        .body = p->resp_body.data && result == AOS_OK ? p->resp_body.data : "",
        .body_len = result == AOS_OK ? p->resp_body.len : 0,
        .error = result == AOS_OK ? "" : detail,
        .headers = &p->resp_headers,
    };
    p->done(&resp, p->ctx);
    pending_free(p);
}

static void finish_transfer(aos_http_client_t *c, CURL *easy, CURLcode rc)
{
    pending *p = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&p);
    curl_multi_remove_handle(c->multi, easy);
    if (p->prev)
        p->prev->next = p->next;
    else
        c->active = p->next;
    if (p->next)
        p->next->prev = p->prev;
    aos_result r = p->forced != AOS_OK ? p->forced : map_curl(rc);
    char detail[CURL_ERROR_SIZE + 64];
    if (r == AOS_ERR_TOO_LARGE && p->forced == AOS_ERR_TOO_LARGE)
        snprintf(detail, sizeof detail, "response body over %zu bytes", p->max_bytes);
    else if (p->forced == AOS_ERR_CANCELLED)
        snprintf(detail, sizeof detail, "stopped by the data callback");
    else
        snprintf(detail, sizeof detail, "%s%s%s", curl_easy_strerror(rc), p->err[0] ? ": " : "",
                 p->err);
    complete(c, p, r, detail);
}

/* ---- setup of one transfer (client thread) ---- */

static aos_result setup_easy(aos_http_client_t *c, pending *p, const char *method, const char *url,
                             size_t body_len, uint32_t timeout_ms, uint32_t connect_ms)
{
    CURL *e = p->easy = curl_easy_init();
    if (!e)
        return AOS_ERR_NOMEM;
    curl_easy_setopt(e, CURLOPT_PRIVATE, p);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, p->err);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)connect_ms);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
                     c->cfg.http2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, p);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, p);
    if (!p->on_data)
        curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)p->max_bytes);
    if (c->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
    if (c->cfg.tls_skip_verify) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "GET") != 0)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    if (body_len > 0 || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
        strcmp(method, "PATCH") == 0) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, p->body ? p->body : "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, p->hdrs);
    return AOS_OK;
}

static bool method_valid(const char *m)
{
    return m && strlen(m) < 32 && http_header_name_valid(m);
}

static aos_result build_headers(pending *p, const aos_http_client_request_t *req)
{
    for (size_t i = 0; i < req->header_count; i++) {
        const aos_http_header_t *h = &req->headers[i];
        if (!http_header_name_valid(h->name) || !http_header_value_valid(h->value))
            return AOS_ERR_INVALID;
        size_t n = strlen(h->name) + strlen(h->value) + 3;
        char *line = malloc(n);
        if (!line)
            return AOS_ERR_NOMEM;
        /* "Name;" is curl's way to send a header with an empty value */
        if (h->value[0])
            snprintf(line, n, "%s: %s", h->name, h->value);
        else
            snprintf(line, n, "%s;", h->name);
        struct curl_slist *l = curl_slist_append(p->hdrs, line);
        free(line);
        if (!l)
            return AOS_ERR_NOMEM;
        p->hdrs = l;
    }
    /* No "Expect: 100-continue" round trip for large bodies. */
    struct curl_slist *l = curl_slist_append(p->hdrs, "Expect:");
    if (!l)
        return AOS_ERR_NOMEM;
    p->hdrs = l;
    return AOS_OK;
}

static bool url_ok(const char *url)
{
    return url && (strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0) &&
           !strpbrk(url, " \r\n\t");
}

static void *client_main(void *arg);

/* The multi handle and the client thread, at the first submission (mu held). */
static aos_result client_start_locked(aos_http_client_t *c)
{
    c->multi = curl_multi_init();
    if (!c->multi)
        return AOS_ERR_NOMEM;
    curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)c->cfg.max_total_connections);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)c->cfg.max_total_connections);
    if (c->cfg.max_host_connections)
        curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                          (long)c->cfg.max_host_connections);
    curl_multi_setopt(c->multi, CURLMOPT_PIPELINING,
                      c->cfg.http2 ? (long)CURLPIPE_MULTIPLEX : (long)CURLPIPE_NOTHING);
    if (pthread_create(&c->thread, NULL, client_main, c) != 0) {
        curl_multi_cleanup(c->multi);
        c->multi = NULL;
        return AOS_ERR_INTERNAL;
    }
    return AOS_OK;
}

aos_result aos_http_client_submit(aos_http_client_t *client, const aos_http_client_request_t *req,
                                  aos_http_done_fn done, void *ctx, uint64_t *out_id)
{
    if (!client || !req || !done || !url_ok(req->url))
        return AOS_ERR_INVALID;
    pthread_once(&curl_once, curl_init_once);
    const char *method = req->method ? req->method : (req->body_len ? "POST" : "GET");
    if (!method_valid(method) || (req->body_len && !req->body))
        return AOS_ERR_INVALID;
    pending *p = calloc(1, sizeof *p);
    if (!p)
        return AOS_ERR_NOMEM;
    p->done = done;
    p->ctx = ctx;
    p->on_data = req->on_data;
    p->max_bytes =
        req->max_response_bytes ? req->max_response_bytes : client->cfg.default_max_response_bytes;
    aos_result r = build_headers(p, req);
    if (r == AOS_OK && req->body_len) {
        p->body = malloc(req->body_len);
        if (p->body)
            memcpy(p->body, req->body, req->body_len);
        else
            r = AOS_ERR_NOMEM;
    }
    if (r == AOS_OK)
        r = setup_easy(client, p, method, req->url, req->body_len,
                       req->timeout_ms ? req->timeout_ms : client->cfg.default_timeout_ms,
                       req->connect_timeout_ms ? req->connect_timeout_ms
                                               : client->cfg.default_connect_timeout_ms);
    if (r != AOS_OK) {
        pending_free(p);
        return r;
    }
    p->id = atomic_fetch_add(&client->next_id, 1) + 1;
    pthread_mutex_lock(&client->mu);
    if (!client->stopping && !client->multi)
        r = client_start_locked(client);
    if (client->stopping || r != AOS_OK) {
        pthread_mutex_unlock(&client->mu);
        pending_free(p);
        return r != AOS_OK ? r : AOS_ERR_CLOSED;
    }
    CURLM *multi = client->multi;
    if (client->qtail)
        client->qtail->next = p;
    else
        client->qhead = p;
    client->qtail = p;
    /* p may complete and be freed on the client thread as soon as the lock is released */
    if (out_id)
        *out_id = p->id;
    pthread_mutex_unlock(&client->mu);
    curl_multi_wakeup(multi);
    return AOS_OK;
}

void aos_http_client_cancel(aos_http_client_t *client, uint64_t id)
{
    if (!client || !id)
        return;
    pthread_mutex_lock(&client->mu);
    if (client->ncancels == client->capcancels) {
        size_t cap = client->capcancels ? client->capcancels * 2 : 16;
        uint64_t *ids = realloc(client->cancels, cap * sizeof *ids);
        if (!ids) {
            pthread_mutex_unlock(&client->mu);
            return;
        }
        client->cancels = ids;
        client->capcancels = cap;
    }
    client->cancels[client->ncancels++] = id;
    CURLM *multi = client->multi; /* NULL: nothing was ever submitted */
    pthread_mutex_unlock(&client->mu);
    if (multi)
        curl_multi_wakeup(multi);
}

/* ---- the client thread ---- */

static void cancel_active(aos_http_client_t *c, pending *p, const char *why)
{
    curl_multi_remove_handle(c->multi, p->easy);
    if (p->prev)
        p->prev->next = p->next;
    else
        c->active = p->next;
    if (p->next)
        p->next->prev = p->prev;
    complete(c, p, AOS_ERR_CANCELLED, why);
}

/* Take new submissions and cancellations; returns false when stopping. */
static bool take_work(aos_http_client_t *c)
{
    pthread_mutex_lock(&c->mu);
    pending *q = c->qhead;
    c->qhead = c->qtail = NULL;
    uint64_t *ids = c->cancels;
    size_t nids = c->ncancels;
    c->cancels = NULL;
    c->ncancels = c->capcancels = 0;
    bool stopping = c->stopping;
    pthread_mutex_unlock(&c->mu);
    while (q) {
        pending *p = q;
        q = q->next;
        p->prev = NULL;
        p->next = c->active;
        if (c->active)
            c->active->prev = p;
        c->active = p;
        CURLMcode mc = curl_multi_add_handle(c->multi, p->easy);
        if (mc != CURLM_OK) {
            c->active = p->next;
            if (p->next)
                p->next->prev = NULL;
            complete(c, p, AOS_ERR_NOMEM, curl_multi_strerror(mc));
        }
    }
    for (size_t i = 0; i < nids; i++)
        for (pending *p = c->active; p; p = p->next)
            if (p->id == ids[i]) {
                cancel_active(c, p, "cancelled");
                break;
            }
    free(ids);
    return !stopping;
}

static void *client_main(void *arg)
{
    aos_http_client_t *c = arg;
    while (take_work(c)) {
        int running = 0;
        curl_multi_perform(c->multi, &running);
        CURLMsg *m;
        int left = 0;
        while ((m = curl_multi_info_read(c->multi, &left)))
            if (m->msg == CURLMSG_DONE)
                finish_transfer(c, m->easy_handle, m->data.result);
        curl_multi_poll(c->multi, NULL, 0, 1000, NULL);
    }
    while (c->active)
        cancel_active(c, c->active, "client freed");
    return NULL;
}

/* ---- lifecycle ---- */

aos_result aos_http_client_new(const aos_http_client_config_t *cfg, aos_http_client_t **out_client,
                               char *errbuf, size_t errlen)
{
    if (!out_client)
        return AOS_ERR_INVALID;
    aos_http_raise_fd_limit_();
    aos_http_client_t *c = calloc(1, sizeof *c);
    if (!c)
        return AOS_ERR_NOMEM;
    if (cfg)
        c->cfg = *cfg;
    if (!c->cfg.max_total_connections)
        c->cfg.max_total_connections = 1024;
    if (!c->cfg.default_timeout_ms)
        c->cfg.default_timeout_ms = 30000;
    if (!c->cfg.default_connect_timeout_ms)
        c->cfg.default_connect_timeout_ms = 10000;
    if (!c->cfg.default_max_response_bytes)
        c->cfg.default_max_response_bytes = 16u * 1024 * 1024;
    c->user_agent = strdup(c->cfg.user_agent ? c->cfg.user_agent : "aos/1");
    c->ca_file = c->cfg.ca_file ? strdup(c->cfg.ca_file) : NULL;
    c->cfg.user_agent = c->cfg.ca_file = NULL;
    pthread_mutex_init(&c->mu, NULL);
    if (!c->user_agent || (cfg && cfg->ca_file && !c->ca_file)) {
        aos_http_client_free(c);
        return aos_fail(AOS_ERR_NOMEM, errbuf, errlen, "cannot create the HTTP client");
    }
    *out_client = c;
    return AOS_OK;
}

void aos_http_client_free(aos_http_client_t *client)
{
    if (!client)
        return;
    pthread_mutex_lock(&client->mu);
    CURLM *multi = client->multi;
    bool on_thread = multi && pthread_equal(pthread_self(), client->thread);
    bool started = !client->stopping && !on_thread;
    if (!on_thread)
        client->stopping = true; /* no thread is started from now on */
    pthread_mutex_unlock(&client->mu);
    if (on_thread) {
        aos_log(AOS_LOG_ERROR, "aos_http_client_free called on the client thread; ignored", NULL);
        return;
    }
    if (multi) {
        curl_multi_wakeup(client->multi);
        if (started && client->thread)
            pthread_join(client->thread, NULL);
        /* submissions that raced with stopping never reached the thread */
        for (pending *p = client->qhead, *n; p; p = n) {
            n = p->next;
            complete(client, p, AOS_ERR_CANCELLED, "client freed");
        }
        curl_multi_cleanup(client->multi);
    }
    free(client->cancels);
    free(client->user_agent);
    free(client->ca_file);
    pthread_mutex_destroy(&client->mu);
    free(client);
}

uint64_t aos_http_client_connections_opened(aos_http_client_t *client)
{
    return client ? atomic_load(&client->connections) : 0;
}

/* ---- synchronous wrapper ---- */

typedef struct sync_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    aos_http_response_t *resp;
} sync_wait;

typedef struct owned_resp {
    aos_http_response_t pub;
    struct aos_http_headers headers;
    char *body;
    char *error;
} owned_resp;

void aos_http_response_free(aos_http_response_t *resp)
{
    if (!resp)
        return;
    owned_resp *o = (owned_resp *)resp;
    headers_free(&o->headers);
    free(o->body);
    free(o->error);
    free(o);
}

static aos_http_response_t *copy_response(const aos_http_response_t *r)
{
    owned_resp *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->pub = *r;
    o->body = malloc(r->body_len + 1);
    o->error = strdup(r->error ? r->error : "");
    bool ok = o->body && o->error;
    if (o->body) {
        memcpy(o->body, r->body, r->body_len);
        o->body[r->body_len] = '\0';
    }
    for (size_t i = 0; ok && r->headers && i < r->headers->n; i++)
        ok = headers_add(&o->headers, r->headers->kv[i].name, strlen(r->headers->kv[i].name),
                         r->headers->kv[i].value, strlen(r->headers->kv[i].value));
    o->pub.body = o->body;
    o->pub.error = o->error;
    o->pub.headers = &o->headers;
    if (!ok) {
        aos_http_response_free(&o->pub);
        return NULL;
    }
    return &o->pub;
}

static void sync_done(const aos_http_response_t *resp, void *ctx)
{
    sync_wait *w = ctx;
    aos_http_response_t *copy = copy_response(resp);
    pthread_mutex_lock(&w->mu);
    w->resp = copy;
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

aos_result aos_http_client_do(aos_http_client_t *client, const aos_http_client_request_t *req,
                              aos_http_response_t **out_resp, char *errbuf, size_t errlen)
{
    if (!client || !out_resp || pthread_equal(pthread_self(), client->thread))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "aos_http_client_do needs a client and is not for the client thread");
    *out_resp = NULL;
    sync_wait w = {.done = false};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    aos_result r = aos_http_client_submit(client, req, sync_done, &w, NULL);
    if (r == AOS_OK) {
        pthread_mutex_lock(&w.mu);
        while (!w.done)
            pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
        if (!w.resp)
            r = AOS_ERR_NOMEM;
        else
            r = w.resp->result;
        if (w.resp && r != AOS_OK)
            aos_fail(r, errbuf, errlen, "%s", w.resp->error);
        *out_resp = w.resp;
    } else {
        aos_fail(r, errbuf, errlen, "request not accepted: %s", aos_result_str(r));
    }
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cv);
    return r;
}
