/* aos/http_server.h: an HTTP/1.1 server on libmicrohttpd with a route table, deferred
 * (asynchronous) responses, size limits, probes, metrics and graceful shutdown.
 *
 * Threads. The server runs one internal polling thread (epoll) that accepts connections,
 * reads requests and calls handlers. Handlers therefore MUST NOT block: answer at once, or
 * return without answering to DEFER the request and answer it later from any thread.
 * A deferred request costs no thread (libmicrohttpd suspend/resume), so thousands may wait
 * (e.g. the router waiting up to 30 s for a bus reply).
 *
 * Answering. Every request is answered EXACTLY ONCE with aos_http_respond() (or a helper
 * below), from the handler or later from any thread. The request object stays valid until
 * it is answered, even if the client went away, the deferred timeout fired or the server
 * stopped or was freed: in those cases aos_http_respond() returns AOS_ERR_CLOSED and just
 * releases the request (the server's memory lives until its last request is released).
 * Do not touch a request after answering it.
 *
 * Bodies. The request body is read completely before the handler runs; a body larger than
 * max_body_bytes (declared by Content-Length or seen while reading a chunked body) is
 * answered with 413 {"error":{"code":"too_large",…}} as soon as the limit passes, without
 * buffering past it, and the connection is closed; the handler never sees it.
 *
 * Framing and header checks (before the body): conflicting Content-Length values, both
 * Content-Length and Transfer-Encoding, or more than one Authorization header get 400; a
 * header block over max_header_bytes gets 431; route flags (AOS_HTTP_ROUTE_AUTH/JSON) run
 * the authorizer and the media-type check. Every such answer closes the connection.
 *
 * Errors are JSON in the docs/design.md §4 form {"error":{"code":"…","message":"…"}}: unknown paths
 * get 404 not_found, a known path with another method 405 (with an Allow header).
 *
 * Built-ins (enabled per server by config.builtins): GET /healthz -> 200 {"status":"ok"};
 * GET /readyz -> 200 / 503 from the readiness callback; GET /metrics -> Prometheus text of
 * config.metrics. Each server records, in config.metrics:
 *   aos_http_requests_total{server,method,route,status}   counter
 *   aos_http_request_duration_seconds{server,route}        histogram (arrival -> answer)
 *   aos_http_requests_in_flight{server}                     gauge
 * where route is the matched pattern (e.g. "/v1/conversations/{id}") or "unmatched".
 *
 * A service usually runs two servers: the API on AOS_HTTP_ADDR (builtins 0 or just
 * HEALTHZ) and the admin server on AOS_ADMIN_ADDR (AOS_HTTP_BUILTIN_ALL, no routes).
 */
#ifndef AOS_HTTP_SERVER_H
#define AOS_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aos/metrics.h"
#include "aos/http_header.h"
#include "aos/result.h"

typedef struct aos_http_server aos_http_server_t;
typedef struct aos_http_request aos_http_request_t;

enum {
    AOS_HTTP_BUILTIN_HEALTHZ = 1 << 0,
    AOS_HTTP_BUILTIN_READYZ = 1 << 1,
    AOS_HTTP_BUILTIN_METRICS = 1 << 2,
    AOS_HTTP_BUILTIN_ALL = 7,
};

typedef struct aos_http_server_config {
    /* "host:port", "[v6addr]:port" or ":port" (all interfaces); host is an IP literal or
     * "localhost". Port 0 picks an ephemeral port (see aos_http_server_port()). */
    const char *bind_addr;
    /* Request bodies above this get 413. 0: 1 MiB. */
    size_t max_body_bytes;
    /* A connection that sends nothing for this long is closed (slow clients). 0: 60 s. */
    uint32_t request_timeout_ms;
    /* A deferred request not answered within this gets 504 {"code":"timeout"} from the
     * server (a safety net; services keep their own shorter deadline). 0: 120 s. */
    uint32_t deferred_timeout_ms;
    /* Maximum simultaneous connections. 0: 4096. */
    unsigned max_connections;
    /* Request line plus header fields above this get 431 (JSON error). 0: 16 KiB. */
    size_t max_header_bytes;
    /* Request bodies held at once, over all connections (bodies of deferred requests count
     * until answered). A body that would pass it gets 503 {"code":"unavailable"} with
     * Retry-After and the connection is closed. 0: 64 MiB. */
    size_t max_buffered_bytes;
    /* AOS_HTTP_BUILTIN_* flags. */
    unsigned builtins;
    /* Name used in logs and the "server" metric label, e.g. "api", "admin". NULL: "http". */
    const char *name;
    /* Registry for the server's own metrics and for /metrics. NULL: the default registry. */
    aos_metrics_t *metrics;
} aos_http_server_config_t;

/* Route flags (aos_http_server_route_ex), checked from the header block alone, before any
 * byte of the body is read:
 *   AOS_HTTP_ROUTE_AUTH  the server's authorizer must accept the request (else its error,
 *                        e.g. 401, and the body is never read);
 *   AOS_HTTP_ROUTE_JSON  a request with a body must declare a JSON media type
 *                        (application/json or application/<x>+json, any parameters), else
 *                        415 unsupported_media_type: a cross-site form or text/plain POST
 *                        never reaches the handler. */
enum {
    AOS_HTTP_ROUTE_AUTH = 1 << 0,
    AOS_HTTP_ROUTE_JSON = 1 << 1,
};

/* Called on the server thread with the headers only (no body yet); must not block and must
 * not answer req. Return AOS_OK to let the request in; otherwise the server answers with
 * aos_result_http_status(r) and why as the message (response headers such as
 * WWW-Authenticate may be added with aos_http_response_header first). */
typedef aos_result (*aos_http_auth_fn)(aos_http_request_t *req, void *ctx, char *why,
                                       size_t why_len);

/* Called on the server thread; must answer req (now or later, from any thread). */
typedef void (*aos_http_handler_fn)(aos_http_request_t *req, void *ctx);

/* Called on the server thread for GET /readyz; must not block. Return true when ready; on
 * false, write a short reason (it goes into the 503 body). */
typedef bool (*aos_http_ready_fn)(void *ctx, char *reason, size_t reason_len);

/* Create a server (not listening yet). cfg strings are copied. */
aos_result aos_http_server_new(const aos_http_server_config_t *cfg, aos_http_server_t **out_srv,
                               char *errbuf, size_t errlen);

/* Add a route (before aos_http_server_start; not thread-safe). method is an HTTP method
 * ("GET", "POST", …; "*" for any). pattern is an absolute path whose segments are literals
 * or "{name}" parameters matching one non-empty segment, e.g. "/v1/agents/{agent}/act".
 * Literal segments win over parameters; the first added route wins among equals.
 * AOS_ERR_INVALID for a malformed pattern, AOS_ERR_CONFLICT for a duplicate method+pattern. */
aos_result aos_http_server_route(aos_http_server_t *srv, const char *method, const char *pattern,
                                 aos_http_handler_fn handler, void *ctx);

/* As aos_http_server_route, with AOS_HTTP_ROUTE_* flags. */
aos_result aos_http_server_route_ex(aos_http_server_t *srv, const char *method, const char *pattern,
                                    aos_http_handler_fn handler, void *ctx, unsigned flags);

/* The authorizer for AOS_HTTP_ROUTE_AUTH routes (before start). Without one they are open. */
void aos_http_server_set_authorizer(aos_http_server_t *srv, aos_http_auth_fn fn, void *ctx);

/* Readiness for /readyz (before start). Without one, /readyz answers 200 while running. */
void aos_http_server_set_readiness(aos_http_server_t *srv, aos_http_ready_fn fn, void *ctx);

/* Bind and start serving. */
aos_result aos_http_server_start(aos_http_server_t *srv, char *errbuf, size_t errlen);

/* A service's admin server on bind_addr (AOS_ADMIN_ADDR): the built-ins only (/healthz,
 * /readyz from ready(ctx), may be NULL; /metrics), started. On failure nothing runs and
 * *out_srv is NULL. Free with aos_http_server_free. */
aos_result aos_http_admin_start(const char *bind_addr, aos_http_ready_fn ready, void *ctx,
                                aos_http_server_t **out_srv, char *errbuf, size_t errlen);

/* The bound port (useful with port 0), 0 before start. */
uint16_t aos_http_server_port(const aos_http_server_t *srv);

/* Graceful stop (not from a handler): stop accepting connections, make /readyz answer 503,
 * let in-flight and deferred requests be answered for up to grace_ms, then answer the rest
 * with 503 {"code":"unavailable"} and stop the server thread. Idempotent. */
void aos_http_server_stop(aos_http_server_t *srv, int grace_ms);

/* Stops (grace 0) if needed and frees. NULL is a no-op. */
void aos_http_server_free(aos_http_server_t *srv);

/* ---- request accessors: the returned strings are borrowed, valid until the request is
 * answered. Callable from whichever thread currently holds the request. ---- */

const char *aos_http_request_method(const aos_http_request_t *req);
/* The %-decoded path without the query string. */
const char *aos_http_request_path(const aos_http_request_t *req);
/* The matched route pattern ("/v1/conversations/{id}"). */
const char *aos_http_request_route(const aos_http_request_t *req);
/* A path parameter by name (%-decoded), NULL if the route has none by that name. */
const char *aos_http_request_param(const aos_http_request_t *req, const char *name);
/* The first query parameter by name (%-decoded, '+' as space), NULL if absent. */
const char *aos_http_request_query(const aos_http_request_t *req, const char *name);
/* A request header by name, case-insensitive; NULL if absent. */
const char *aos_http_request_header(const aos_http_request_t *req, const char *name);
/* The body (NUL-terminated for convenience; may contain NULs); *out_len gets its length. */
const char *aos_http_request_body(const aos_http_request_t *req, size_t *out_len);
/* Remote address "ip:port" ("[v6]:port" for IPv6). */
const char *aos_http_request_remote_addr(const aos_http_request_t *req);

/* ---- answering: from the handler or, after deferring, from any thread ---- */

/* Add a response header for the coming answer (call before aos_http_respond, from the thread
 * that will answer). Strings are copied; CR/LF in name or value gives AOS_ERR_INVALID.
 * Also spelled aos_http_response_header(req, name, value) (see the end of this file). */
aos_result aos_http_response_add_header(aos_http_request_t *req, const char *name,
                                        const char *value);

/* Answer with status and body (copied; body may be NULL with len 0; content_type may be NULL
 * for none). Releases req. AOS_ERR_CLOSED if the request can no longer be answered (client
 * gone, deferred timeout, server stopped): req is released all the same. */
aos_result aos_http_respond(aos_http_request_t *req, int status, const char *content_type,
                            const void *body, size_t len);

/* aos_http_respond with Content-Type application/json and a NUL-terminated body. */
aos_result aos_http_respond_json(aos_http_request_t *req, int status, const char *json);

/* {"error":{"code":aos_result_code(r),"message":message}} with aos_result_http_status(r).
 * message is JSON-escaped; NULL uses aos_result_str(r). */
aos_result aos_http_respond_error(aos_http_request_t *req, aos_result r, const char *message);

/* The same with an explicit status and code (e.g. 405, "method_not_allowed"). */
aos_result aos_http_respond_error_status(aos_http_request_t *req, int status, const char *code,
                                         const char *message);

#endif
