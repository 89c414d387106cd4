/* The operator console (docs/console.md): its files under /console, compiled into the binary
 * (console_assets.h), and GET /v1/metrics, the router's own metrics for the live view.
 *
 * The files are public (they hold no data and no secret; the console asks for an API key and
 * sends it with each /v1 call). Every console response carries a strict Content-Security-Policy:
 * scripts and styles only from the router itself, no inline script or style, no frames, no
 * other origin — so even a message that slipped into the page as markup could not run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console_assets.h"
#include "router_internal.h"

#define CONSOLE_CSP                                                                                \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

static void security_headers(aos_http_request_t *req)
{
    aos_http_response_header(req, "Content-Security-Policy", CONSOLE_CSP);
    aos_http_response_header(req, "X-Content-Type-Options", "nosniff");
    aos_http_response_header(req, "X-Frame-Options", "DENY");
    aos_http_response_header(req, "Referrer-Policy", "no-referrer");
    aos_http_response_header(req, "Cache-Control", "no-cache");
}

static void serve(aos_http_request_t *req, const char *name)
{
    for (size_t i = 0; i < router_console_asset_count; i++) {
        const router_console_asset_t *a = &router_console_assets[i];
        if (strcmp(a->name, name) == 0) {
            security_headers(req);
            aos_http_respond(req, 200, a->content_type, a->bytes, a->len);
            return;
        }
    }
    security_headers(req);
    router_respond_error(req, AOS_ERR_NOT_FOUND, "no such console file");
}

static void svc_console_index(aos_http_request_t *req, void *ctx)
{
    (void)ctx;
    serve(req, "index.html");
}

static void svc_console_file(aos_http_request_t *req, void *ctx)
{
    (void)ctx;
    const char *f = aos_http_request_param(req, "file");
    serve(req, f && strcmp(f, "index.html") != 0 ? f : "index.html");
}

/* GET /v1/metrics: the router's metrics in the Prometheus text format (the same as the admin
 * server's /metrics), behind the API key, for the console's live charts. */
static void svc_get_metrics(aos_http_request_t *req, void *ctx)
{
    router_t *rt = ctx;
    if (!router_authorize(rt, req))
        return;
    char *text = NULL;
    size_t len = 0;
    if (aos_metrics_render(NULL, &text, &len) != AOS_OK) {
        router_respond_error(req, AOS_ERR_NOMEM, NULL);
        return;
    }
    aos_http_response_header(req, "Cache-Control", "no-store");
    aos_http_respond(req, 200, AOS_METRICS_CONTENT_TYPE, text, len);
    free(text);
}

aos_result svc_console_routes(aos_http_server_t *s, router_t *rt)
{
    AOS_RETURN_IF_FAILED(aos_http_server_route(s, "GET", "/console", svc_console_index, rt));
    AOS_RETURN_IF_FAILED(aos_http_server_route(s, "GET", "/console/{file}", svc_console_file, rt));
    return aos_http_server_route_ex(s, "GET", "/v1/metrics", svc_get_metrics, rt,
                                    AOS_HTTP_ROUTE_AUTH | AOS_HTTP_ROUTE_JSON);
}
