/* HTTP server requests: accessors, answering (from any thread), built-in handlers, and the
 * listening socket. See server_internal.h for the locking rules. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "aos/log.h"
#include "server_internal.h"
#include "aos/buf.h"

uint64_t aos_http_now_ns_(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- accessors ---- */

const char *aos_http_request_method(const aos_http_request_t *req)
{
    return req && req->method ? req->method : "";
}

const char *aos_http_request_path(const aos_http_request_t *req)
{
    return req && req->target.path ? req->target.path : "";
}

const char *aos_http_request_route(const aos_http_request_t *req)
{
    return req && req->route ? req->route->pattern_text : "";
}

const char *aos_http_request_param(const aos_http_request_t *req, const char *name)
{
    if (!req || !name)
        return NULL;
    for (size_t i = 0; i < req->nparams; i++)
        if (strcmp(req->params[i].name, name) == 0)
            return req->params[i].value;
    return NULL;
}

const char *aos_http_request_query(const aos_http_request_t *req, const char *name)
{
    return req ? http_target_query(&req->target, name) : NULL;
}

const char *aos_http_request_header(const aos_http_request_t *req, const char *name)
{
    return req ? http_kv_find_ci(req->headers, req->nheaders, name) : NULL;
}

const char *aos_http_request_body(const aos_http_request_t *req, size_t *out_len)
{
    if (out_len)
        *out_len = req && req->body.buf ? req->body.len : 0;
    return req && req->body.buf ? req->body.buf : "";
}

const char *aos_http_request_remote_addr(const aos_http_request_t *req)
{
    return req ? req->remote : "";
}

/* ---- answering ---- */

static void free_kvs(http_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((char *)kv[i].name);
        free((char *)kv[i].value);
    }
    free(kv);
}

void aos_http_request_free_(aos_http_request_t *req)
{
    if (!req)
        return;
    if (req->response)
        MHD_destroy_response(req->response);
    free(req->raw_uri);
    free(req->method);
    http_target_free(&req->target);
    free_kvs(req->headers, req->nheaders);
    free_kvs(req->resp_headers, req->nresp_headers);
    aos_http_server_t *srv = req->srv;
    http_body_free(&req->body, &srv->buffered);
    free(req);
    pthread_mutex_lock(&srv->mu);
    bool destroy = --srv->live_requests == 0 && srv->freed;
    pthread_mutex_unlock(&srv->mu);
    if (destroy)
        aos_http_server_destroy_(srv);
}

void aos_http_request_release_(aos_http_request_t *req)
{
    aos_http_server_t *srv = req->srv;
    pthread_mutex_lock(&srv->mu);
    int left = --req->refs;
    pthread_mutex_unlock(&srv->mu);
    if (left == 0)
        aos_http_request_free_(req);
}

aos_result aos_http_response_add_header(aos_http_request_t *req, const char *name,
                                        const char *value)
{
    if (!req || !http_header_name_valid(name) || !http_header_value_valid(value))
        return AOS_ERR_INVALID;
    http_kv *kv = realloc(req->resp_headers, (req->nresp_headers + 1) * sizeof *kv);
    if (!kv)
        return AOS_ERR_NOMEM;
    req->resp_headers = kv;
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        return AOS_ERR_NOMEM;
    }
    kv[req->nresp_headers].name = n;
    kv[req->nresp_headers++].value = v;
    return AOS_OK;
}

static struct MHD_Response *build_response(aos_http_request_t *req, const char *content_type,
                                           const void *body, size_t len, bool close)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, len ? (void *)body : (void *)"",
                                                             MHD_RESPMEM_MUST_COPY);
    if (!r)
        return NULL;
    for (size_t i = 0; i < req->nresp_headers; i++)
        MHD_add_response_header(r, req->resp_headers[i].name, req->resp_headers[i].value);
    if (content_type && *content_type)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (close)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    return r;
}

aos_result aos_http_answer_(aos_http_request_t *req, int status, const char *content_type,
                            const void *body, size_t len)
{
    aos_http_server_t *srv = req->srv;
    if (status < 100 || status > 999 || (!body && len))
        return AOS_ERR_INVALID;
    pthread_mutex_lock(&srv->mu);
    bool done = req->answered, close = srv->stopping;
    pthread_mutex_unlock(&srv->mu);
    if (done)
        return AOS_ERR_CLOSED;
    struct MHD_Response *resp = build_response(req, content_type, body, len, close);
    if (!resp)
        return AOS_ERR_NOMEM;

    bool resume = false;
    pthread_mutex_lock(&srv->mu);
    if (req->answered) {
        pthread_mutex_unlock(&srv->mu);
        MHD_destroy_response(resp);
        return AOS_ERR_CLOSED;
    }
    req->answered = true;
    req->response = resp;
    req->status = status;
    if (req->state == ST_SUSPENDED) {
        if (req->linked) {
            if (req->dprev)
                req->dprev->dnext = req->dnext;
            else
                srv->dhead = req->dnext;
            if (req->dnext)
                req->dnext->dprev = req->dprev;
            else
                srv->dtail = req->dprev;
            req->linked = false;
            req->dprev = req->dnext = NULL;
        }
        resume = srv->daemon_alive;
        if (resume)
            srv->resumers++;
    }
    req->state = ST_READY;
    pthread_mutex_unlock(&srv->mu);

    if (resume) {
        /* Outside srv->mu: MHD takes its own lock here. The daemon stays alive while
         * resumers > 0 (aos_http_server_stop waits). */
        MHD_resume_connection(req->conn);
        pthread_mutex_lock(&srv->mu);
        if (--srv->resumers == 0)
            pthread_cond_broadcast(&srv->cond);
        pthread_mutex_unlock(&srv->mu);
    }
    return AOS_OK;
}

aos_result aos_http_respond(aos_http_request_t *req, int status, const char *content_type,
                            const void *body, size_t len)
{
    if (!req)
        return AOS_ERR_INVALID;
    aos_result r = aos_http_answer_(req, status, content_type, body, len);
    if (r == AOS_ERR_INVALID || r == AOS_ERR_NOMEM) {
        /* The holder's duty to answer cannot be left hanging: answer 500 instead. */
        static const char BAD[] =
            "{\"error\":{\"code\":\"internal\",\"message\":\"bad response\"}}";
        aos_http_answer_(req, 500, "application/json", BAD, sizeof BAD - 1);
    }
    aos_http_request_release_(req);
    return r;
}

aos_result aos_http_respond_json(aos_http_request_t *req, int status, const char *json)
{
    return aos_http_respond(req, status, "application/json", json, json ? strlen(json) : 0);
}

static char *error_body(const char *code, const char *message, size_t *out_len)
{
    aos_buf_t sb = {0};
    aos_buf_puts(&sb, "{\"error\":{\"code\":\"");
    aos_buf_json_escape(&sb, code ? code : "internal");
    aos_buf_puts(&sb, "\",\"message\":\"");
    aos_buf_json_escape(&sb, message ? message : "");
    aos_buf_puts(&sb, "\"}}");
    return aos_buf_take(&sb, out_len);
}

aos_result aos_http_answer_error_(aos_http_request_t *req, int status, const char *code,
                                  const char *message)
{
    size_t len = 0;
    char *body = error_body(code, message, &len);
    if (!body)
        return aos_http_answer_(req, 500, NULL, NULL, 0);
    aos_result r = aos_http_answer_(req, status, "application/json", body, len);
    free(body);
    return r;
}

aos_result aos_http_respond_error_status(aos_http_request_t *req, int status, const char *code,
                                         const char *message)
{
    if (!req)
        return AOS_ERR_INVALID;
    size_t len = 0;
    char *body = error_body(code, message, &len);
    if (!body)
        return aos_http_respond(req, 500, NULL, NULL, 0);
    aos_result r = aos_http_respond(req, status, "application/json", body, len);
    free(body);
    return r;
}

aos_result aos_http_respond_error(aos_http_request_t *req, aos_result r, const char *message)
{
    return aos_http_respond_error_status(req, aos_result_http_status(r), aos_result_code(r),
                                         message ? message : aos_result_str(r));
}

/* ---- built-ins ---- */

void aos_http_builtin_healthz_(aos_http_request_t *req, void *ctx)
{
    (void)ctx;
    aos_http_respond_json(req, 200, "{\"status\":\"ok\"}");
}

void aos_http_builtin_readyz_(aos_http_request_t *req, void *ctx)
{
    aos_http_server_t *srv = ctx;
    pthread_mutex_lock(&srv->mu);
    bool stopping = srv->stopping;
    pthread_mutex_unlock(&srv->mu);
    char reason[256] = "";
    bool ready =
        !stopping && (!srv->ready_fn || srv->ready_fn(srv->ready_ctx, reason, sizeof reason));
    if (ready) {
        aos_http_respond_json(req, 200, "{\"status\":\"ready\"}");
        return;
    }
    aos_buf_t sb = {0};
    aos_buf_puts(&sb, "{\"status\":\"not_ready\",\"reason\":\"");
    reason[sizeof reason - 1] = '\0';
    aos_buf_json_escape(&sb, stopping ? "shutting down" : reason);
    aos_buf_puts(&sb, "\"}");
    size_t len = 0;
    char *body = aos_buf_take(&sb, &len);
    aos_http_respond(req, 503, "application/json", body ? body : "{}", body ? len : 2);
    free(body);
}

void aos_http_builtin_metrics_(aos_http_request_t *req, void *ctx)
{
    aos_http_server_t *srv = ctx;
    char *text = NULL;
    size_t len = 0;
    aos_result r = aos_metrics_render(srv->metrics, &text, &len);
    if (r != AOS_OK) {
        aos_http_respond_error(req, r, "cannot render metrics");
        return;
    }
    aos_http_respond(req, 200, AOS_METRICS_CONTENT_TYPE, text, len);
    free(text);
}

/* ---- listening socket ---- */

static aos_result split_addr(const char *addr, char *host, size_t hostlen, char *port,
                             size_t portlen, char *errbuf, size_t errlen)
{
    const char *colon;
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (!close || close[1] != ':')
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "bad address '%s'", addr);
        if ((size_t)(close - addr - 1) >= hostlen)
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "address too long");
        memcpy(host, addr + 1, (size_t)(close - addr - 1));
        host[close - addr - 1] = '\0';
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon || (size_t)(colon - addr) >= hostlen)
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "address '%s' is not host:port", addr);
        memcpy(host, addr, (size_t)(colon - addr));
        host[colon - addr] = '\0';
    }
    const char *p = colon + 1;
    size_t n = strlen(p);
    if (n == 0 || n >= portlen || strspn(p, "0123456789") != n || atol(p) > 65535)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "bad port in '%s'", addr);
    memcpy(port, p, n + 1);
    return AOS_OK;
}

aos_result aos_http_listen_(const char *addr, int *out_fd, uint16_t *out_port, bool *out_v6,
                            char *errbuf, size_t errlen)
{
    char host[256], port[8];
    if (!addr)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "no bind address");
    AOS_RETURN_IF_FAILED(split_addr(addr, host, sizeof host, port, sizeof port, errbuf, errlen));
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    if (strcmp(host, "localhost") != 0)
        hints.ai_flags |= AI_NUMERICHOST;
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(host[0] ? host : "0.0.0.0", port, &hints, &ai);
    if (gai != 0)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "bad address '%s': %s", addr,
                        gai_strerror(gai));
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return aos_fail(e == EADDRINUSE ? AOS_ERR_CONFLICT : AOS_ERR_IO, errbuf, errlen,
                        "cannot listen on %s: %s", addr, strerror(e));
    }
    *out_v6 = ai->ai_family == AF_INET6;
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *out_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    *out_fd = fd;
    return AOS_OK;
}

static void raise_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

void aos_http_raise_fd_limit_(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, raise_limit);
}
