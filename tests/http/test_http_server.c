/* HTTP server over real loopback HTTP: routing, params, errors, limits, probes, metrics,
 * deferred answers from other threads, deferred timeout and graceful shutdown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/http_server.h"
#include "aos/log.h"
#include "http_test_util.h"

typedef struct fixture {
    aos_http_server_t *srv;
    aos_metrics_t *metrics;
    uint16_t port;
    bool ready;
    /* deferred requests handed to the answering thread */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    aos_http_request_t *parked[8];
    int nparked;
} fixture;

static void echo(aos_http_request_t *req, void *ctx)
{
    (void)ctx;
    size_t len = 0;
    const char *body = aos_http_request_body(req, &len);
    const char *id = aos_http_request_param(req, "id");
    const char *q = aos_http_request_query(req, "q");
    const char *h = aos_http_request_header(req, "x-test-header");
    char out[1024];
    snprintf(out, sizeof out,
             "method=%s path=%s route=%s id=%s q=%s h=%s len=%zu body=%s remote=%s",
             aos_http_request_method(req), aos_http_request_path(req), aos_http_request_route(req),
             id ? id : "-", q ? q : "-", h ? h : "-", len, body,
             strncmp(aos_http_request_remote_addr(req), "127.0.0.1:", 10) == 0 ? "ok" : "bad");
    assert_int_equal(aos_http_response_header(req, "X-Reply", "yes"), AOS_OK);
    assert_int_equal(aos_http_response_header(req, "Bad\r\nName", "x"), AOS_ERR_INVALID);
    assert_int_equal(aos_http_response_header(req, "X-Evil", "a\r\nSet-Cookie: b"),
                     AOS_ERR_INVALID);
    assert_int_equal(aos_http_respond(req, 200, "text/plain", out, strlen(out)), AOS_OK);
}

static void special(aos_http_request_t *req, void *ctx)
{
    (void)ctx;
    aos_http_respond_json(req, 200, "{\"special\":true}");
}

static void bad_json(aos_http_request_t *req, void *ctx)
{
    (void)ctx;
    aos_http_respond_error(req, AOS_ERR_INVALID, "malformed JSON: \"x\"\n");
}

static void park(aos_http_request_t *req, void *ctx)
{
    fixture *f = ctx;
    pthread_mutex_lock(&f->mu);
    f->parked[f->nparked++] = req;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    /* returning without answering defers the request */
}

static aos_http_request_t *wait_parked(fixture *f)
{
    pthread_mutex_lock(&f->mu);
    while (f->nparked == 0)
        pthread_cond_wait(&f->cv, &f->mu);
    aos_http_request_t *req = f->parked[--f->nparked];
    pthread_mutex_unlock(&f->mu);
    return req;
}

static void self_stop(aos_http_request_t *req, void *ctx)
{
    fixture *f = ctx;
    aos_http_server_stop(f->srv, 0); /* would deadlock: refused */
    aos_http_server_free(f->srv);    /* likewise */
    aos_http_respond_json(req, 200, "{\"still\":\"here\"}");
}

static bool readiness(void *ctx, char *reason, size_t len)
{
    fixture *f = ctx;
    if (!f->ready)
        snprintf(reason, len, "bus \"down\"");
    return f->ready;
}

static fixture *start(unsigned builtins, uint32_t deferred_timeout_ms, size_t max_body)
{
    fixture *f = calloc(1, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    assert_int_equal(aos_metrics_new(&f->metrics), AOS_OK);
    aos_http_server_config_t cfg = {.bind_addr = "127.0.0.1:0",
                                    .builtins = builtins,
                                    .name = "api",
                                    .metrics = f->metrics,
                                    .max_body_bytes = max_body,
                                    .deferred_timeout_ms = deferred_timeout_ms};
    char err[256];
    assert_int_equal(aos_http_server_new(&cfg, &f->srv, err, sizeof err), AOS_OK);
    aos_http_server_t *s = f->srv;
    assert_int_equal(aos_http_server_route(s, "POST", "/v1/conversations/{id}", echo, f), AOS_OK);
    assert_int_equal(aos_http_server_route(s, "GET", "/v1/conversations/{id}", echo, f), AOS_OK);
    assert_int_equal(aos_http_server_route(s, "GET", "/v1/conversations/special", special, f),
                     AOS_OK);
    assert_int_equal(aos_http_server_route(s, "POST", "/bad", bad_json, f), AOS_OK);
    assert_int_equal(aos_http_server_route(s, "*", "/park", park, f), AOS_OK);
    assert_int_equal(aos_http_server_route(s, "GET", "/selfstop", self_stop, f), AOS_OK);
    assert_int_equal(aos_http_server_route(s, "GET", "/v1/conversations/{id}", echo, f),
                     AOS_ERR_CONFLICT);
    assert_int_equal(aos_http_server_route(s, "GET", "no-slash", echo, f), AOS_ERR_INVALID);
    assert_int_equal(aos_http_server_route(s, "GET", "/x/{a b}", echo, f), AOS_ERR_INVALID);
    aos_http_server_set_readiness(s, readiness, f);
    assert_int_equal(aos_http_server_port(s), 0);
    assert_int_equal(aos_http_server_start(s, err, sizeof err), AOS_OK);
    f->port = aos_http_server_port(s);
    assert_true(f->port > 0);
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

static void test_routes_params_query_headers_body(void **state)
{
    (void)state;
    fixture *f = start(0, 0, 0);
    th_resp r;
    const char *hdrs[] = {"X-Test-Header: hello", NULL};
    assert_int_equal(th_request(f->port, "POST", "/v1/conversations/c%2F1?q=a+b%26&x=1", hdrs,
                                "{\"k\":1}", 7, &r),
                     0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "method=POST path=/v1/conversations/c/1 "
                                "route=/v1/conversations/{id} id=c/1 q=a b& h=hello len=7 "
                                "body={\"k\":1} remote=ok");
    assert_non_null(strcasestr(r.headers, "X-Reply: yes"));
    assert_non_null(strcasestr(r.headers, "Content-Type: text/plain"));
    th_resp_free(&r);

    /* literal beats parameter */
    assert_int_equal(th_request(f->port, "GET", "/v1/conversations/special", NULL, NULL, 0, &r), 0);
    assert_string_equal(r.body, "{\"special\":true}");
    th_resp_free(&r);
    /* stop/free from a handler are refused instead of deadlocking */
    assert_int_equal(th_request(f->port, "GET", "/selfstop", NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    th_resp_free(&r);
    assert_int_equal(th_request(f->port, "GET", "/selfstop", NULL, NULL, 0, &r), 0);
    assert_string_equal(r.body, "{\"still\":\"here\"}");
    th_resp_free(&r);
    /* HEAD uses the GET route */
    assert_int_equal(th_request(f->port, "HEAD", "/v1/conversations/x", NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    th_resp_free(&r);
    finish(f);
}

static void test_errors_404_405_400_json(void **state)
{
    (void)state;
    fixture *f = start(0, 0, 0);
    th_resp r;
    assert_int_equal(th_request(f->port, "GET", "/nope", NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 404);
    assert_string_equal(r.body,
                        "{\"error\":{\"code\":\"not_found\",\"message\":\"no such resource\"}}");
    assert_non_null(strcasestr(r.headers, "Content-Type: application/json"));
    th_resp_free(&r);

    assert_int_equal(th_request(f->port, "DELETE", "/v1/conversations/x", NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 405);
    assert_non_null(strstr(r.body, "\"code\":\"method_not_allowed\""));
    assert_non_null(strcasestr(r.headers, "Allow: POST, GET"));
    th_resp_free(&r);

    assert_int_equal(th_request(f->port, "POST", "/bad", NULL, "{", 1, &r), 0);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.body, "{\"error\":{\"code\":\"invalid_argument\","
                                "\"message\":\"malformed JSON: \\\"x\\\"\\n\"}}");
    th_resp_free(&r);

    char out[2048];
    const char bad[] = "GET /v1/conversations/%zz HTTP/1.1\r\nHost: x\r\n\r\n";
    th_raw(f->port, bad, sizeof bad - 1, out, sizeof out);
    assert_non_null(strstr(out, "HTTP/1.1 400"));
    assert_non_null(strstr(out, "\"code\":\"invalid_argument\""));
    /* garbage that libmicrohttpd rejects itself must not crash or leak */
    const char junk[] = "\x01\x02 BLAH\r\n\r\n";
    th_raw(f->port, junk, sizeof junk - 1, out, sizeof out);
    const char half[] = "GET /park HTTP/1.1\r\nHost: x\r\nBroken header\r\n\r\n";
    th_raw(f->port, half, sizeof half - 1, out, sizeof out);
    finish(f);
}

static void test_body_limit_413(void **state)
{
    (void)state;
    fixture *f = start(0, 0, 1000);
    th_resp r;
    char *big = malloc(5000);
    memset(big, 'a', 5000);
    /* declared by Content-Length */
    assert_int_equal(th_request(f->port, "POST", "/v1/conversations/x", NULL, big, 5000, &r), 0);
    assert_int_equal(r.status, 413);
    assert_non_null(strstr(r.body, "\"code\":\"too_large\""));
    th_resp_free(&r);
    /* chunked: seen while reading */
    const char *chunked[] = {"Transfer-Encoding: chunked", NULL};
    assert_int_equal(th_request(f->port, "POST", "/v1/conversations/x", chunked, big, 5000, &r), 0);
    assert_int_equal(r.status, 413);
    th_resp_free(&r);
    /* exactly at the limit is fine */
    assert_int_equal(th_request(f->port, "POST", "/v1/conversations/x", chunked, big, 1000, &r), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "len=1000"));
    th_resp_free(&r);
    free(big);
    finish(f);
}

static void test_builtins_probes_metrics(void **state)
{
    (void)state;
    fixture *f = start(AOS_HTTP_BUILTIN_ALL, 0, 0);
    th_resp r;
    assert_int_equal(th_request(f->port, "GET", "/healthz", NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    th_resp_free(&r);
    f->ready = false;
    assert_int_equal(th_request(f->port, "GET", "/readyz", NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body, "{\"status\":\"not_ready\",\"reason\":\"bus \\\"down\\\"\"}");
    th_resp_free(&r);
    f->ready = true;
    assert_int_equal(th_request(f->port, "GET", "/readyz", NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    th_resp_free(&r);
    assert_int_equal(th_request(f->port, "GET", "/v1/conversations/a", NULL, NULL, 0, &r), 0);
    th_resp_free(&r);
    assert_int_equal(th_request(f->port, "GET", "/metrics", NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strcasestr(r.headers, "Content-Type: text/plain; version=0.0.4"));
    assert_non_null(strstr(r.body, "# TYPE aos_http_requests_total counter\n"));
    assert_non_null(strstr(r.body, "aos_http_requests_total{server=\"api\",method=\"GET\","
                                   "route=\"/v1/conversations/{id}\",status=\"200\"} 1\n"));
    assert_non_null(strstr(r.body, "aos_http_requests_total{server=\"api\",method=\"GET\","
                                   "route=\"/readyz\",status=\"503\"} 1\n"));
    assert_non_null(strstr(r.body, "aos_http_request_duration_seconds_count{server=\"api\","
                                   "route=\"/v1/conversations/{id}\"} 1\n"));
    /* the /metrics request itself is in flight while rendering */
    assert_non_null(strstr(r.body, "aos_http_requests_in_flight{server=\"api\"} 1\n"));
    th_resp_free(&r);
    finish(f);

    f = start(0, 0, 0); /* builtins are per server */
    assert_int_equal(th_request(f->port, "GET", "/healthz", NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 404);
    th_resp_free(&r);
    finish(f);
}

typedef struct call {
    fixture *f;
    const char *method;
    const char *path;
    th_resp resp;
    int rc;
    pthread_t t;
} call;

static void *call_main(void *arg)
{
    call *c = arg;
    c->rc = th_request(c->f->port, c->method, c->path, NULL, "", 0, &c->resp);
    return NULL;
}

static void call_start(call *c, fixture *f, const char *method, const char *path)
{
    memset(c, 0, sizeof *c);
    c->f = f;
    c->method = method;
    c->path = path;
    pthread_create(&c->t, NULL, call_main, c);
}

static void test_defer_and_answer_from_another_thread(void **state)
{
    (void)state;
    fixture *f = start(0, 0, 0);
    call c;
    call_start(&c, f, "POST", "/park?n=1");
    aos_http_request_t *req = wait_parked(f); /* handler returned without answering */
    th_sleep_ms(50);
    assert_string_equal(aos_http_request_query(req, "n"), "1");
    assert_int_equal(aos_http_response_header(req, "Location", "/v1/x"), AOS_OK);
    assert_int_equal(aos_http_respond_json(req, 202, "{\"late\":true}"), AOS_OK);
    pthread_join(c.t, NULL);
    assert_int_equal(c.rc, 0);
    assert_int_equal(c.resp.status, 202);
    assert_string_equal(c.resp.body, "{\"late\":true}");
    assert_non_null(strcasestr(c.resp.headers, "Location: /v1/x"));
    th_resp_free(&c.resp);
    finish(f);
}

static void test_deferred_timeout_504(void **state)
{
    (void)state;
    fixture *f = start(0, 100, 0);
    call c;
    call_start(&c, f, "GET", "/park");
    aos_http_request_t *req = wait_parked(f);
    pthread_join(c.t, NULL); /* the server answers 504 on its own */
    assert_int_equal(c.resp.status, 504);
    assert_non_null(strstr(c.resp.body, "\"code\":\"timeout\""));
    th_resp_free(&c.resp);
    /* the late answer is refused but releases the request */
    assert_int_equal(aos_http_respond_json(req, 200, "{}"), AOS_ERR_CLOSED);
    finish(f);
}

typedef struct stopper {
    aos_http_server_t *srv;
    int grace;
    pthread_t t;
} stopper;

static void *stop_main(void *arg)
{
    stopper *s = arg;
    aos_http_server_stop(s->srv, s->grace);
    return NULL;
}

static void test_graceful_stop_lets_deferred_finish(void **state)
{
    (void)state;
    fixture *f = start(AOS_HTTP_BUILTIN_READYZ, 0, 0);
    call c;
    call_start(&c, f, "GET", "/park");
    aos_http_request_t *req = wait_parked(f);
    stopper s = {.srv = f->srv, .grace = 20000};
    pthread_create(&s.t, NULL, stop_main, &s);
    th_sleep_ms(100);
    /* no new connections once stopping */
    th_resp r;
    assert_int_equal(th_request(f->port, "GET", "/readyz", NULL, NULL, 0, &r), -1);
    th_resp_free(&r);
    assert_int_equal(aos_http_respond_json(req, 200, "{\"done\":1}"), AOS_OK);
    pthread_join(c.t, NULL);
    pthread_join(s.t, NULL); /* returns as soon as nothing is in flight */
    assert_int_equal(c.resp.status, 200);
    assert_string_equal(c.resp.body, "{\"done\":1}");
    assert_non_null(strcasestr(c.resp.headers, "Connection: close"));
    th_resp_free(&c.resp);
    finish(f);
}

static void test_graceful_stop_answers_leftovers_503(void **state)
{
    (void)state;
    fixture *f = start(0, 0, 0);
    call c1, c2;
    call_start(&c1, f, "GET", "/park");
    aos_http_request_t *r1 = wait_parked(f);
    call_start(&c2, f, "GET", "/park");
    aos_http_request_t *r2 = wait_parked(f);
    aos_http_server_stop(f->srv, 100);
    pthread_join(c1.t, NULL);
    pthread_join(c2.t, NULL);
    assert_int_equal(c1.resp.status, 503);
    assert_int_equal(c2.resp.status, 503);
    assert_non_null(strstr(c1.resp.body, "\"code\":\"unavailable\""));
    th_resp_free(&c1.resp);
    th_resp_free(&c2.resp);
    assert_int_equal(aos_http_respond_json(r1, 200, "{}"), AOS_ERR_CLOSED);
    aos_http_server_stop(f->srv, 100); /* idempotent */
    aos_http_server_t *srv = f->srv;
    f->srv = NULL;
    aos_http_server_free(srv);
    /* the server's memory outlives free while a handler still holds a request */
    assert_int_equal(aos_http_respond_error(r2, AOS_ERR_TIMEOUT, NULL), AOS_ERR_CLOSED);
    finish(f);
}

static bool not_ready(void *ctx, char *reason, size_t reason_len)
{
    (void)ctx;
    snprintf(reason, reason_len, "starting");
    return false;
}

/* Every service's admin server: built-ins only, started; a bad address leaves nothing. */
static void test_admin_server(void **state)
{
    (void)state;
    char err[256];
    aos_http_server_t *srv = NULL;
    assert_int_equal(aos_http_admin_start("127.0.0.1:0", not_ready, NULL, &srv, err, sizeof err),
                     AOS_OK);
    uint16_t port = aos_http_server_port(srv);
    assert_true(port > 0);
    th_resp r;
    assert_int_equal(th_request(port, "GET", "/healthz", NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    th_resp_free(&r);
    assert_int_equal(th_request(port, "GET", "/readyz", NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(r.body, "starting"));
    th_resp_free(&r);
    assert_int_equal(th_request(port, "GET", "/metrics", NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "server=\"admin\""));
    th_resp_free(&r);
    aos_http_server_free(srv);
    srv = (aos_http_server_t *)&r; /* not NULL: a failure must clear it */
    assert_int_not_equal(aos_http_admin_start("127.0.0.1:x", NULL, NULL, &srv, err, sizeof err),
                         AOS_OK);
    assert_null(srv);
}

static void test_bind_errors(void **state)
{
    (void)state;
    char err[256];
    aos_http_server_t *srv = NULL;
    const char *bad[] = {"nohostport",   "127.0.0.1:", "127.0.0.1:99999", "127.0.0.1:x", "[::1:80",
                         "999.1.1.1:80", NULL};
    for (int i = 0; bad[i]; i++) {
        aos_http_server_config_t cfg = {.bind_addr = bad[i]};
        assert_int_equal(aos_http_server_new(&cfg, &srv, err, sizeof err), AOS_OK);
        assert_int_not_equal(aos_http_server_start(srv, err, sizeof err), AOS_OK);
        aos_http_server_free(srv);
    }
    fixture *f = start(0, 0, 0);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", f->port);
    aos_http_server_config_t cfg = {.bind_addr = addr};
    assert_int_equal(aos_http_server_new(&cfg, &srv, err, sizeof err), AOS_OK);
    assert_int_equal(aos_http_server_start(srv, err, sizeof err), AOS_ERR_CONFLICT);
    aos_http_server_free(srv);
    finish(f);
    aos_http_server_config_t v6 = {.bind_addr = "[::1]:0"};
    assert_int_equal(aos_http_server_new(&v6, &srv, err, sizeof err), AOS_OK);
    if (aos_http_server_start(srv, err, sizeof err) == AOS_OK)
        assert_true(aos_http_server_port(srv) > 0);
    aos_http_server_free(srv);
    assert_int_equal(aos_http_server_new(NULL, &srv, err, sizeof err), AOS_ERR_INVALID);
    aos_http_server_free(NULL);
}

int main(void)
{
    aos_log_init("test_http_server", AOS_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes_params_query_headers_body),
        cmocka_unit_test(test_errors_404_405_400_json),
        cmocka_unit_test(test_body_limit_413),
        cmocka_unit_test(test_builtins_probes_metrics),
        cmocka_unit_test(test_defer_and_answer_from_another_thread),
        cmocka_unit_test(test_deferred_timeout_504),
        cmocka_unit_test(test_graceful_stop_lets_deferred_finish),
        cmocka_unit_test(test_graceful_stop_answers_leftovers_503),
        cmocka_unit_test(test_bind_errors),
        cmocka_unit_test(test_admin_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
