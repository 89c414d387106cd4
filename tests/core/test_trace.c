/* Unit tests: W3C traceparent parsing and generation, the thread's current trace, and its
 * effect on logs and new events (common/src/core/trace.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "aos/envelope.h"
#include "aos/log.h"
#include "aos/trace.h"

#define TP "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

static bool ok(const char *s)
{
    return aos_trace_parse(s, strlen(s), NULL);
}

static void test_parse(void **state)
{
    (void)state;
    char id[33];
    assert_true(aos_trace_parse(TP, strlen(TP), id));
    assert_string_equal(id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_true(ok("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"));
    /* a later version may carry more after a '-' */
    assert_true(ok("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future"));
    assert_false(ok("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"));
    assert_false(ok("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
    assert_false(ok("00-00000000000000000000000000000000-00f067aa0ba902b7-01"));
    assert_false(ok("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"));
    assert_false(ok("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"));
    assert_false(ok("00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01"));
    assert_false(ok("00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
    assert_false(ok("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g"));
    assert_false(ok(""));
    assert_false(aos_trace_parse(NULL, 0, NULL));
}

static void test_new_and_child(void **state)
{
    (void)state;
    char a[56], b[56], c[56], ida[33], idc[33];
    aos_trace_new(a);
    aos_trace_new(b);
    assert_true(aos_trace_parse(a, strlen(a), ida));
    assert_true(ok(b));
    assert_string_not_equal(a, b);
    aos_trace_child(a, c);
    assert_true(aos_trace_parse(c, strlen(c), idc));
    assert_string_equal(ida, idc);               /* same trace */
    assert_memory_not_equal(a + 36, c + 36, 16); /* new span */
    aos_trace_child("garbage", c);               /* invalid parent: a new trace */
    assert_true(aos_trace_parse(c, strlen(c), idc));
    assert_string_not_equal(ida, idc);
}

static void test_current_logs_and_events(void **state)
{
    (void)state;
    assert_null(aos_trace_current());
    aos_trace_set("not a traceparent");
    assert_null(aos_trace_current());
    aos_trace_set(TP);
    assert_string_equal(aos_trace_current(), TP);
    assert_string_equal(aos_trace_current_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
    /* new events get a child of it */
    aos_event_t *ev = NULL;
    assert_int_equal(aos_event_create("t.x", "/s", "{}", &ev), AOS_OK);
    char id[33];
    assert_non_null(ev->traceparent);
    assert_true(aos_trace_parse(ev->traceparent, strlen(ev->traceparent), id));
    assert_string_equal(id, "4bf92f3577b34da6a3ce929d0e0e4736");
    aos_event_free(ev);
    /* log lines carry its id */
    char path[] = "/tmp/aos-trace-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    aos_log_init("test", AOS_LOG_INFO);
    aos_log_set_fd(fd);
    aos_log(AOS_LOG_INFO, "traced", NULL);
    aos_trace_set(NULL);
    aos_log(AOS_LOG_INFO, "untraced", NULL);
    aos_log_set_fd(1);
    char buf[1024] = "";
    FILE *f = fopen(path, "r");
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    close(fd);
    unlink(path);
    const char *l1 = strstr(buf, "\"msg\":\"traced\""), *l2 = strstr(buf, "\"msg\":\"untraced\"");
    assert_non_null(l1);
    assert_non_null(l2);
    assert_non_null(strstr(l1, "\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\""));
    assert_null(strstr(l2, "trace_id"));
    assert_int_equal(aos_event_create("t.x", "/s", "{}", &ev), AOS_OK);
    assert_null(ev->traceparent); /* no current trace: none */
    aos_event_free(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_new_and_child),
        cmocka_unit_test(test_current_logs_and_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
