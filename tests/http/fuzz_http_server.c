/* Fuzz target for the HTTP server's request state machine and body handling over a real
 * socket: the input is sent as raw bytes on a fresh loopback connection to one server
 * (libmicrohttpd plus our callbacks: routes, framing and header checks, route flags, the
 * body accumulator, mid-body refusals) with small limits, the write side is shut and the
 * answer read until the server closes. Whatever arrives must be HTTP; the server must
 * survive every input (ASan/UBSan/leaks catch the rest). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "aos/http_server.h"
#include "aos/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static aos_http_server_t *g_srv;
static uint16_t g_port;

static void echo(aos_http_request_t *req, void *ctx)
{
    (void)ctx;
    size_t len = 0;
    const char *body = aos_http_request_body(req, &len);
    aos_http_respond(req, 200, "application/octet-stream", body, len);
}

static aos_result auth(aos_http_request_t *req, void *ctx, char *why, size_t why_len)
{
    (void)ctx;
    (void)why;
    (void)why_len;
    const char *a = aos_http_request_header(req, "Authorization");
    return a && strcmp(a, "Bearer k") == 0 ? AOS_OK : AOS_ERR_AUTH;
}

static void stop(void)
{
    aos_http_server_free(g_srv);
}

static void start(void)
{
    aos_log_init("fuzz_http_server", AOS_LOG_OFF);
    aos_http_server_config_t cfg = {.bind_addr = "127.0.0.1:0",
                                    .max_body_bytes = 256,
                                    .max_header_bytes = 1024,
                                    .max_buffered_bytes = 4096,
                                    .request_timeout_ms = 2000,
                                    .builtins = AOS_HTTP_BUILTIN_HEALTHZ};
    if (aos_http_server_new(&cfg, &g_srv, NULL, 0) != AOS_OK ||
        aos_http_server_route_ex(g_srv, "POST", "/json/{id}", echo, NULL, AOS_HTTP_ROUTE_JSON) !=
            AOS_OK ||
        aos_http_server_route_ex(g_srv, "*", "/auth", echo, NULL,
                                 AOS_HTTP_ROUTE_AUTH | AOS_HTTP_ROUTE_JSON) != AOS_OK ||
        aos_http_server_route(g_srv, "*", "/echo", echo, NULL) != AOS_OK)
        abort();
    aos_http_server_set_authorizer(g_srv, auth, NULL);
    if (aos_http_server_start(g_srv, NULL, 0) != AOS_OK)
        abort();
    g_port = aos_http_server_port(g_srv);
    atexit(stop);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_srv)
        start();
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(g_port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        abort(); /* the server died */
    for (size_t off = 0; off < size;) {
        ssize_t n = send(fd, data + off, size - off, MSG_NOSIGNAL);
        if (n <= 0)
            break; /* refused mid-request: fine */
        off += (size_t)n;
    }
    shutdown(fd, SHUT_WR);
    char out[8192];
    size_t got = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 5000) <= 0)
            break;
        ssize_t n = recv(fd, out + got, sizeof out - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
        if (got == sizeof out - 1)
            got = 0; /* only the start matters; keep draining */
    }
    close(fd);
    out[got] = '\0';
    return 0;
}
