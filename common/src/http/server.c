/* HTTP server on libmicrohttpd: one internal epoll thread; deferred requests are suspended
 * MHD connections resumed by whichever thread answers them.
 *
 * Request life: the URI-log callback (first sight of a request) allocates the request with
 * one reference owned by MHD, released in the request-completed callback. Running a handler
 * adds a reference that aos_http_respond() releases. The access handler reads the body, runs
 * the handler, then either queues the answer or suspends the connection; an answer from
 * another thread resumes it and the next access-handler call queues the answer. */
#include <arpa/inet.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "aos/log.h"
#include "aos/trace.h"
#include "server_internal.h"

#define DEFAULT_MAX_BODY (1024 * 1024)
#define DEFAULT_REQUEST_TIMEOUT_MS 60000
#define DEFAULT_DEFERRED_TIMEOUT_MS 120000
#define DEFAULT_MAX_CONNECTIONS 4096
#define DEFAULT_MAX_HEADER (16 * 1024)
#define DEFAULT_MAX_BUFFERED (64u * 1024 * 1024)
/* libmicrohttpd's per-connection memory pool holds the raw header block. It is kept well
 * above max_header_bytes so that our JSON 431 answers oversize header blocks; only blocks
 * over the pool get libmicrohttpd's own 431 (docs/http-server.md). */
#define MHD_POOL_MIN (64 * 1024)

/* ---- configuration ---- */

static aos_result add_route(aos_http_server_t *srv, const char *method, const char *pattern,
                            aos_http_handler_fn fn, void *ctx, unsigned flags, char *errbuf,
                            size_t errlen)
{
    if (!method || !*method || !fn || (strcmp(method, "*") != 0 && !http_header_name_valid(method)))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "bad route method or handler");
    for (size_t i = 0; i < srv->nroutes; i++)
        if (strcmp(srv->routes[i].method, method) == 0 &&
            strcmp(srv->routes[i].pattern_text, pattern ? pattern : "") == 0)
            return aos_fail(AOS_ERR_CONFLICT, errbuf, errlen, "duplicate route %s %s", method,
                            pattern);
    route r = {.fn = fn, .ctx = ctx, .flags = flags};
    AOS_RETURN_IF_FAILED(http_pattern_parse(pattern, &r.pattern, errbuf, errlen));
    route *grown = realloc(srv->routes, (srv->nroutes + 1) * sizeof *grown);
    r.method = strdup(method);
    r.pattern_text = strdup(pattern);
    if (!grown || !r.method || !r.pattern_text) {
        if (grown)
            srv->routes = grown;
        free(r.method);
        free(r.pattern_text);
        http_pattern_free(&r.pattern);
        return AOS_ERR_NOMEM;
    }
    srv->routes = grown;
    srv->routes[srv->nroutes++] = r;
    return AOS_OK;
}

aos_result aos_http_server_new(const aos_http_server_config_t *cfg, aos_http_server_t **out_srv,
                               char *errbuf, size_t errlen)
{
    if (!cfg || !out_srv || !cfg->bind_addr)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "config with bind_addr required");
    aos_http_server_t *srv = calloc(1, sizeof *srv);
    if (!srv)
        return AOS_ERR_NOMEM;
    srv->listen_fd = -1;
    srv->bind_addr = strdup(cfg->bind_addr);
    srv->name = strdup(cfg->name ? cfg->name : "http");
    srv->max_body = cfg->max_body_bytes ? cfg->max_body_bytes : DEFAULT_MAX_BODY;
    srv->request_timeout_ms =
        cfg->request_timeout_ms ? cfg->request_timeout_ms : DEFAULT_REQUEST_TIMEOUT_MS;
    srv->deferred_timeout_ms =
        cfg->deferred_timeout_ms ? cfg->deferred_timeout_ms : DEFAULT_DEFERRED_TIMEOUT_MS;
    srv->max_connections = cfg->max_connections ? cfg->max_connections : DEFAULT_MAX_CONNECTIONS;
    srv->max_header = cfg->max_header_bytes ? cfg->max_header_bytes : DEFAULT_MAX_HEADER;
    srv->max_buffered = cfg->max_buffered_bytes ? cfg->max_buffered_bytes : DEFAULT_MAX_BUFFERED;
    atomic_init(&srv->buffered, 0);
    srv->builtins = cfg->builtins;
    srv->metrics = cfg->metrics ? cfg->metrics : aos_metrics_default();
    pthread_mutex_init(&srv->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&srv->cond, &ca);
    pthread_condattr_destroy(&ca);
    aos_result r = (srv->bind_addr && srv->name) ? AOS_OK : AOS_ERR_NOMEM;
    if (r == AOS_OK && (srv->builtins & AOS_HTTP_BUILTIN_HEALTHZ))
        r = add_route(srv, "GET", "/healthz", aos_http_builtin_healthz_, srv, 0, errbuf, errlen);
    if (r == AOS_OK && (srv->builtins & AOS_HTTP_BUILTIN_READYZ))
        r = add_route(srv, "GET", "/readyz", aos_http_builtin_readyz_, srv, 0, errbuf, errlen);
    if (r == AOS_OK && (srv->builtins & AOS_HTTP_BUILTIN_METRICS))
        r = add_route(srv, "GET", "/metrics", aos_http_builtin_metrics_, srv, 0, errbuf, errlen);
    if (r != AOS_OK) {
        aos_http_server_free(srv);
        return r;
    }
    srv->m_in_flight = aos_metrics_gauge(srv->metrics, "aos_http_requests_in_flight",
                                         "HTTP requests received and not yet answered.", "server",
                                         srv->name, NULL);
    *out_srv = srv;
    return AOS_OK;
}

aos_result aos_http_server_route(aos_http_server_t *srv, const char *method, const char *pattern,
                                 aos_http_handler_fn handler, void *ctx)
{
    return aos_http_server_route_ex(srv, method, pattern, handler, ctx, 0);
}

void aos_http_server_set_authorizer(aos_http_server_t *srv, aos_http_auth_fn fn, void *ctx)
{
    if (!srv || srv->started)
        return;
    srv->auth_fn = fn;
    srv->auth_ctx = ctx;
}

aos_result aos_http_server_route_ex(aos_http_server_t *srv, const char *method, const char *pattern,
                                    aos_http_handler_fn handler, void *ctx, unsigned flags)
{
    if (!srv || srv->started)
        return AOS_ERR_INVALID;
    char err[128];
    aos_result r = add_route(srv, method, pattern, handler, ctx, flags, err, sizeof err);
    if (r != AOS_OK)
        aos_log(AOS_LOG_WARN, "http route rejected", "server", srv->name, "pattern",
                pattern ? pattern : "(null)", "error", err, NULL);
    return r;
}

void aos_http_server_set_readiness(aos_http_server_t *srv, aos_http_ready_fn fn, void *ctx)
{
    if (!srv)
        return;
    srv->ready_fn = fn;
    srv->ready_ctx = ctx;
}

uint16_t aos_http_server_port(const aos_http_server_t *srv)
{
    return srv ? srv->port : 0;
}

/* ---- MHD callbacks ---- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    aos_http_server_t *srv = cls;
    aos_http_request_t *req = calloc(1, sizeof *req);
    if (!req)
        return NULL;
    req->srv = srv;
    req->conn = conn;
    req->refs = 1;
    req->raw_uri = strdup(uri ? uri : "");
    req->start_ns = aos_http_now_ns_();
    pthread_mutex_lock(&srv->mu);
    srv->mhd_thread = pthread_self();
    srv->mhd_thread_known = true;
    srv->in_flight++;
    srv->live_requests++;
    pthread_mutex_unlock(&srv->mu);
    aos_metric_gauge_inc(srv->m_in_flight);
    return req;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    (void)toe;
    aos_http_server_t *srv = cls;
    aos_http_request_t *req = *con_cls;
    if (!req)
        return;
    *con_cls = NULL;
    pthread_mutex_lock(&srv->mu);
    srv->in_flight--;
    pthread_cond_broadcast(&srv->cond);
    pthread_mutex_unlock(&srv->mu);
    aos_metric_gauge_dec(srv->m_in_flight);
    aos_http_request_release_(req);
}

static size_t keep_escapes(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s); /* we decode ourselves, per segment (http_parse.c) */
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    aos_http_server_t *srv = cls;
    char msg[256];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    aos_log(AOS_LOG_DEBUG, "libmicrohttpd", "server", srv->name, "detail", msg, NULL);
}

static const char *method_label(const char *m)
{
    static const char *const KNOWN[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"};
    for (size_t i = 0; i < sizeof KNOWN / sizeof KNOWN[0]; i++)
        if (m && strcmp(m, KNOWN[i]) == 0)
            return KNOWN[i];
    return "other";
}

static void record_metrics(aos_http_server_t *srv, aos_http_request_t *req, int status)
{
    const char *route = req->route ? req->route->pattern_text : "unmatched";
    char code[8];
    snprintf(code, sizeof code, "%d", status);
    aos_metric_counter_inc(aos_metrics_counter(
        srv->metrics, "aos_http_requests_total", "HTTP requests answered.", "server", srv->name,
        "method", method_label(req->method), "route", route, "status", code, NULL));
    double secs = (double)(aos_http_now_ns_() - req->start_ns) / 1e9;
    aos_metric_histogram_observe(
        aos_metrics_histogram(srv->metrics, "aos_http_request_duration_seconds",
                              "Time from request arrival to answer.", NULL, 0, "server", srv->name,
                              "route", route, NULL),
        secs);
}

/* On the MHD thread: hand the stored answer to MHD. */
static enum MHD_Result queue_answer(aos_http_server_t *srv, aos_http_request_t *req)
{
    pthread_mutex_lock(&srv->mu);
    struct MHD_Response *resp = req->response;
    int status = req->status;
    req->response = NULL;
    req->state = ST_QUEUED;
    pthread_mutex_unlock(&srv->mu);
    if (!resp)
        return MHD_NO;
    enum MHD_Result r = MHD_queue_response(req->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    record_metrics(srv, req, status);
    return r;
}

static enum MHD_Result early_error(aos_http_server_t *srv, aos_http_request_t *req, int status,
                                   const char *code, const char *message)
{
    /* The body (if any) is never read: the connection cannot carry another request. */
    if (req->has_body || status == 400 || status == 431)
        aos_http_response_header(req, "Connection", "close");
    if (status == 503)
        aos_http_response_header(req, "Retry-After", "1");
    req->phase = PHASE_HANDLED;
    if (aos_http_answer_error_(req, status, code, message) != AOS_OK)
        return MHD_NO;
    return queue_answer(srv, req);
}

/* Mid-body refusal. libmicrohttpd 0.9.75 only queues a response once the whole body is in
 * (MHD_queue_response fails while uploading), which an endless chunked body never is. So
 * the answer is written to the socket here, its write side shut (FIN after the answer), and
 * MHD_NO makes libmicrohttpd close the connection without reading the rest. */
static enum MHD_Result reject_mid_body(aos_http_server_t *srv, aos_http_request_t *req, int status,
                                       const char *code, const char *message)
{
    req->phase = PHASE_HANDLED;
    pthread_mutex_lock(&srv->mu);
    bool done = req->answered;
    req->answered = true;
    req->state = ST_QUEUED;
    pthread_mutex_unlock(&srv->mu);
    if (done)
        return MHD_NO;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    char body[256], head[512];
    int blen = snprintf(body, sizeof body, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}", code,
                        message); /* static ASCII without quotes or backslashes */
    int hlen = snprintf(head, sizeof head,
                        "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d"
                        "\r\n%sConnection: close\r\n\r\n%s",
                        status, status == 413 ? "Content Too Large" : "Service Unavailable", blen,
                        status == 503 ? "Retry-After: 1\r\n" : "", body);
    if (ci && hlen > 0 && (size_t)hlen < sizeof head) {
        /* A fresh answer on a connection whose earlier answers were written: it fits the
         * socket buffer; if not, the client sees the connection close. */
        (void)!send(ci->connect_fd, head, (size_t)hlen, MSG_NOSIGNAL | MSG_DONTWAIT);
        shutdown(ci->connect_fd, SHUT_WR);
    }
    record_metrics(srv, req, status);
    return MHD_NO;
}

static enum MHD_Result copy_header(void *cls, enum MHD_ValueKind kind, const char *name,
                                   const char *value)
{
    (void)kind;
    aos_http_request_t *req = cls;
    if (req->nheaders == req->cap_headers) {
        size_t cap = req->cap_headers ? req->cap_headers * 2 : 16;
        http_kv *kv = realloc(req->headers, cap * sizeof *kv);
        if (!kv)
            return MHD_NO;
        req->headers = kv;
        req->cap_headers = cap;
    }
    char *n = strdup(name ? name : ""), *v = strdup(value ? value : "");
    if (!n || !v) {
        free(n);
        free(v);
        return MHD_NO;
    }
    req->headers[req->nheaders].name = n;
    req->headers[req->nheaders++].value = v;
    return MHD_YES;
}

static void remote_addr(aos_http_request_t *req)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char ip[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    bool v6 = false;
    if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ci->client_addr;
        inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof ip);
        port = ntohs(sin->sin_port);
    } else if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ci->client_addr;
        inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof ip);
        port = ntohs(sin6->sin6_port);
        v6 = true;
    }
    snprintf(req->remote, sizeof req->remote, v6 ? "[%s]:%u" : "%s:%u", ip, port);
}

/* Pick the most specific route for the path; 405 if only other methods match. */
static int find_route(aos_http_server_t *srv, aos_http_request_t *req, char *allow,
                      size_t allow_len)
{
    unsigned best = 0;
    const char *m = strcmp(req->method, "HEAD") == 0 ? "GET" : req->method;
    http_kv params[HTTP_MAX_SEGMENTS];
    allow[0] = '\0';
    for (size_t i = 0; i < srv->nroutes; i++) {
        route *r = &srv->routes[i];
        size_t np = 0;
        unsigned score = http_pattern_match(&r->pattern, &req->target, params, &np);
        if (!score)
            continue;
        if (strcmp(r->method, "*") != 0 && strcmp(r->method, m) != 0 &&
            strcmp(r->method, req->method) != 0) {
            if (!strstr(allow, r->method) && strlen(allow) + strlen(r->method) + 3 < allow_len) {
                if (allow[0])
                    strcat(allow, ", ");
                strcat(allow, r->method);
            }
            continue;
        }
        if (score > best) {
            best = score;
            req->route = r;
            req->nparams = np;
            memcpy(req->params, params, np * sizeof params[0]);
        }
    }
    return req->route ? 200 : (allow[0] ? 405 : 404);
}

static enum MHD_Result begin_request(aos_http_server_t *srv, aos_http_request_t *req,
                                     const char *method)
{
    req->phase = PHASE_BODY;
    req->method = strdup(method ? method : "");
    if (!req->method || !req->raw_uri ||
        MHD_get_connection_values(req->conn, MHD_HEADER_KIND, copy_header, req) < 0)
        return MHD_NO;
    remote_addr(req);
    unsigned long long content_length = 0;
    http_verdict v = http_headers_check(req->method, req->raw_uri, req->headers, req->nheaders,
                                        srv->max_header, &req->has_body, &content_length);
    if (v.status)
        return early_error(srv, req, v.status, v.code, v.message);
    char err[128];
    if (http_target_parse(req->raw_uri, strlen(req->raw_uri), &req->target, err, sizeof err) !=
        AOS_OK)
        return early_error(srv, req, 400, "invalid_argument", err);
    char allow[128];
    int found = find_route(srv, req, allow, sizeof allow);
    if (found == 404)
        return early_error(srv, req, 404, "not_found", "no such resource");
    if (found == 405) {
        aos_http_response_header(req, "Allow", allow);
        return early_error(srv, req, 405, "method_not_allowed", "method not allowed here");
    }
    if ((req->route->flags & AOS_HTTP_ROUTE_AUTH) && srv->auth_fn) {
        char why[256] = "";
        aos_result r = srv->auth_fn(req, srv->auth_ctx, why, sizeof why);
        if (r != AOS_OK)
            return early_error(srv, req, aos_result_http_status(r), aos_result_code(r),
                               why[0] ? why : aos_result_str(r));
    }
    if ((req->route->flags & AOS_HTTP_ROUTE_JSON) && req->has_body &&
        !http_media_type_is_json(http_kv_find_ci(req->headers, req->nheaders, "Content-Type")))
        return early_error(srv, req, 415, "unsupported_media_type",
                           "the body must be JSON: Content-Type: application/json");
    if (content_length > srv->max_body)
        return early_error(srv, req, 413, "too_large", "request body too large");
    return MHD_YES;
}

static enum MHD_Result run_handler(aos_http_server_t *srv, aos_http_request_t *req)
{
    req->phase = PHASE_HANDLED;
    pthread_mutex_lock(&srv->mu);
    req->refs++;
    pthread_mutex_unlock(&srv->mu);
    /* the request's trace: the caller's traceparent continued, or a new trace (aos/trace.h) */
    char tp[AOS_TRACEPARENT_LEN + 1];
    aos_trace_child(aos_http_request_header(req, "traceparent"), tp);
    aos_trace_set(tp);
    req->route->fn(req, req->route->ctx);
    aos_trace_set(NULL);

    pthread_mutex_lock(&srv->mu);
    if (req->state == ST_READY) {
        pthread_mutex_unlock(&srv->mu);
        return queue_answer(srv, req);
    }
    if (srv->final) {
        pthread_mutex_unlock(&srv->mu);
        aos_http_answer_error_(req, 503, "unavailable", "server is shutting down");
        return queue_answer(srv, req);
    }
    req->state = ST_SUSPENDED;
    req->deadline_ns = aos_http_now_ns_() + (uint64_t)srv->deferred_timeout_ms * 1000000u;
    req->linked = true;
    req->dprev = srv->dtail;
    req->dnext = NULL;
    if (srv->dtail)
        srv->dtail->dnext = req;
    else
        srv->dhead = req;
    srv->dtail = req;
    if (srv->dhead == req)
        pthread_cond_broadcast(&srv->cond); /* the watchdog may sleep on an empty list */
    MHD_suspend_connection(req->conn);
    pthread_mutex_unlock(&srv->mu);
    return MHD_YES;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    (void)url;
    (void)version;
    (void)conn;
    aos_http_server_t *srv = cls;
    aos_http_request_t *req = *con_cls;
    if (!req)
        return MHD_NO;
    switch (req->phase) {
    case PHASE_NEW:
        return begin_request(srv, req, method);
    case PHASE_BODY:
        if (*upload_data_size) {
            int st = http_body_append(&req->body, upload_data, *upload_data_size, srv->max_body,
                                      &srv->buffered, srv->max_buffered);
            *upload_data_size = 0;
            if (st == 413) /* at once: an endless chunked body would never end */
                return reject_mid_body(srv, req, 413, "too_large", "request body too large");
            if (st)
                return reject_mid_body(srv, req, 503, "unavailable",
                                       "server busy: too many request bytes buffered");
            return MHD_YES;
        }
        return run_handler(srv, req);
    case PHASE_HANDLED:
        return queue_answer(srv, req);
    }
    return MHD_NO;
}

/* ---- deferred timeouts ---- */

/* Answer (with 503/504) every deferred request matching the predicate: expired ones, or
 * all. Called without srv->mu. */
static void answer_deferred(aos_http_server_t *srv, bool all, int status, const char *code,
                            const char *message)
{
    for (;;) {
        pthread_mutex_lock(&srv->mu);
        aos_http_request_t *req = srv->dhead;
        if (!req || (!all && req->deadline_ns > aos_http_now_ns_())) {
            pthread_mutex_unlock(&srv->mu);
            return;
        }
        req->refs++; /* keep it alive while we answer outside the lock */
        pthread_mutex_unlock(&srv->mu);
        aos_http_answer_error_(req, status, code, message); /* unlinks it */
        aos_http_request_release_(req);
    }
}

static void *watchdog_main(void *arg)
{
    aos_http_server_t *srv = arg;
    pthread_mutex_lock(&srv->mu);
    while (!srv->stopped) {
        if (srv->dhead && srv->dhead->deadline_ns <= aos_http_now_ns_()) {
            pthread_mutex_unlock(&srv->mu);
            answer_deferred(srv, false, 504, "timeout", "no answer within the deadline");
            pthread_mutex_lock(&srv->mu);
            continue;
        }
        uint64_t wake = srv->dhead ? srv->dhead->deadline_ns : aos_http_now_ns_() + 1000000000u;
        struct timespec ts = {.tv_sec = (time_t)(wake / 1000000000u),
                              .tv_nsec = (long)(wake % 1000000000u)};
        pthread_cond_timedwait(&srv->cond, &srv->mu, &ts);
    }
    pthread_mutex_unlock(&srv->mu);
    return NULL;
}

/* ---- lifecycle ---- */

aos_result aos_http_server_start(aos_http_server_t *srv, char *errbuf, size_t errlen)
{
    if (!srv || srv->started)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "server missing or already started");
    aos_http_raise_fd_limit_();
    bool v6 = false;
    AOS_RETURN_IF_FAILED(
        aos_http_listen_(srv->bind_addr, &srv->listen_fd, &srv->port, &v6, errbuf, errlen));
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
                     (v6 ? MHD_USE_IPv6 : 0);
    unsigned timeout_s = (srv->request_timeout_ms + 999) / 1000;
    srv->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, srv, MHD_OPTION_LISTEN_SOCKET, srv->listen_fd,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)(srv->max_header * 4 > MHD_POOL_MIN ? srv->max_header * 4 : MHD_POOL_MIN),
        MHD_OPTION_CONNECTION_TIMEOUT, timeout_s, MHD_OPTION_CONNECTION_LIMIT, srv->max_connections,
        MHD_OPTION_UNESCAPE_CALLBACK, keep_escapes, NULL, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log,
        srv, MHD_OPTION_END);
    if (!srv->daemon) {
        close(srv->listen_fd);
        srv->listen_fd = -1;
        return aos_fail(AOS_ERR_IO, errbuf, errlen, "libmicrohttpd failed to start on %s",
                        srv->bind_addr);
    }
    srv->started = true;
    srv->daemon_alive = true;
    if (pthread_create(&srv->watchdog, NULL, watchdog_main, srv) == 0)
        srv->watchdog_started = true;
    char port[8];
    snprintf(port, sizeof port, "%u", srv->port);
    aos_log(AOS_LOG_INFO, "http server listening", "server", srv->name, "addr", srv->bind_addr,
            "port", port, NULL);
    return AOS_OK;
}

/* Wait (srv->mu held) until no request is in flight or the deadline passes. */
static void wait_idle(aos_http_server_t *srv, uint64_t deadline)
{
    while (srv->in_flight > 0 && aos_http_now_ns_() < deadline) {
        struct timespec ts = {.tv_sec = (time_t)(deadline / 1000000000u),
                              .tv_nsec = (long)(deadline % 1000000000u)};
        pthread_cond_timedwait(&srv->cond, &srv->mu, &ts);
    }
}

/* stop/free from a handler would wait for the thread that is running it. */
static bool on_server_thread(aos_http_server_t *srv, const char *what)
{
    pthread_mutex_lock(&srv->mu);
    bool same = srv->mhd_thread_known && pthread_equal(srv->mhd_thread, pthread_self());
    pthread_mutex_unlock(&srv->mu);
    if (same)
        aos_log(AOS_LOG_ERROR, "called from a handler; ignored", "server", srv->name, "call", what,
                NULL);
    return same;
}

void aos_http_server_stop(aos_http_server_t *srv, int grace_ms)
{
    if (!srv)
        return;
    if (on_server_thread(srv, "aos_http_server_stop"))
        return;
    pthread_mutex_lock(&srv->mu);
    if (!srv->started || srv->stopping) {
        pthread_mutex_unlock(&srv->mu);
        return;
    }
    srv->stopping = true;
    pthread_mutex_unlock(&srv->mu);

    MHD_socket fd = MHD_quiesce_daemon(srv->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    srv->listen_fd = -1;

    uint64_t grace_end = aos_http_now_ns_() + (uint64_t)(grace_ms > 0 ? grace_ms : 0) * 1000000u;
    pthread_mutex_lock(&srv->mu);
    wait_idle(srv, grace_end);
    srv->final = true;
    pthread_mutex_unlock(&srv->mu);

    answer_deferred(srv, true, 503, "unavailable", "server is shutting down");

    /* Give the 503s a moment to be written before connections are closed. */
    pthread_mutex_lock(&srv->mu);
    wait_idle(srv, aos_http_now_ns_() + 1000000000u);
    srv->daemon_alive = false;
    while (srv->resumers > 0)
        pthread_cond_wait(&srv->cond, &srv->mu);
    pthread_mutex_unlock(&srv->mu);

    MHD_stop_daemon(srv->daemon);
    srv->daemon = NULL;

    pthread_mutex_lock(&srv->mu);
    srv->stopped = true;
    pthread_cond_broadcast(&srv->cond);
    pthread_mutex_unlock(&srv->mu);
    if (srv->watchdog_started)
        pthread_join(srv->watchdog, NULL);
    srv->watchdog_started = false;
    aos_log(AOS_LOG_INFO, "http server stopped", "server", srv->name, NULL);
}

aos_result aos_http_admin_start(const char *bind_addr, aos_http_ready_fn ready, void *ctx,
                                aos_http_server_t **out_srv, char *errbuf, size_t errlen)
{
    aos_http_server_config_t cfg = {
        .bind_addr = bind_addr, .builtins = AOS_HTTP_BUILTIN_ALL, .name = "admin"};
    aos_http_server_t *srv = NULL;
    *out_srv = NULL;
    AOS_RETURN_IF_FAILED(aos_http_server_new(&cfg, &srv, errbuf, errlen));
    if (ready)
        aos_http_server_set_readiness(srv, ready, ctx);
    aos_result r = aos_http_server_start(srv, errbuf, errlen);
    if (r != AOS_OK) {
        aos_http_server_free(srv);
        return r;
    }
    *out_srv = srv;
    return AOS_OK;
}

void aos_http_server_free(aos_http_server_t *srv)
{
    if (!srv || on_server_thread(srv, "aos_http_server_free"))
        return;
    aos_http_server_stop(srv, 0);
    pthread_mutex_lock(&srv->mu);
    srv->freed = true;
    bool now = srv->live_requests == 0;
    pthread_mutex_unlock(&srv->mu);
    if (now)
        aos_http_server_destroy_(srv);
}

void aos_http_server_destroy_(aos_http_server_t *srv)
{
    for (size_t i = 0; i < srv->nroutes; i++) {
        free(srv->routes[i].method);
        free(srv->routes[i].pattern_text);
        http_pattern_free(&srv->routes[i].pattern);
    }
    free(srv->routes);
    free(srv->bind_addr);
    free(srv->name);
    pthread_cond_destroy(&srv->cond);
    pthread_mutex_destroy(&srv->mu);
    free(srv);
}
