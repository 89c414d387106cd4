/* Writes the seed corpus of fuzz_amqp_msg (messages as the bus, Proton and brokers encode
 * them):  amqp_corpus_gen <tests/fuzz/corpus/amqp_msg> */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <proton/codec.h>
#include <proton/message.h>

#include "aos/envelope.h"
#include "bus_internal.h"

static const char *g_dir;

static void put(const char *name, const void *data, size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len) {
        perror(path);
        exit(1);
    }
    fclose(f);
}

static void put_pn(const char *name, pn_message_t *m)
{
    char buf[8192];
    size_t len = sizeof buf;
    if (pn_message_encode(m, buf, &len) != 0)
        exit(1);
    put(name, buf, len);
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
    aos_event_set(&ev->reply_to_group_id, "r1");
    aos_event_set(&ev->traceparent, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    aos_event_set_ext(ev, "agent", "cfo");
    ev->ttl_ms = 30000;
    return ev;
}

static void put_sym_map(pn_data_t *d, const char *const *kv, size_t n)
{
    pn_data_put_map(d);
    pn_data_enter(d);
    for (size_t i = 0; i < n; i += 2) {
        pn_data_put_symbol(d, pn_bytes(strlen(kv[i]), kv[i]));
        pn_data_put_string(d, pn_bytes(strlen(kv[i + 1]), kv[i + 1]));
    }
    pn_data_exit(d);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    g_dir = argv[1];
    mkdir(g_dir, 0755);
    char err[256], *buf = NULL;
    size_t len = 0;
    aos_event_t *ev = sample();

    /* what the bus sends: bus_msg_write, and the pn_message_t reference */
    bus_msg_write(ev, "aos.agent.turn", 1795510800123LL, &buf, &len, err, sizeof err);
    put("bus_write.amqp", buf, len);
    put("bus_write_truncated.amqp", buf, len - 7);
    free(buf);
    bus_msg_encode_pn_(ev, NULL, 1795510800123LL, &buf, &len, err, sizeof err);
    put("bus_pn.amqp", buf, len);
    free(buf);
    /* a counted copy and a dead letter (RabbitMQ profile) */
    bus_msg_encode(ev, NULL, 2, &buf, &len, err, sizeof err);
    put("bus_counted.amqp", buf, len);
    char *dl = NULL;
    size_t dl_len = 0;
    bus_msg_copy(buf, len, "/amq/queue/q", 3, "aos:poison", "handler failed", &dl, &dl_len);
    put("bus_dead_letter.amqp", dl, dl_len);
    free(dl);
    free(buf);

    /* as a broker delivers it: header with first-acquirer and delivery-count, delivery and
     * message annotations (symbol keys, an array, a described value), a footer */
    pn_message_t *m = pn_message();
    aos_envelope_to_message(ev, m, err, sizeof err);
    pn_message_set_first_acquirer(m, true);
    pn_message_set_delivery_count(m, 1);
    pn_message_set_creation_time(m, 1795510800123LL);
    const char *ma[] = {"x-exchange", "", "x-routing-key", "aos.agent.cfo", "x-opt-sequence-number",
                        "17"};
    put_sym_map(pn_message_annotations(m), ma, 6);
    pn_data_t *da = pn_message_instructions(m);
    pn_data_put_map(da);
    pn_data_enter(da);
    pn_data_put_symbol(da, pn_bytes(11, "x-opt-array"));
    pn_data_put_array(da, false, PN_INT);
    pn_data_enter(da);
    for (int i = 0; i < 3; i++)
        pn_data_put_int(da, i);
    pn_data_exit(da);
    pn_data_put_symbol(da, pn_bytes(13, "x-opt-desc-ed"));
    pn_data_put_described(da);
    pn_data_enter(da);
    pn_data_put_ulong(da, 0x1234);
    pn_data_put_list(da);
    pn_data_enter(da);
    pn_data_put_string(da, pn_bytes(1, "x"));
    pn_data_put_null(da);
    pn_data_exit(da);
    pn_data_exit(da);
    pn_data_exit(da);
    put_pn("broker_delivery.amqp", m);

    /* an amqp-value string body, a uuid correlation-id, typed extensions */
    pn_data_clear(pn_message_body(m));
    pn_message_set_inferred(m, false);
    pn_data_put_string(pn_message_body(m), pn_bytes(7, "[1,2,3]"));
    pn_atom_t cid = {.type = PN_UUID};
    memcpy(cid.u.as_uuid.bytes, "\x12\x34\x56\x78\x9a\xbc\xde\xf0\x12\x34\x56\x78\x9a\xbc\xde\xf0",
           16);
    pn_message_set_correlation_id(m, cid);
    pn_data_t *p = pn_message_properties(m);
    pn_data_rewind(p);
    pn_data_next(p);
    pn_data_enter(p);
    while (pn_data_next(p))
        ;
    pn_data_put_string(p, pn_bytes(19, "cloudEvents:retries"));
    pn_data_put_long(p, -2);
    pn_data_put_string(p, pn_bytes(19, "cloudEvents:sampled"));
    pn_data_put_bool(p, true);
    pn_data_put_string(p, pn_bytes(strlen(BUS_PROP_DELIVERY_COUNT), BUS_PROP_DELIVERY_COUNT));
    pn_data_put_uint(p, 4);
    pn_data_exit(p);
    put_pn("value_body.amqp", m);
    pn_message_free(m);

    /* broken on purpose: a section out of order, an odd map, a list that overruns */
    put("out_of_order.amqp", "\x00\x53\x73\x45\x00\x53\x70\x45", 8);
    put("odd_map.amqp", "\x00\x53\x74\xc1\x03\x01\xa1\x00", 8);
    put("overrun.amqp", "\x00\x53\x70\xc0\x05\x02\x41\x40", 8);
    aos_event_free(ev);
    return 0;
}
