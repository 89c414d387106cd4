/* Writes the seed corpora of the core fuzz targets:
 *   core_corpus_gen <tests/fuzz/corpus>
 * creating envelope/, cloudevents_json/, config/ and kafka_envelope/ files in it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <proton/codec.h>
#include <proton/message.h>

#include "aos/envelope.h"
#include "aos/kafka.h"

static const char *g_root;

static void put(const char *dir, const char *name, const void *data, size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", g_root, dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s", g_root, dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len) {
        perror(path);
        exit(1);
    }
    fclose(f);
}

static void put_str(const char *dir, const char *name, const char *s)
{
    put(dir, name, s, strlen(s));
}

static aos_event_t *sample(void)
{
    aos_event_t *ev = NULL;
    aos_event_create("aos.agent.turn", "/aos/router/r1",
                     "{\"conversation_id\":\"c-1\",\"text\":\"hello\",\"kind\":\"query\"}", &ev);
    aos_event_set(&ev->id, "0b6f3f5e-4a51-4c52-9d35-1f4f7c1b2a10");
    aos_event_set(&ev->time, "2026-11-24T10:00:00.123Z");
    aos_event_set(&ev->subject, "c-1");
    aos_event_set(&ev->correlation_id, "req-1");
    aos_event_set(&ev->reply_to, "aos.reply.r1");
    aos_event_set(&ev->group_id, "c-1");
    aos_event_set(&ev->traceparent, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    aos_event_set_ext(ev, "agent", "cfo");
    ev->ttl_ms = 30000;
    return ev;
}

static void put_message(const char *name, pn_message_t *m)
{
    char buf[8192];
    size_t len = sizeof buf;
    if (pn_message_encode(m, buf, &len) != 0)
        exit(1);
    put("envelope", name, buf, len);
}

static void envelope_corpus(void)
{
    aos_event_t *ev = sample();
    char *buf = NULL;
    size_t len = 0;
    aos_envelope_encode(ev, &buf, &len);
    put("envelope", "full.amqp", buf, len);
    put("envelope", "truncated.amqp", buf, len / 2);
    free(buf);
    aos_event_set(&ev->datacontenttype, "application/octet-stream");
    aos_event_set_data(ev, "\x00\x01\x02\xff", 4);
    aos_envelope_encode(ev, &buf, &len);
    put("envelope", "binary.amqp", buf, len);
    free(buf);
    aos_event_free(ev);

    /* amqp-value string body and a timestamp time, as other clients send them */
    pn_message_t *m = pn_message();
    pn_data_t *p = pn_message_properties(m);
    pn_data_put_map(p);
    pn_data_enter(p);
    const char *kv[] = {"cloudEvents:specversion", "1.0", "cloudEvents:id",     "x1",
                        "cloudEvents:type",        "t",   "cloudEvents:source", "s"};
    for (size_t i = 0; i < 8; i++)
        pn_data_put_string(p, pn_bytes(strlen(kv[i]), kv[i]));
    pn_data_put_string(p, pn_bytes(16, "cloudEvents:time"));
    pn_data_put_timestamp(p, 1795510800123LL);
    pn_data_exit(p);
    pn_data_put_string(pn_message_body(m), pn_bytes(9, "{\"a\":[1]}"));
    put_message("value_body.amqp", m);
    pn_message_clear(m);
    put_message("empty.amqp", m);
    pn_message_free(m);
    put("envelope", "garbage.bin", "\x00\x53\x73\xc0\x02\x01\x40", 7);
}

static void json_corpus(void)
{
    aos_event_t *ev = sample();
    char *json = NULL;
    aos_event_to_json(ev, &json);
    put_str("cloudevents_json", "single.json", json);
    free(json);
    aos_event_t *two[2] = {ev, ev};
    aos_event_batch_to_json(two, 2, &json);
    put_str("cloudevents_json", "batch.json", json);
    free(json);
    aos_event_free(ev);
    put_str(
        "cloudevents_json", "eventgrid_blob.json",
        "[{\"specversion\":\"1.0\",\"type\":\"Microsoft.Storage.BlobCreated\",\"source\":"
        "\"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a\","
        "\"id\":\"9aeb0fdf-c01e-0131-0922-9eb54906e209\",\"time\":\"2019-11-18T15:13:39.4589254Z\","
        "\"subject\":\"blobServices/default/containers/c/blobs/b\",\"data\":{\"api\":"
        "\"PutBlockList\",\"contentLength\":524288}}]");
    put_str("cloudevents_json", "base64.json",
            "{\"specversion\":\"1.0\",\"id\":\"1\",\"type\":\"t\",\"source\":\"s\","
            "\"datacontenttype\":\"application/octet-stream\",\"data_base64\":\"AAEC/w==\"}");
    put_str("cloudevents_json", "text.json",
            "{\"specversion\":\"1.0\",\"id\":\"1\",\"type\":\"t\",\"source\":\"s\","
            "\"datacontenttype\":\"text/plain\",\"data\":\"plain words\",\"seq\":5,\"ok\":true}");
    put_str("cloudevents_json", "bad_spec.json",
            "{\"specversion\":\"0.3\",\"id\":\"1\",\"type\":\"t\",\"source\":\"s\"}");
    put_str("cloudevents_json", "deep.json", "[[[[[[[[[[[[[[[[[[[[{}]]]]]]]]]]]]]]]]]]]]");
}

static void config_corpus(void)
{
    put_str("config", "settings.json",
            "{\"settings\":{\"bus_url\":\"amqp://guest:guest@127.0.0.1:5672\",\"bus_profile\":"
            "\"rabbitmq\",\"http_addr\":\"0.0.0.0:8080\",\"log_level\":\"debug\",\"s\":\"x\","
            "\"e\":\"B\",\"u\":\"https://h:1/p\",\"hp\":\"[::1]:9\",\"i\":-5,\"d\":\"2m\","
            "\"z\":\"10M\",\"b\":\"yes\"},\"agents\":[{\"name\":\"cfo\"}]}");
    put_str("config", "bad_types.json",
            "{\"settings\":{\"i\":[1],\"b\":2,\"s\":{},\"d\":\"1.5s\",\"z\":\"9999999999G\","
            "\"hp\":\"::1:80\",\"u\":\"ftp://x\"}}");
    put_str("config", "not_object.json", "[\"settings\"]");
    put_str("config", "empty.json", "{}");
}

static void kafka_corpus(void)
{
    aos_event_t *ev = sample();
    aos_kafka_header_t *h = NULL;
    size_t n = 0;
    const char *key = NULL;
    char err[128];
    if (aos_envelope_to_kafka(ev, &h, &n, &key, err, sizeof err) != AOS_OK)
        exit(1);
    unsigned char rec[4096];
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        rec[o++] = (unsigned char)strlen(h[i].name);
        memcpy(rec + o, h[i].name, strlen(h[i].name));
        o += strlen(h[i].name);
        rec[o++] = (unsigned char)h[i].value_len;
        memcpy(rec + o, h[i].value, h[i].value_len);
        o += h[i].value_len;
    }
    rec[o++] = 0;
    rec[o++] = (unsigned char)strlen(key);
    memcpy(rec + o, key, strlen(key));
    o += strlen(key);
    memcpy(rec + o, ev->data, ev->data_len);
    o += ev->data_len;
    put("kafka_envelope", "binary_mode.rec", rec, o);
    free(h);
    const char structured[] = "\x0c"
                              "content-type"
                              "\x1c"
                              "application/cloudevents+json"
                              "\x00\x01k{\"specversion\":\"1.0\",\"id\":\"1\",\"type\":\"t\","
                              "\"source\":\"s\"}";
    put("kafka_envelope", "structured.rec", structured, sizeof structured - 1);
    aos_event_free(ev);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s <corpus-root>\n", argv[0]);
        return 2;
    }
    g_root = argv[1];
    envelope_corpus();
    json_corpus();
    config_corpus();
    kafka_corpus();
    return 0;
}
