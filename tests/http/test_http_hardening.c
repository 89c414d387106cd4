/* HTTP hardening over raw loopback sockets (issue 9 item 8): credentials checked before the
 * body is read, a server-wide cap on buffered body bytes, an endless chunked body answered
 * 413 as soon as the limit passes, ambiguous framing and duplicate Authorization refused,
 * oversize header blocks answered 431 in the JSON error shape, non-JSON media types 415. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "aos/http_server.h"
#include "aos/log.h"
#include "http_test_util.h"

typedef struct fixture {
    aos_http_server_t *srv;
    aos_metrics_t *metrics;
    uint16_t port;
    atomic_int handled;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    aos_http_request_t *parked;
} fixture;

static void echo(aos_http_request_t *req, void *ctx)
{
    fixture *f = ctx;
    atomic_fetch_add(&f->handled, 1);
    size_t len = 0;
    aos_http_request_body(req, &len);
    char out[64];
    snprintf(out, sizeof out, "{\"len\":%zu}", len);
    aos_http_respond_json(req, 200, out);
}

static void park(aos_http_request_t *req, void *ctx)
{
    fixture *f = ctx;
    pthread_mutex_lock(&f->mu);
    f->parked = req;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static aos_result authorize(aos_http_request_t *req, void *ctx, char *why, size_t why_len)
{
    (void)ctx;
    const char *a = aos_http_request_header(req, "Authorization");
    if (a && strcmp(a, "Bearer good-key") == 0)
        return AOS_OK;
    aos_http_response_header(req, "WWW-Authenticate", "Bearer");
    snprintf(why, why_len, "invalid API key");
    return AOS_ERR_AUTH;
}

static fixture *start(size_t max_body, size_t max_buffered)
{
    fixture *f = calloc(1, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    assert_int_equal(aos_metrics_new(&f->metrics), AOS_OK);
    aos_http_server_config_t cfg = {.bind_addr = "127.0.0.1:0",
                                    .name = "api",
                                    .metrics = f->metrics,
                                    .max_body_bytes = max_body,
                                    .max_buffered_bytes = max_buffered};
    char err[256];
    assert_int_equal(aos_http_server_new(&cfg, &f->srv, err, sizeof err), AOS_OK);
    aos_http_server_t *s = f->srv;
    assert_int_equal(aos_http_server_route_ex(s, "POST", "/auth", echo, f, AOS_HTTP_ROUTE_AUTH),
                     AOS_OK);
    assert_int_equal(aos_http_server_route_ex(s, "*", "/json", echo, f, AOS_HTTP_ROUTE_JSON),
                     AOS_OK);
    assert_int_equal(aos_http_server_route(s, "POST", "/open", echo, f), AOS_OK);
    assert_int_equal(aos_http_server_route(s, "POST", "/park", park, f), AOS_OK);
    aos_http_server_set_authorizer(s, authorize, f);
    assert_int_equal(aos_http_server_start(s, err, sizeof err), AOS_OK);
    f->port = aos_http_server_port(s);
    return f;
}

static void finish(fixture *f)
{
    aos_http_server_free(f->srv);
    aos_metrics_free(f->metrics);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f);
}

static int dial(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

static void send_all(int fd, const char *s, size_t n)
{
    for (size_t off = 0; off < n;) {
        ssize_t k = send(fd, s + off, n - off, MSG_NOSIGNAL);
        assert_true(k > 0);
        off += (size_t)k;
    }
}

/* Read until the peer closes (true) or timeout_ms passes (false). */
static bool read_until_close(int fd, char *out, size_t outlen, int timeout_ms)
{
    size_t got = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, timeout_ms) <= 0) {
            out[got] = '\0';
            return false;
        }
        ssize_t n = recv(fd, out + got, outlen - got - 1, 0);
        if (n <= 0) {
            out[got] = '\0';
            return true;
        }
        got += (size_t)n;
        if (got + 1 >= outlen) {
            out[got] = '\0';
            return false;
        }
    }
}

static void test_credentials_checked_before_the_body(void **state)
{
    (void)state;
    fixture *f = start(1 << 20, 0);
    /* Headers announce a body that never comes: the 401 must not wait for it. */
    int fd = dial(f->port);
    const char req[] = "POST /auth HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       "Content-Length: 1000000\r\nAuthorization: Bearer wrong\r\n\r\n";
    send_all(fd, req, sizeof req - 1);
    char out[4096];
    assert_true(read_until_close(fd, out, sizeof out, 30000));
    close(fd);
    assert_non_null(strstr(out, "HTTP/1.1 401"));
    assert_non_null(strstr(out, "\"code\":\"unauthenticated\""));
    assert_non_null(strcasestr(out, "WWW-Authenticate: Bearer"));
    assert_int_equal(atomic_load(&f->handled), 0);

    /* Expect: 100-continue is not answered with 100 for a refused caller. */
    fd = dial(f->port);
    const char req2[] = "POST /auth HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n"
                        "Expect: 100-continue\r\n\r\n";
    send_all(fd, req2, sizeof req2 - 1);
    assert_true(read_until_close(fd, out, sizeof out, 30000));
    close(fd);
    assert_null(strstr(out, "100 Continue"));
    assert_non_null(strstr(out, "HTTP/1.1 401"));

    th_resp r;
    const char *good[] = {"Authorization: Bearer good-key", NULL};
    assert_int_equal(th_request(f->port, "POST", "/auth", good, "{}", 2, &r), 0);
    assert_int_equal(r.status, 200);
    th_resp_free(&r);
    assert_int_equal(atomic_load(&f->handled), 1);
    finish(f);
}

static void test_endless_chunked_body_413_at_once(void **state)
{
    (void)state;
    fixture *f = start(4096, 0);
    int fd = dial(f->port);
    const char head[] = "POST /open HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    send_all(fd, head, sizeof head - 1);
    char chunk[1100];
    memcpy(chunk, "400\r\n", 5);
    memset(chunk + 5, 'a', 1024);
    memcpy(chunk + 5 + 1024, "\r\n", 2);
    char out[4096] = "";
    size_t got = 0;
    bool closed = false;
    /* Keep sending chunks (never the last one) until the server answers and closes. */
    for (int i = 0; i < 100000 && !closed; i++) {
        if (send(fd, chunk, 1031, MSG_NOSIGNAL) <= 0)
            break; /* the server closed its side */
        struct pollfd p = {.fd = fd, .events = POLLIN};
        while (poll(&p, 1, 10) > 0) {
            ssize_t n = recv(fd, out + got, sizeof out - got - 1, 0);
            if (n <= 0) {
                closed = true;
                break;
            }
            got += (size_t)n;
            out[got] = '\0';
        }
    }
    if (!closed)
        closed = read_until_close(fd, out + got, sizeof out - got, 30000) || got > 0;
    close(fd);
    if (!strstr(out, "HTTP/1.1 413"))
        fprintf(stderr, "got (%zu bytes, closed %d): %s\n", got, closed, out);
    assert_true(closed);
    assert_non_null(strstr(out, "HTTP/1.1 413"));
    assert_non_null(strstr(out, "\"code\":\"too_large\""));
    assert_int_equal(atomic_load(&f->handled), 0);
    finish(f);
}

static void test_framing_and_duplicate_headers_400(void **state)
{
    (void)state;
    fixture *f = start(0, 0);
    char out[4096];
    const char two_cl[] = "POST /open HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                          "Content-Length: 30\r\n\r\n{}";
    th_raw(f->port, two_cl, sizeof two_cl - 1, out, sizeof out);
    assert_non_null(strstr(out, "HTTP/1.1 400"));
    assert_non_null(strstr(out, "\"code\":\"invalid_argument\""));
    assert_non_null(strstr(out, "Content-Length"));

    const char list_cl[] = "POST /open HTTP/1.1\r\nHost: x\r\nContent-Length: 2, 2\r\n\r\n{}";
    th_raw(f->port, list_cl, sizeof list_cl - 1, out, sizeof out);
    /* libmicrohttpd refuses an unparsable Content-Length itself (its own 400 body) */
    assert_non_null(strstr(out, "HTTP/1.1 400"));

    const char cl_te[] = "POST /open HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    th_raw(f->port, cl_te, sizeof cl_te - 1, out, sizeof out);
    assert_non_null(strstr(out, "HTTP/1.1 400"));
    assert_non_null(strstr(out, "\"code\":\"invalid_argument\""));

    const char two_auth[] = "POST /open HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\r\n"
                            "Authorization: Bearer b\r\nContent-Length: 2\r\n\r\n{}";
    th_raw(f->port, two_auth, sizeof two_auth - 1, out, sizeof out);
    assert_non_null(strstr(out, "HTTP/1.1 400"));
    assert_non_null(strstr(out, "\"code\":\"invalid_argument\""));
    assert_non_null(strstr(out, "Authorization"));

    /* the same length twice is one length */
    const char same_cl[] = "POST /open HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                           "Content-Length: 2\r\nConnection: close\r\n\r\n{}";
    th_raw(f->port, same_cl, sizeof same_cl - 1, out, sizeof out);
    assert_non_null(strstr(out, "HTTP/1.1 200"));
    assert_non_null(strstr(out, "{\"len\":2}"));
    assert_int_equal(atomic_load(&f->handled), 1);
    finish(f);
}

static void test_oversize_header_block_431_json(void **state)
{
    (void)state;
    fixture *f = start(0, 0);
    size_t sizes[] = {20000, 40000};
    for (size_t k = 0; k < 2; k++) {
        char *req = malloc(sizes[k] + 200);
        int n = snprintf(req, 200, "GET /json HTTP/1.1\r\nHost: x\r\nX-Big: ");
        memset(req + n, 'b', sizes[k]);
        memcpy(req + n + sizes[k], "\r\n\r\n", 5);
        char out[4096];
        th_raw(f->port, req, strlen(req), out, sizeof out);
        free(req);
        assert_non_null(strstr(out, "HTTP/1.1 431"));
        assert_non_null(strcasestr(out, "Content-Type: application/json"));
        assert_non_null(strstr(out, "{\"error\":{\"code\":\"too_large\""));
        assert_null(strstr(out, "<html>"));
    }
    /* under the limit is fine */
    char *req = malloc(12000);
    int n = snprintf(req, 200, "GET /json HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: ");
    memset(req + n, 'b', 10000);
    memcpy(req + n + 10000, "\r\n\r\n", 5);
    char out[4096];
    th_raw(f->port, req, strlen(req), out, sizeof out);
    free(req);
    assert_non_null(strstr(out, "HTTP/1.1 200"));
    finish(f);
}

static void test_json_routes_refuse_other_media_types_415(void **state)
{
    (void)state;
    fixture *f = start(0, 0);
    const char *bad[] = {"Content-Type: text/plain",
                         "Content-Type: application/x-www-form-urlencoded",
                         "Content-Type: multipart/form-data; boundary=x",
                         "Content-Type: application/jsonx",
                         "Content-Type: text/json",
                         NULL};
    th_resp r;
    for (size_t i = 0; bad[i]; i++) {
        const char *h[] = {bad[i], NULL};
        assert_int_equal(th_request(f->port, "POST", "/json", h, "{}", 2, &r), 0);
        assert_int_equal(r.status, 415);
        assert_non_null(strstr(r.body, "\"code\":\"unsupported_media_type\""));
        th_resp_free(&r);
    }
    /* a body without any Content-Type is refused too (a typeless Blob from another site) */
    char out[4096];
    const char none[] = "POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";
    th_raw(f->port, none, sizeof none - 1, out, sizeof out);
    assert_non_null(strstr(out, "HTTP/1.1 415"));
    assert_int_equal(atomic_load(&f->handled), 0);

    const char *good[] = {"Content-Type: application/json",
                          "Content-Type: Application/JSON; charset=utf-8",
                          "Content-Type: application/cloudevents+json",
                          "Content-Type: application/cloudevents-batch+json", NULL};
    for (size_t i = 0; good[i]; i++) {
        const char *h[] = {good[i], NULL};
        assert_int_equal(th_request(f->port, "POST", "/json", h, "{}", 2, &r), 0);
        assert_int_equal(r.status, 200);
        th_resp_free(&r);
    }
    /* no body, no media type needed */
    assert_int_equal(th_request(f->port, "GET", "/json", NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    th_resp_free(&r);
    finish(f);
}

static void test_total_buffered_bytes_capped(void **state)
{
    (void)state;
    /* 10,000 bytes for all bodies together: a parked 6,000-byte body holds 8 KiB of it. */
    fixture *f = start(64 * 1024, 10000);
    char body[6000];
    memset(body, 'x', sizeof body);
    char req[6200];
    int n = snprintf(req, 200, "POST /park HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n",
                     sizeof body);
    memcpy(req + n, body, sizeof body);
    int fd = dial(f->port);
    send_all(fd, req, (size_t)n + sizeof body);
    pthread_mutex_lock(&f->mu);
    while (!f->parked)
        pthread_cond_wait(&f->cv, &f->mu);
    aos_http_request_t *parked = f->parked;
    pthread_mutex_unlock(&f->mu);

    th_resp r;
    assert_int_equal(th_request(f->port, "POST", "/open", NULL, body, 3000, &r), 0);
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(r.body, "\"code\":\"unavailable\""));
    assert_non_null(strcasestr(r.headers, "Retry-After:"));
    th_resp_free(&r);
    /* small bodies still fit */
    assert_int_equal(th_request(f->port, "POST", "/open", NULL, "{}", 2, &r), 0);
    assert_int_equal(r.status, 200);
    th_resp_free(&r);

    aos_http_respond_json(parked, 200, "{}"); /* releases its 8 KiB */
    char out[1024];
    read_until_close(fd, out, sizeof out, 2000);
    close(fd);
    assert_non_null(strstr(out, "HTTP/1.1 200"));
    assert_int_equal(th_request(f->port, "POST", "/open", NULL, body, 3000, &r), 0);
    assert_int_equal(r.status, 200);
    th_resp_free(&r);
    finish(f);
}

int main(void)
{
    aos_log_init("test_http_hardening", AOS_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_credentials_checked_before_the_body),
        cmocka_unit_test(test_endless_chunked_body_413_at_once),
        cmocka_unit_test(test_framing_and_duplicate_headers_400),
        cmocka_unit_test(test_oversize_header_block_431_json),
        cmocka_unit_test(test_json_routes_refuse_other_media_types_415),
        cmocka_unit_test(test_total_buffered_bytes_capped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
