/* The Kafka producer: librdkafka with delivery reports turned into aos_result per publish. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <librdkafka/rdkafka.h>

#include "aos/kafka.h"
#include "aos/log.h"

struct aos_kafka_producer {
    rd_kafka_t *rk;
    uint32_t timeout_ms;
};

/* One publish waiting for its delivery report (filled on whichever thread polls). */
typedef struct {
    atomic_int done;
    rd_kafka_resp_err_t err;
} pending_t;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    pending_t *p = m->_private;
    if (!p)
        return;
    p->err = m->err;
    atomic_store_explicit(&p->done, 1, memory_order_release);
}

static aos_result result_of(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
        return AOS_OK;
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
        return AOS_ERR_TIMEOUT;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
        return AOS_ERR_TOO_LARGE;
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
        return AOS_ERR_FORBIDDEN;
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
        return AOS_ERR_AUTH;
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
        return AOS_ERR_NOT_FOUND;
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    case RD_KAFKA_RESP_ERR_THROTTLING_QUOTA_EXCEEDED:
        return AOS_ERR_RATE_LIMITED;
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
        return AOS_ERR_REJECTED;
    default:
        return AOS_ERR_UNAVAILABLE;
    }
}

static aos_result conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, bool secret,
                           char *errbuf, size_t errlen)
{
    char rderr[256];
    if (rd_kafka_conf_set(conf, name, value, rderr, sizeof rderr) != RD_KAFKA_CONF_OK)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "kafka property %s: %s", name,
                        secret ? "rejected" : rderr);
    return AOS_OK;
}

aos_result aos_kafka_eventhubs_bootstrap(const char *connection_string, char *out, size_t outlen)
{
    /* Endpoint=sb://<host>[/] among ';'-separated key=value pairs, key case-insensitive */
    for (const char *p = connection_string; p && *p;) {
        size_t n = strcspn(p, ";");
        if (n > 9 && strncasecmp(p, "Endpoint=", 9) == 0) {
            const char *v = p + 9, *end = p + n;
            const char *sep = strstr(v, "://");
            if (!sep || sep >= end)
                return AOS_ERR_INVALID;
            const char *host = sep + 3;
            size_t hlen = strcspn(host, "/;:");
            if (host + hlen > end)
                hlen = (size_t)(end - host);
            if (hlen == 0 || (size_t)snprintf(out, outlen, "%.*s:9093", (int)hlen, host) >= outlen)
                return AOS_ERR_INVALID;
            return AOS_OK;
        }
        p += n;
        if (*p == ';')
            p++;
    }
    return AOS_ERR_INVALID;
}

static aos_result eventhubs_conf(const char *conn, rd_kafka_conf_t *conf, char *errbuf,
                                 size_t errlen)
{
    AOS_RETURN_IF_FAILED(conf_set(conf, "security.protocol", "SASL_SSL", false, errbuf, errlen));
    AOS_RETURN_IF_FAILED(conf_set(conf, "sasl.mechanisms", "PLAIN", false, errbuf, errlen));
    AOS_RETURN_IF_FAILED(
        conf_set(conf, "sasl.username", "$ConnectionString", false, errbuf, errlen));
    return conf_set(conf, "sasl.password", conn, true, errbuf, errlen);
}

static aos_result build_conf(const aos_kafka_producer_config_t *cfg, rd_kafka_conf_t *conf,
                             char *errbuf, size_t errlen)
{
    char timeout[16];
    snprintf(timeout, sizeof timeout, "%u",
             cfg->delivery_timeout_ms ? cfg->delivery_timeout_ms : 30000u);
    const char *brokers = cfg->brokers;
    char eh_bootstrap[300];
    if (cfg->eventhubs_connection_string) {
        if (aos_kafka_eventhubs_bootstrap(cfg->eventhubs_connection_string, eh_bootstrap,
                                          sizeof eh_bootstrap) != AOS_OK)
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                            "kafka: the Event Hubs connection string has no usable Endpoint");
        if (!brokers || !*brokers)
            brokers = eh_bootstrap;
        AOS_RETURN_IF_FAILED(
            eventhubs_conf(cfg->eventhubs_connection_string, conf, errbuf, errlen));
    }
    AOS_RETURN_IF_FAILED(conf_set(conf, "bootstrap.servers", brokers, false, errbuf, errlen));
    AOS_RETURN_IF_FAILED(conf_set(conf, "client.id", cfg->client_id ? cfg->client_id : "aos", false,
                                  errbuf, errlen));
    AOS_RETURN_IF_FAILED(conf_set(conf, "message.timeout.ms", timeout, false, errbuf, errlen));
    AOS_RETURN_IF_FAILED(conf_set(conf, "enable.idempotence", "true", false, errbuf, errlen));
    AOS_RETURN_IF_FAILED(conf_set(conf, "acks", "all", false, errbuf, errlen));
    AOS_RETURN_IF_FAILED(conf_set(conf, "linger.ms", "5", false, errbuf, errlen));
    for (const char *const *p = cfg->properties; p && p[0]; p += 2) {
        if (!p[1])
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "kafka property %s has no value",
                            p[0]);
        AOS_RETURN_IF_FAILED(
            conf_set(conf, p[0], p[1], aos_log_key_is_secret(p[0]), errbuf, errlen));
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    return AOS_OK;
}

aos_result aos_kafka_producer_new(const aos_kafka_producer_config_t *cfg,
                                  aos_kafka_producer_t **out_producer, char *errbuf, size_t errlen)
{
    *out_producer = NULL;
    if (!cfg || ((!cfg->brokers || !*cfg->brokers) && !cfg->eventhubs_connection_string))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "kafka: no brokers configured");
    aos_kafka_producer_t *p = calloc(1, sizeof *p);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!p || !conf) {
        free(p);
        if (conf)
            rd_kafka_conf_destroy(conf);
        return AOS_ERR_NOMEM;
    }
    aos_result r = build_conf(cfg, conf, errbuf, errlen);
    if (r != AOS_OK) {
        rd_kafka_conf_destroy(conf);
        free(p);
        return r;
    }
    char rderr[512];
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, rderr, sizeof rderr);
    if (!p->rk) {
        rd_kafka_conf_destroy(conf);
        free(p);
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "kafka: %s", rderr);
    }
    p->timeout_ms = cfg->delivery_timeout_ms ? cfg->delivery_timeout_ms : 30000u;
    *out_producer = p;
    return AOS_OK;
}

void aos_kafka_producer_free(aos_kafka_producer_t *p)
{
    if (!p)
        return;
    if (rd_kafka_flush(p->rk, (int)p->timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
        aos_log(AOS_LOG_WARN, "kafka: undelivered messages dropped at shutdown", NULL);
    rd_kafka_destroy(p->rk);
    free(p);
}

static rd_kafka_headers_t *make_headers(const aos_kafka_header_t *h, size_t n)
{
    rd_kafka_headers_t *hdrs = rd_kafka_headers_new(n);
    for (size_t i = 0; hdrs && i < n; i++) {
        if (rd_kafka_header_add(hdrs, h[i].name, -1, h[i].value, (ssize_t)h[i].value_len) !=
            RD_KAFKA_RESP_ERR_NO_ERROR) {
            rd_kafka_headers_destroy(hdrs);
            return NULL;
        }
    }
    return hdrs;
}

aos_result aos_kafka_publish(aos_kafka_producer_t *p, const char *topic, const aos_event_t *ev,
                             char *errbuf, size_t errlen)
{
    if (!p || !topic || !*topic)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "kafka: no producer or topic");
    aos_kafka_header_t *h = NULL;
    size_t n = 0;
    const char *key = NULL;
    AOS_RETURN_IF_FAILED(aos_envelope_to_kafka(ev, &h, &n, &key, errbuf, errlen));
    rd_kafka_headers_t *hdrs = make_headers(h, n);
    free(h);
    if (!hdrs)
        return AOS_ERR_NOMEM;
    pending_t pending = {0};
    rd_kafka_resp_err_t err =
        rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                          RD_KAFKA_V_VALUE(ev->data, ev->data ? ev->data_len : 0),
                          RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(&pending), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_headers_destroy(hdrs); /* ownership passes only on success */
        return aos_fail(result_of(err), errbuf, errlen, "kafka produce to %s: %s", topic,
                        rd_kafka_err2str(err));
    }
    /* message.timeout.ms bounds this: librdkafka always reports every message. */
    while (!atomic_load_explicit(&pending.done, memory_order_acquire))
        rd_kafka_poll(p->rk, 50);
    if (pending.err != RD_KAFKA_RESP_ERR_NO_ERROR)
        return aos_fail(result_of(pending.err), errbuf, errlen, "kafka delivery to %s: %s", topic,
                        rd_kafka_err2str(pending.err));
    return AOS_OK;
}
