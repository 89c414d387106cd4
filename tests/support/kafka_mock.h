/* tests/support/kafka_mock.h: librdkafka's mock cluster for tests (header-only): a one-broker
 * cluster with one topic, a consumer reading it from the beginning, and a record read back
 * as an event. Link aos_kafka. */
#ifndef AOS_TEST_KAFKA_MOCK_H
#define AOS_TEST_KAFKA_MOCK_H

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stddef.h>

#include "aos/kafka.h"

typedef struct kafka_mock {
    rd_kafka_t *host; /* owns the mock cluster */
    rd_kafka_mock_cluster_t *mc;
    const char *bootstraps; /* valid until kafka_mock_stop */
} kafka_mock_t;

/* Start a one-broker cluster with topic (one partition). 0, or -1 (kafka_mock_stop frees what
 * was made). */
static inline int kafka_mock_start(kafka_mock_t *m, const char *topic)
{
    char err[256];
    *m = (kafka_mock_t){0};
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
    if (!(m->host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err)) ||
        !(m->mc = rd_kafka_mock_cluster_new(m->host, 1)))
        return -1;
    m->bootstraps = rd_kafka_mock_cluster_bootstraps(m->mc);
    return rd_kafka_mock_topic_create(m->mc, topic, 1, 1) == 0 ? 0 : -1;
}

static inline void kafka_mock_stop(kafka_mock_t *m)
{
    if (m->mc)
        rd_kafka_mock_cluster_destroy(m->mc);
    if (m->host)
        rd_kafka_destroy(m->host);
    *m = (kafka_mock_t){0};
}

/* A consumer in group of partition 0 of topic from its beginning, without auto commit; NULL
 * on failure. Close and destroy it. */
static inline rd_kafka_t *kafka_mock_consumer(const char *bootstraps, const char *group,
                                              const char *topic)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, err, sizeof err) != 0 ||
        rd_kafka_conf_set(conf, "group.id", group, err, sizeof err) != 0 ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err) != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!c)
        return NULL;
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t e = rd_kafka_assign(c, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_destroy(c);
        return NULL;
    }
    return c;
}

/* The event a consumed record carries (its headers, value and key: aos_envelope_from_kafka);
 * *out is the caller's. */
static inline aos_result kafka_mock_decode(const rd_kafka_message_t *msg, aos_event_t **out,
                                           char *err, size_t errlen)
{
    rd_kafka_headers_t *hdrs = NULL;
    if (rd_kafka_message_headers(msg, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return AOS_ERR_INVALID;
    aos_kafka_header_t h[32];
    size_t n = 0;
    const char *name;
    const void *val;
    size_t len;
    while (n < 32 && rd_kafka_header_get_all(hdrs, n, &name, &val, &len) == 0) {
        h[n] = (aos_kafka_header_t){name, val, len};
        n++;
    }
    return aos_envelope_from_kafka(h, n, msg->payload, msg->len, msg->key, msg->key_len, out, err,
                                   errlen);
}

#endif
