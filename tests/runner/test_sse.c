/* SSE parsing (any chunking, LF/CRLF/CR, comments, limits) and chat stream accumulation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aos/sse.h"

typedef struct seen {
    char log[2048];
    int events;
} seen_t;

static aos_result record(void *ctx, const char *event, const char *data, size_t len)
{
    seen_t *s = ctx;
    size_t n = strlen(s->log);
    snprintf(s->log + n, sizeof s->log - n, "<%s|%.*s>", event, (int)len, data);
    s->events++;
    return AOS_OK;
}

/* Feed text split at position cut (and byte by byte when cut < 0). */
static void feed_split(const char *text, long cut, seen_t *s)
{
    aos_sse_t *p = NULL;
    memset(s, 0, sizeof *s);
    assert_int_equal(aos_sse_new(0, record, s, &p), AOS_OK);
    size_t len = strlen(text);
    if (cut < 0) {
        for (size_t i = 0; i < len; i++)
            assert_int_equal(aos_sse_feed(p, text + i, 1), AOS_OK);
    } else {
        assert_int_equal(aos_sse_feed(p, text, (size_t)cut), AOS_OK);
        assert_int_equal(aos_sse_feed(p, text + cut, len - (size_t)cut), AOS_OK);
    }
    aos_sse_free(p);
}

static void test_sse_any_split(void **state)
{
    (void)state;
    static const char *inputs[] = {
        "data: one\n\n: comment\ndata: two\ndata:  three\n\nevent: ping\ndata\n\nid: 7\n\n",
        ("data: one\r\n\r\n: comment\r\ndata: two\r\ndata:  three\r\n\r\nevent: "
         "ping\r\ndata\r\n\r\n"
         "id: 7\r\n\r\n"), /* one input (parentheses: clang's -Wstring-concatenation) */
        "data: one\r\r: comment\rdata: two\rdata:  three\r\revent: ping\rdata\r\rid: 7\r\r",
    };
    const char *want = "<message|one><message|two\n three><ping|>";
    for (size_t k = 0; k < 3; k++) {
        size_t len = strlen(inputs[k]);
        seen_t s;
        for (long cut = -1; cut <= (long)len; cut++) {
            feed_split(inputs[k], cut, &s);
            assert_string_equal(s.log, want);
        }
    }
}

static void test_sse_limit(void **state)
{
    (void)state;
    seen_t s = {0};
    aos_sse_t *p = NULL;
    assert_int_equal(aos_sse_new(16, record, &s, &p), AOS_OK);
    assert_int_equal(aos_sse_feed(p, "data: short\n\n", 13), AOS_OK);
    assert_int_equal(aos_sse_feed(p, "data: 0123456789abcdefghij", 26), AOS_ERR_TOO_LARGE);
    /* stays failed */
    assert_int_equal(aos_sse_feed(p, "\n\n", 2), AOS_ERR_TOO_LARGE);
    assert_int_equal(s.events, 1);
    aos_sse_free(p);
}

static const char STREAM[] =
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\",\"choices\":"
    "[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}"
    "\n\n"
    "data: "
    "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"finish_reason\":null}]}\n\n"
    ": keep-alive\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\", "
    "world\"},\"finish_reason\":null}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
    "data: "
    "{\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}"
    "\n\n"
    "data: [DONE]\n\n";

static void test_chat_stream(void **state)
{
    (void)state;
    size_t len = strlen(STREAM);
    for (size_t cut = 0; cut <= len; cut += 7) {
        aos_model_stream_t *s = NULL;
        aos_model_completion_t c = {0};
        assert_int_equal(aos_model_stream_new(0, &s), AOS_OK);
        assert_int_equal(aos_model_stream_feed(s, STREAM, cut, NULL, 0), AOS_OK);
        assert_int_equal(aos_model_stream_feed(s, STREAM + cut, len - cut, NULL, 0), AOS_OK);
        assert_int_equal(aos_model_stream_finish(s, &c, NULL, 0), AOS_OK);
        assert_string_equal(c.text, "Hello, world");
        assert_string_equal(c.model, "gpt-4o");
        assert_string_equal(c.finish_reason, "stop");
        assert_true(c.usage_reported);
        assert_int_equal(c.usage.total_tokens, 11);
        aos_model_completion_clear(&c);
        aos_model_stream_free(s);
    }
}

static aos_result stream_result(const char *text, char *err, size_t errlen)
{
    aos_model_stream_t *s = NULL;
    aos_model_completion_t c = {0};
    assert_int_equal(aos_model_stream_new(128, &s), AOS_OK);
    aos_result rc = aos_model_stream_feed(s, text, strlen(text), err, errlen);
    if (rc == AOS_OK)
        rc = aos_model_stream_finish(s, &c, err, errlen);
    if (rc != AOS_OK)
        assert_null(c.text);
    aos_model_completion_clear(&c);
    aos_model_stream_free(s);
    return rc;
}

static void test_chat_stream_errors(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(stream_result("", err, sizeof err), AOS_ERR_PROTOCOL);
    assert_non_null(strstr(err, "empty"));
    assert_int_equal(
        stream_result("data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n", err, sizeof err),
        AOS_ERR_PROTOCOL);
    assert_non_null(strstr(err, "before [DONE]"));
    assert_int_equal(stream_result("data: {\"choices\": [ {\"delta\": \n\n", err, sizeof err),
                     AOS_ERR_PROTOCOL);
    assert_int_equal(
        stream_result("data: {\"error\":{\"message\":\"overloaded\"}}\n\n", err, sizeof err),
        AOS_ERR_PROTOCOL);
    assert_non_null(strstr(err, "overloaded"));
    assert_int_equal(stream_result("data: [1,2]\n\n", err, sizeof err), AOS_ERR_PROTOCOL);
    /* reply text over the 128-byte limit */
    char big[512];
    snprintf(big, sizeof big,
             "data: {\"choices\":[{\"delta\":{\"content\":\"%070d\"}}]}\n\n"
             "data: {\"choices\":[{\"delta\":{\"content\":\"%070d\"}}]}\n\n",
             1, 2);
    assert_int_equal(stream_result(big, err, sizeof err), AOS_ERR_TOO_LARGE);
    /* a finish_reason without [DONE] is a complete reply (some servers never send [DONE]) */
    assert_int_equal(stream_result("data: {\"choices\":[{\"delta\":{\"content\":\"ok\"},"
                                   "\"finish_reason\":\"stop\"}]}",
                                   err, sizeof err),
                     AOS_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sse_any_split),
        cmocka_unit_test(test_sse_limit),
        cmocka_unit_test(test_chat_stream),
        cmocka_unit_test(test_chat_stream_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
