/* The durable event outbox (issue 8 item 9; docs/events.md "The relay"): aos-storage's event
 * relay forwards aos.events to Event Grid (a fake topic on loopback speaking the real publish
 * API: aeg-sas-key, CloudEvents batch, 429 with Retry-After, 503) and Kafka (librdkafka's
 * mock cluster) at least once — also when aos-storage is killed with SIGKILL while it holds an
 * event that the sinks have not taken yet. Heartbeats, ML job events and
 * aos.conversation.created (emitted by aos-storage) reach the sinks too.
 *
 * Runs the real aos-storage binary (AOS_BIN_DIR) against the rabbitmq fixture, relaying from
 * the test queue aos.test.xrelay (bound to aos.events with '#'). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
/* cmocka needs the headers above first */
#include <cmocka.h>

#include "aos/claim_check.h"
#include "aos/kafka.h"
#include "eventgrid_fake.h"
#include "kafka_mock.h"
#include "stack_bus.h"

#define STORAGE_Q "aos.test.xevstorage"
#define EG_KEY "relay-test-key"

static struct {
    char url[512];
    char dir[128];
    char tag[32];
    eg_fake_t *eg;
    kafka_mock_t kafka;
    rd_kafka_t *consumer;
    aos_bus_t *bus;
    proc_t storage;
} S;

static const stack_where_t W = {S.url, S.dir, S.tag, STORAGE_Q};

static int start_storage(void)
{
    char *env[] = {stack_env("AOS_EVENTS_RELAY_QUEUE=aos.test.xrelay"),
                   stack_env("AOS_EVENTGRID_ENDPOINT=%s", eg_fake_endpoint(S.eg)),
                   stack_env("AOS_EVENTGRID_KEY=%s", EG_KEY),
                   stack_env("AOS_KAFKA_BROKERS=%s", S.kafka.bootstraps),
                   stack_env("AOS_LOG_LEVEL=info"),
                   NULL};
    return stack_start_storage(&S.storage, &W, "xrelay", env);
}

static int setup(void **state)
{
    (void)state;
    if (!getenv("AOS_BIN_DIR") || stack_prepare(S.url, sizeof S.url, S.dir, sizeof S.dir,
                                                "/tmp/aos-relay-XXXXXX", S.tag, sizeof S.tag) != 0)
        return -1;
    S.eg = eg_fake_start(EG_KEY);
    if (!S.eg || kafka_mock_start(&S.kafka, "aos.events") != 0)
        return -1;
    S.consumer = kafka_mock_consumer(S.kafka.bootstraps, "aos-relay-test", "aos.events");
    if (!S.consumer || stack_bus_open(&W, "test-relay", &S.bus) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    stack_stop(&S.storage, SIGTERM);
    aos_bus_free(S.bus);
    if (S.consumer) {
        rd_kafka_consumer_close(S.consumer);
        rd_kafka_destroy(S.consumer);
    }
    kafka_mock_stop(&S.kafka);
    eg_fake_free(S.eg);
    return 0;
}

/* ---- helpers ---- */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    aos_result r;
} sent_t;

static void on_sent(void *ctx, aos_result r, const char *detail)
{
    (void)detail;
    sent_t *s = ctx;
    pthread_mutex_lock(&s->mu);
    s->done = true;
    s->r = r;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Publish ev on aos.events and wait for the broker: from here on the event is stored. Frees
 * ev. */
static void publish_event(aos_event_t *ev)
{
    sent_t s = {.done = false};
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cv, NULL);
    assert_int_equal(aos_bus_publish(S.bus, "aos.events", ev, on_sent, &s), AOS_OK);
    pthread_mutex_lock(&s.mu);
    while (!s.done)
        pthread_cond_wait(&s.cv, &s.mu);
    pthread_mutex_unlock(&s.mu);
    assert_int_equal(s.r, AOS_OK);
    aos_event_free(ev);
}

static void publish(const char *type, const char *id)
{
    aos_event_t *ev = NULL;
    assert_int_equal(aos_event_create(type, "/tests/relay", "{\"n\":1}", &ev), AOS_OK);
    assert_int_equal(aos_event_set(&ev->id, id), AOS_OK);
    publish_event(ev);
}

static bool eg_has(const char *id)
{
    size_t n = eg_fake_event_count(S.eg);
    char buf[256];
    for (size_t i = 0; i < n; i++) {
        eg_fake_event_id(S.eg, i, buf, sizeof buf);
        if (strcmp(buf, id) == 0)
            return true;
    }
    return false;
}

static bool wait_eg(const char *id, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 100) {
        if (eg_has(id))
            return true;
        stack_sleep_ms(100);
    }
    fprintf(stderr, "event %s never reached the Event Grid fake (%zu events, %zu requests)\n", id,
            eg_fake_event_count(S.eg), eg_fake_requests(S.eg));
    return false;
}

/* Kafka ids seen so far (the consumer reads on). */
static char *kafka_ids[4096];
static size_t kafka_count;

static bool wait_kafka(const char *id, int timeout_ms)
{
    for (size_t i = 0; i < kafka_count; i++)
        if (strcmp(kafka_ids[i], id) == 0)
            return true;
    for (int waited = 0; waited < timeout_ms; waited += 200) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(S.consumer, 200);
        if (!m)
            continue;
        rd_kafka_headers_t *hdrs = NULL;
        const void *v;
        size_t len;
        bool match = false;
        if (!m->err && rd_kafka_message_headers(m, &hdrs) == 0 &&
            rd_kafka_header_get_last(hdrs, "ce_id", &v, &len) == 0 && kafka_count < 4096) {
            kafka_ids[kafka_count++] = strndup(v, len);
            match = strlen(id) == len && memcmp(v, id, len) == 0;
        }
        rd_kafka_message_destroy(m);
        if (match)
            return true;
    }
    fprintf(stderr, "event %s never reached Kafka (%zu records seen)\n", id, kafka_count);
    return false;
}

/* ---- tests ---- */

static void action_survives_sigkill_between_store_and_publish(void **state)
{
    (void)state;
    char id[96], marker[96];
    snprintf(id, sizeof id, "relay-action-%s", S.tag);
    snprintf(marker, sizeof marker, "relay-marker-%s", S.tag);
    /* the relay queue collects every event of the fixture broker (other suites' too): let
     * the relay work through what is there before the marker */
    assert_int_equal(start_storage(), 0);
    publish("aos.test.marker", marker);
    assert_true(wait_eg(marker, 300000));
    /* Event Grid is down (503): the relay takes the action and keeps retrying it, unsettled */
    eg_fake_fail_next_status(S.eg, 1000000, 503);
    publish("aos.agent.action", id);
    size_t before = eg_fake_requests(S.eg);
    assert_int_equal(eg_fake_wait(S.eg, before + 2, 0, 60000), 0);
    assert_false(eg_has(id));
    /* crash while the event is stored but not published */
    assert_int_equal(stack_stop(&S.storage, SIGKILL), -1);
    eg_fake_fail_next_status(S.eg, 0, 503);
    /* the next relay (here: the restarted one) gets it from the broker */
    assert_int_equal(start_storage(), 0);
    assert_true(wait_eg(id, 120000));
    assert_true(wait_kafka(id, 120000));
    assert_true(eg_fake_status_count(S.eg, 503) >= 2);
}

static void every_event_type_reaches_the_sinks(void **state)
{
    (void)state;
    if (!S.storage.pid)
        assert_int_equal(start_storage(), 0);
    /* Event Grid throttles twice (429 + Retry-After): retried, nothing lost */
    eg_fake_fail_next(S.eg, 2, "1");
    char hb[96], job[96];
    snprintf(hb, sizeof hb, "relay-heartbeat-%s", S.tag);
    snprintf(job, sizeof job, "relay-job-%s", S.tag);
    publish("aos.agent.heartbeat", hb);
    publish("aos.ml.job.succeeded", job);
    /* aos.conversation.created comes from aos-storage itself */
    char conv[96], err[256], want[160];
    snprintf(conv, sizeof conv, "c-relay-%s", S.tag);
    aos_storage_client_config_t scc = {.bus = S.bus, .queue = STORAGE_Q, .timeout_ms = 10000};
    aos_storage_client_t *sc = NULL;
    assert_int_equal(aos_storage_client_new(&scc, &sc, err, sizeof err), AOS_OK);
    aos_storage_conversation_t c = {0};
    bool created = false;
    aos_result r = AOS_ERR_TIMEOUT;
    for (int i = 0; i < 5 && r == AOS_ERR_TIMEOUT; i++)
        r = aos_storage_conversation_create_sync(sc, conv, "cfo", NULL, &c, &created, err,
                                                 sizeof err);
    assert_int_equal(r, AOS_OK);
    aos_storage_conversation_clear(&c);
    aos_storage_client_free(sc);
    snprintf(want, sizeof want, "conversation.created:%s", conv);
    assert_true(wait_eg(hb, 120000));
    assert_true(wait_eg(job, 120000));
    assert_true(wait_eg(want, 120000));
    assert_true(wait_kafka(hb, 120000));
    assert_true(wait_kafka(job, 120000));
    assert_true(wait_kafka(want, 120000));
    assert_true(eg_fake_status_count(S.eg, 429) >= 2);
}

/* Issue 8 item 5: an aos.agent.reply that travels on the bus by reference (claim check) reaches
 * Event Grid and Kafka with its data, not the reference. */
static void an_event_by_reference_leaves_with_its_data(void **state)
{
    (void)state;
    if (!S.storage.pid)
        assert_int_equal(start_storage(), 0);
    char err[256] = "", id[96];
    snprintf(id, sizeof id, "relay-claim-%s", S.tag);
    aos_storage_client_config_t scc = {.bus = S.bus, .queue = STORAGE_Q, .timeout_ms = 10000};
    aos_storage_client_t *sc = NULL;
    assert_int_equal(aos_storage_client_new(&scc, &sc, err, sizeof err), AOS_OK);
    size_t big = 300 * 1024;
    char *data = malloc(big + 32);
    assert_non_null(data);
    int o = snprintf(data, big + 32, "{\"reply\":\"");
    memset(data + o, 'R', big);
    strcpy(data + o + big, "\"}");
    aos_event_t *ev = NULL;
    assert_int_equal(aos_event_create("aos.agent.reply", "/tests/relay", data, &ev), AOS_OK);
    assert_int_equal(aos_event_set(&ev->id, id), AOS_OK);
    size_t len = ev->data_len;
    aos_claim_store_t store;
    aos_storage_claim_store(sc, &store);
    bool moved = false;
    aos_result r = AOS_ERR_TIMEOUT;
    for (int i = 0; i < 5 && r == AOS_ERR_TIMEOUT; i++)
        r = aos_claim_check_offload(&store, ev, 64 * 1024, &moved, err, sizeof err);
    assert_int_equal(r, AOS_OK);
    assert_true(moved);
    publish_event(ev);
    assert_true(wait_eg(id, 120000));
    assert_true(wait_kafka(id, 120000));
    size_t n = eg_fake_event_count(S.eg), got = 0;
    char buf[256];
    for (size_t i = 0; i < n; i++) {
        eg_fake_event_id(S.eg, i, buf, sizeof buf);
        if (strcmp(buf, id) == 0)
            got = eg_fake_event_size(S.eg, i);
    }
    assert_int_equal(got, len); /* the data, not the ~150-byte reference */
    aos_storage_client_free(sc);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(action_survives_sigkill_between_store_and_publish),
        cmocka_unit_test(every_event_type_reaches_the_sinks),
        cmocka_unit_test(an_event_by_reference_leaves_with_its_data),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
