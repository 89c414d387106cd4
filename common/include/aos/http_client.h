/* aos/http_client.h: an asynchronous HTTP client on the libcurl multi interface.
 *
 * One aos_http_client_t owns one worker thread driving one curl multi handle: many requests
 * run concurrently on it without a thread each, and connections are reused (keep-alive,
 * HTTP/1.1; HTTP/2 over TLS when config.http2 and libcurl supports it). Use one client per
 * service (or per endpoint family) and share it.
 *
 * Threads.
 *   - aos_http_client_submit() and aos_http_client_cancel() are thread-safe, callable from
 *     any thread including from completion callbacks.
 *   - Completion and data callbacks run ON THE CLIENT THREAD. They must not block (hand
 *     long work to your own thread); they must not call aos_http_client_do() or _free().
 *   - aos_http_client_do() blocks the caller; never call it on the client thread.
 *   - aos_http_client_free() cancels what is still pending: each pending request's
 *     completion callback runs once with AOS_ERR_CANCELLED before free returns.
 *
 * Results. resp->result is AOS_OK when an HTTP response arrived, whatever its status (the
 * caller decides what 4xx/5xx means). Otherwise: AOS_ERR_TIMEOUT (connect or total timeout),
 * AOS_ERR_UNAVAILABLE (DNS, refused, reset, TLS), AOS_ERR_TOO_LARGE (response body over
 * max_response_bytes), AOS_ERR_CANCELLED (cancelled / client freed / data callback said
 * stop), AOS_ERR_INVALID (bad URL or method), AOS_ERR_PROTOCOL (malformed response);
 * resp->error has the curl detail.
 */
#ifndef AOS_HTTP_CLIENT_H
#define AOS_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aos/http_header.h"
#include "aos/result.h"

typedef struct aos_http_client aos_http_client_t;
typedef struct aos_http_headers aos_http_headers_t;

typedef struct aos_http_header {
    const char *name;
    const char *value;
} aos_http_header_t;

typedef struct aos_http_client_config {
    /* Connection pool size across all hosts (CURLMOPT_MAX_TOTAL_CONNECTIONS). 0: 1024.
     * Requests beyond it queue inside the client until a connection frees up. */
    unsigned max_total_connections;
    /* Per host (CURLMOPT_MAX_HOST_CONNECTIONS). 0: no per-host limit beyond the total. */
    unsigned max_host_connections;
    /* Allow HTTP/2 (negotiated by ALPN over TLS only). Default false: HTTP/1.1. */
    bool http2;
    /* Defaults for requests that leave these 0: 30 s total, 10 s connect, 16 MiB body. */
    uint32_t default_timeout_ms;
    uint32_t default_connect_timeout_ms;
    size_t default_max_response_bytes;
    /* User-Agent when the request sets none. NULL: "aos/1". */
    const char *user_agent;
    /* TLS: CA bundle (NULL: system store); skip verification (tests against self-signed). */
    const char *ca_file;
    bool tls_skip_verify;
} aos_http_client_config_t;

typedef struct aos_http_response {
    aos_result result; /* see "Results" above */
    int status;        /* HTTP status, 0 when no response arrived */
    const char *body;  /* NUL-terminated (may contain NULs); "" when none or streamed */
    size_t body_len;
    const char *error;                 /* detail when result != AOS_OK, else "" */
    const aos_http_headers_t *headers; /* response headers of the final response */
} aos_http_response_t;

/* Completion: called exactly once per submitted request, on the client thread. resp and
 * everything it points to are borrowed for the duration of the call. */
typedef void (*aos_http_done_fn)(const aos_http_response_t *resp, void *ctx);

/* Streaming (e.g. SSE): called on the client thread for each chunk of the body as it
 * arrives, after the status line and headers (status is the final HTTP status). Return
 * false to abort the request (completion then gets AOS_ERR_CANCELLED). When set, the body
 * is not buffered and max_response_bytes does not apply. */
typedef bool (*aos_http_data_fn)(int status, const char *data, size_t len, void *ctx);

typedef struct aos_http_client_request {
    const char *method; /* "GET", "POST", …; NULL: GET, or POST when body_len > 0 */
    const char *url;    /* http:// or https:// */
    const aos_http_header_t *headers;
    size_t header_count;
    const void *body;
    size_t body_len;
    uint32_t timeout_ms;         /* total; 0: client default */
    uint32_t connect_timeout_ms; /* 0: client default */
    size_t max_response_bytes;   /* 0: client default */
    aos_http_data_fn on_data;    /* optional */
} aos_http_client_request_t;

/* Create a client and start its thread. cfg may be NULL for defaults. */
aos_result aos_http_client_new(const aos_http_client_config_t *cfg, aos_http_client_t **out_client,
                               char *errbuf, size_t errlen);

/* Cancel everything pending (callbacks get AOS_ERR_CANCELLED), stop the thread, free.
 * NULL is a no-op. Not from the client thread. */
void aos_http_client_free(aos_http_client_t *client);

/* Queue a request. Everything in req is copied, so the caller may free it on return.
 * done (required) is called exactly once with ctx, also for AOS_ERR_INVALID URLs found late;
 * out_id (optional) receives an id for aos_http_client_cancel(). A non-OK return (invalid
 * request, client shutting down, out of memory) means done will NOT be called. */
aos_result aos_http_client_submit(aos_http_client_t *client, const aos_http_client_request_t *req,
                                  aos_http_done_fn done, void *ctx, uint64_t *out_id);

/* Cancel one request (its completion gets AOS_ERR_CANCELLED, unless it completes first).
 * An unknown or finished id is ignored. */
void aos_http_client_cancel(aos_http_client_t *client, uint64_t id);

/* Synchronous: submit and wait. On return *out_resp (always set when the return is AOS_OK
 * or a transport error) is owned by the caller: aos_http_response_free(). The return value
 * equals (*out_resp)->result; errbuf gets the detail. */
aos_result aos_http_client_do(aos_http_client_t *client, const aos_http_client_request_t *req,
                              aos_http_response_t **out_resp, char *errbuf, size_t errlen);

/* Free a response from aos_http_client_do. NULL is a no-op. */
void aos_http_response_free(aos_http_response_t *resp);

/* A response header by name, case-insensitive ("retry-after", "retry-after-ms",
 * "content-type"); NULL if absent. Borrowed like the response. Also spelled
 * aos_http_response_header(resp, name) (aos/http_header.h). */
const char *aos_http_response_get_header(const aos_http_response_t *resp, const char *name);

/* Iterate headers: index 0..n-1; returns false past the end. */
bool aos_http_response_header_at(const aos_http_response_t *resp, size_t index,
                                 const char **out_name, const char **out_value);

/* Number of connections the client has opened so far (for tests and metrics). */
uint64_t aos_http_client_connections_opened(aos_http_client_t *client);

#endif
