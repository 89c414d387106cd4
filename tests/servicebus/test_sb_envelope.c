/* Issue 8 item 10, against the Service Bus test peer:
 *  - a message whose content-type is not JSON is not handed to the handler: the bus
 *    dead-letters it with reason aos:unsupported-content-type (and counts it);
 *  - a message whose absolute-expiry-time (creation + ttl) passed is dropped and counted;
 *  - `aosctl dlq list` prints each dead letter exactly once even when printing is slow (the
 *    released copies come straight back while it prints). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aos/bus.h"
#include "aos/envelope.h"
#include "aos/metrics.h"
#include "aosctl.h"
#include "sb_test.h"

typedef struct {
    pthread_mutex_t mu;
    int n;
    char ids[16][64];
} seen_t;

static void on_msg(void *ctx, aos_bus_delivery_t *d, const aos_event_t *ev)
{
    seen_t *s = ctx;
    pthread_mutex_lock(&s->mu);
    if (s->n < 16)
        snprintf(s->ids[s->n++], 64, "%s", ev->id);
    pthread_mutex_unlock(&s->mu);
    aos_bus_accept(d);
}

static aos_bus_t *bus_on(sb_peer_t *peer, const char *instance)
{
    aos_bus_t *bus = sb_test_bus(peer, instance);
    assert_int_equal(aos_bus_start(bus), AOS_OK);
    assert_int_equal(aos_bus_wait_connected(bus, 30000), AOS_OK);
    return bus;
}

static void send(aos_bus_t *bus, const char *ctype, const char *data, uint32_t ttl_ms, char *out_id)
{
    aos_event_t *ev = NULL;
    assert_int_equal(aos_event_create("aos.test.envelope", "/aos/tests", NULL, &ev), AOS_OK);
    assert_int_equal(aos_event_set(&ev->datacontenttype, ctype), AOS_OK);
    assert_int_equal(aos_event_set_data(ev, data, strlen(data)), AOS_OK);
    ev->ttl_ms = ttl_ms;
    snprintf(out_id, 64, "%s", ev->id);
    char err[256] = "";
    if (aos_bus_send_sync(bus, "aos.work", ev, 20000, err, sizeof err) != AOS_OK)
        fail_msg("send: %s", err);
    aos_event_free(ev);
}

static bool metric_has(const char *needle)
{
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(aos_metrics_render(NULL, &text, &len), AOS_OK);
    bool yes = strstr(text, needle) != NULL;
    free(text);
    return yes;
}

/* A FILE whose every write takes a while, like a terminal over a slow link. */
typedef struct {
    char buf[16384];
    size_t len;
} slow_t;

static ssize_t slow_write(void *c, const char *b, size_t n)
{
    slow_t *s = c;
    sb_test_sleep_ms(300);
    size_t k = n < sizeof s->buf - 1 - s->len ? n : sizeof s->buf - 1 - s->len;
    memcpy(s->buf + s->len, b, k);
    s->len += k;
    s->buf[s->len] = '\0';
    return (ssize_t)n;
}

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void envelope_checks_and_dlq_list(void **state)
{
    (void)state;
    sb_peer_t *peer = sb_test_peer();
    sb_peer_set_session_queues(peer, "aos.reply");
    aos_bus_t *bus = bus_on(peer, "sb-envelope-test");

    char good[64], text[3][64], expired[64];
    send(bus, "application/json", "{\"ok\":true}", 0, good);
    for (int i = 0; i < 3; i++)
        send(bus, "text/plain", "hello, not json", 0, text[i]);
    send(bus, "application/json", "{\"late\":true}", 1, expired);
    sb_test_sleep_ms(50); /* the 1 ms ttl has passed for sure */

    seen_t seen = {.mu = PTHREAD_MUTEX_INITIALIZER};
    assert_int_equal(aos_bus_subscribe(bus, "aos.work", 8, on_msg, &seen), AOS_OK);
    char log[16384];
    for (int i = 0; i < 300; i++) {
        sb_peer_log(peer, log, sizeof log);
        if (count_of(log, "dead-letter aos.work aos:unsupported-content-type") >= 3 &&
            metric_has("aos_bus_messages_expired_total{address=\"aos.work\"} 1"))
            break;
        sb_test_sleep_ms(100);
    }
    sb_test_sleep_ms(300);
    pthread_mutex_lock(&seen.mu);
    int n = seen.n;
    pthread_mutex_unlock(&seen.mu);
    if (n != 1 || strcmp(seen.ids[0], good) != 0)
        fail_msg("the handler got %d messages (want only the JSON one); peer log:\n%s", n, log);
    assert_int_equal(count_of(log, "dead-letter aos.work aos:unsupported-content-type"), 3);
    assert_true(metric_has("aos_bus_messages_expired_total{address=\"aos.work\"} 1"));
    assert_true(metric_has("aos_bus_messages_refused_total{address=\"aos.work\",reason=\"aos:"
                           "unsupported-content-type\"} 3"));
    aos_bus_free(bus);

    /* aosctl dlq list with a slow terminal: each dead letter once */
    sb_test_bus_cfg_t c;
    sb_test_bus_cfg(&c, peer, SB_TEST_KEY, NULL);
    setenv("AOS_BUS_URL", c.url, 1);
    setenv("AOS_SERVICEBUS_CONNECTION_STRING", c.cs, 1);
    setenv("AOS_BUS_PROFILE", "servicebus", 1);
    static slow_t slow;
    FILE *out = fopencookie(&slow, "w", (cookie_io_functions_t){.write = slow_write});
    assert_non_null(out);
    setvbuf(out, NULL, _IONBF, 0);
    aosctl_opts_t o = {.out = out, .err = stderr};
    char *argv[] = {"list", "aos.work"};
    int rc = aosctl_dlq(&o, 2, argv);
    fclose(out);
    assert_int_equal(rc, 0);
    for (int i = 0; i < 3; i++)
        if (count_of(slow.buf, text[i]) != 1)
            fail_msg("dead letter %s printed %d times:\n%s", text[i], count_of(slow.buf, text[i]),
                     slow.buf);
    assert_non_null(strstr(slow.buf, "reason=aos:unsupported-content-type"));
    assert_non_null(strstr(slow.buf, "3 dead letters in aos.work"));
    sb_peer_stop(peer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(envelope_checks_and_dlq_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
