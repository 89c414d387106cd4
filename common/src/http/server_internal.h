/* server_internal.h: shared between server.c (daemon, callbacks, lifecycle) and
 * request.c (request accessors, answering, built-in handlers). Internal to aos_http.
 *
 * Locking: one mutex per server (srv->mu) guards request state, refcounts, the deferred
 * list and the counters below. No libmicrohttpd call that may take MHD's own locks is made
 * while holding it, except MHD_suspend_connection on the MHD thread (see server.c). */
#ifndef AOS_HTTP_SERVER_INTERNAL_H
#define AOS_HTTP_SERVER_INTERNAL_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "aos/http_server.h"
#include "http_check.h"
#include "http_parse.h"

typedef enum {
    PHASE_NEW,     /* headers not looked at yet */
    PHASE_BODY,    /* reading the body */
    PHASE_HANDLED, /* handler ran (or an early answer was made): next call queues the answer */
} req_phase;

typedef enum {
    ST_OPEN,      /* not answered, not suspended */
    ST_SUSPENDED, /* deferred: MHD connection suspended, on the deferred list */
    ST_READY,     /* answered: response waits to be queued on the MHD thread */
    ST_QUEUED,    /* response handed to MHD */
} req_state;

typedef struct route {
    char *method;
    char *pattern_text;
    http_pattern pattern;
    aos_http_handler_fn fn;
    void *ctx;
    unsigned flags; /* AOS_HTTP_ROUTE_* */
} route;

struct aos_http_request {
    aos_http_server_t *srv;
    struct MHD_Connection *conn;
    int refs;        /* srv->mu: 1 for MHD (until completed) + 1 while a handler holds it */
    req_state state; /* srv->mu */
    bool answered;   /* srv->mu */
    bool linked;     /* srv->mu: on the deferred list */
    req_phase phase; /* MHD thread only */
    struct MHD_Response *response; /* srv->mu, set when answered */
    int status;
    uint64_t start_ns;
    uint64_t deadline_ns;
    aos_http_request_t *dprev, *dnext;

    char *raw_uri;
    char *method;
    http_target target;
    const route *route;
    http_kv params[HTTP_MAX_SEGMENTS];
    size_t nparams;
    http_kv *headers; /* owned strings */
    size_t nheaders, cap_headers;
    http_body body; /* its cap counts in srv->buffered */
    bool has_body;  /* MHD thread only: Content-Length > 0 or Transfer-Encoding */
    char remote[64];
    http_kv *resp_headers; /* owned strings, added by the holder before answering */
    size_t nresp_headers;
};

struct aos_http_server {
    char *bind_addr;
    char *name;
    size_t max_body;
    uint32_t request_timeout_ms;
    uint32_t deferred_timeout_ms;
    unsigned max_connections;
    size_t max_header;
    size_t max_buffered;
    _Atomic size_t buffered; /* sum of body_cap over live requests */
    aos_http_auth_fn auth_fn;
    void *auth_ctx;
    unsigned builtins;
    aos_metrics_t *metrics;
    aos_http_ready_fn ready_fn;
    void *ready_ctx;

    route *routes;
    size_t nroutes;

    struct MHD_Daemon *daemon;
    int listen_fd;
    uint16_t port;

    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool started;
    bool stopping;     /* readiness 503, Connection: close */
    bool final;        /* grace over: new deferrals are answered 503 at once */
    bool daemon_alive; /* MHD_resume_connection allowed */
    bool stopped;
    int resumers; /* threads inside MHD_resume_connection */
    int in_flight;
    int live_requests; /* request objects not yet freed (they point at routes) */
    bool freed;        /* aos_http_server_free ran: the last request frees the server */
    aos_http_request_t *dhead, *dtail; /* deferred, in deadline order */
    pthread_t mhd_thread;              /* set on the first request: stop() must not run on it */
    bool mhd_thread_known;
    pthread_t watchdog;
    bool watchdog_started;

    aos_metric_gauge_t *m_in_flight;
};

uint64_t aos_http_now_ns_(void);

/* Build the MHD response for req (its added headers + content type) and hand it over.
 * Does not release the holder's reference. AOS_ERR_CLOSED if already answered. */
aos_result aos_http_answer_(aos_http_request_t *req, int status, const char *content_type,
                            const void *body, size_t len);
aos_result aos_http_answer_error_(aos_http_request_t *req, int status, const char *code,
                                  const char *message);
/* Drop one reference (srv->mu NOT held); frees the request at zero. */
void aos_http_request_release_(aos_http_request_t *req);
void aos_http_request_free_(aos_http_request_t *req);
/* Free the server's memory (routes, locks) once no request refers to it. */
void aos_http_server_destroy_(aos_http_server_t *srv);

/* Built-in handlers (ctx = server). */
void aos_http_builtin_healthz_(aos_http_request_t *req, void *ctx);
void aos_http_builtin_readyz_(aos_http_request_t *req, void *ctx);
void aos_http_builtin_metrics_(aos_http_request_t *req, void *ctx);

/* Parse "host:port" and open a listening socket. */
aos_result aos_http_listen_(const char *addr, int *out_fd, uint16_t *out_port, bool *out_v6,
                            char *errbuf, size_t errlen);

/* Raise RLIMIT_NOFILE's soft limit to the hard limit (once per process). */
void aos_http_raise_fd_limit_(void);

#endif
