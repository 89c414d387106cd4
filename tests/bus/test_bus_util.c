/* Unit tests of the bus's pure parts: URLs, profiles, names, addresses, backoff. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <proton/message.h>
#include <stdlib.h>

#include "aos/bus_dlq.h"
#include "aos/envelope.h"
#include "bus_internal.h"
#include "bus_util.h"

static void url_ok(const char *url, bool tls, const char *user, const char *pass, const char *host,
                   uint16_t port)
{
    aos_bus_url_t u;
    char err[128] = "";
    assert_int_equal(aos_bus_url_parse(url, &u, err, sizeof err), AOS_OK);
    assert_int_equal(u.tls, tls);
    assert_int_equal(u.has_user, user != NULL);
    if (user) {
        assert_string_equal(u.user, user);
        assert_string_equal(u.password, pass);
    }
    assert_string_equal(u.host, host);
    assert_int_equal(u.port, port);
}

static void url_bad(const char *url, const char *needle)
{
    aos_bus_url_t u;
    char err[128] = "";
    assert_int_equal(aos_bus_url_parse(url, &u, err, sizeof err), AOS_ERR_INVALID);
    if (needle && !strstr(err, needle))
        fail_msg("error for '%s' is '%s', expected it to mention '%s'", url, err, needle);
}

static void test_url_valid(void **state)
{
    (void)state;
    url_ok("amqp://guest:guest@127.0.0.1:5672", false, "guest", "guest", "127.0.0.1", 5672);
    url_ok("amqp://localhost", false, NULL, NULL, "localhost", 5672);
    url_ok("amqps://ns.servicebus.windows.net", true, NULL, NULL, "ns.servicebus.windows.net",
           5671);
    url_ok("AMQPS://u@h:1/", true, "u", "", "h", 1);
    url_ok("amqp://a%40b:p%3Ass%2F@[::1]:25672", false, "a@b", "p:ss/", "::1", 25672);
    url_ok("amqp://u:p@w@host", false, "u", "p@w", "host", 5672); /* last @ ends user info */
}

static void test_url_invalid(void **state)
{
    (void)state;
    url_bad("http://host", "amqp");
    url_bad("amqp://", "host");
    url_bad("amqp://:pw@host", "user");
    url_bad("amqp://host:0", "port");
    url_bad("amqp://host:65536", "port");
    url_bad("amqp://host:12x", "port");
    url_bad("amqp://host:", "port");
    url_bad("amqp://host/vhost", "path");
    url_bad("amqp://host?x=1", "query");
    url_bad("amqp://ho st", "whitespace");
    url_bad("amqp://u:%zz@host", "escape");
    url_bad("amqp://u:%0@host", "escape");
    url_bad("amqp://u:%00@host", "NUL");
    url_bad("amqp://[::1", "IPv6");
    url_bad("amqp://[::1]x", "after");
    url_bad("amqp://h\x01", "control");
    char long_host[400];
    memset(long_host, 'a', sizeof long_host);
    memcpy(long_host, "amqp://", 7);
    long_host[sizeof long_host - 1] = '\0';
    url_bad(long_host, "too long");
    url_bad(NULL, NULL);
}

static void test_url_password_not_echoed(void **state)
{
    (void)state;
    aos_bus_url_t u;
    char err[256] = "";
    assert_int_equal(aos_bus_url_parse("amqp://u:s3cr3t@host/x", &u, err, sizeof err),
                     AOS_ERR_INVALID);
    assert_null(strstr(err, "s3cr3t"));
}

static void test_profile(void **state)
{
    (void)state;
    aos_bus_profile p;
    assert_int_equal(aos_bus_profile_resolve(AOS_BUS_PROFILE_AUTO, NULL, "localhost", false, &p),
                     AOS_OK);
    assert_int_equal(p, AOS_BUS_PROFILE_RABBITMQ);
    assert_int_equal(
        aos_bus_profile_resolve(AOS_BUS_PROFILE_AUTO, NULL, "x.ServiceBus.Windows.NET", false, &p),
        AOS_OK);
    assert_int_equal(p, AOS_BUS_PROFILE_SERVICEBUS);
    assert_int_equal(aos_bus_profile_resolve(AOS_BUS_PROFILE_AUTO, NULL, NULL, true, &p), AOS_OK);
    assert_int_equal(p, AOS_BUS_PROFILE_SERVICEBUS);
    assert_int_equal(aos_bus_profile_resolve(AOS_BUS_PROFILE_AUTO, "rabbitmq",
                                             "x.servicebus.windows.net", true, &p),
                     AOS_OK);
    assert_int_equal(p, AOS_BUS_PROFILE_RABBITMQ);
    assert_int_equal(
        aos_bus_profile_resolve(AOS_BUS_PROFILE_SERVICEBUS, "rabbitmq", NULL, false, &p), AOS_OK);
    assert_int_equal(p, AOS_BUS_PROFILE_SERVICEBUS);
    assert_int_equal(aos_bus_profile_resolve(AOS_BUS_PROFILE_AUTO, "kafka", NULL, false, &p),
                     AOS_ERR_INVALID);
    /* "auto" is the table's default value: it infers, as if unset */
    assert_int_equal(aos_bus_profile_resolve(AOS_BUS_PROFILE_AUTO, "auto",
                                             "x.servicebus.windows.net", false, &p),
                     AOS_OK);
    assert_int_equal(p, AOS_BUS_PROFILE_SERVICEBUS);
}

/* The one parser of a profile name: every service and aosctl read AOS_BUS_PROFILE with it. */
static void test_profile_parse(void **state)
{
    (void)state;
    aos_bus_profile p = AOS_BUS_PROFILE_RABBITMQ;
    assert_int_equal(aos_bus_profile_parse(NULL, &p), AOS_OK);
    assert_int_equal(p, AOS_BUS_PROFILE_AUTO);
    assert_int_equal(aos_bus_profile_parse("", &p), AOS_OK);
    assert_int_equal(p, AOS_BUS_PROFILE_AUTO);
    assert_int_equal(aos_bus_profile_parse("Auto", &p), AOS_OK);
    assert_int_equal(p, AOS_BUS_PROFILE_AUTO);
    assert_int_equal(aos_bus_profile_parse("RabbitMQ", &p), AOS_OK);
    assert_int_equal(p, AOS_BUS_PROFILE_RABBITMQ);
    assert_int_equal(aos_bus_profile_parse("servicebus", &p), AOS_OK);
    assert_int_equal(p, AOS_BUS_PROFILE_SERVICEBUS);
    assert_int_equal(aos_bus_profile_parse("kafka", &p), AOS_ERR_INVALID);
    assert_int_equal(p, AOS_BUS_PROFILE_AUTO);
    assert_int_equal(aos_bus_profile_of("SERVICEBUS"), AOS_BUS_PROFILE_SERVICEBUS);
    assert_int_equal(aos_bus_profile_of("kafka"), AOS_BUS_PROFILE_AUTO);
}

static void test_names(void **state)
{
    (void)state;
    assert_true(aos_bus_name_valid("aos.agent.cfo"));
    assert_true(aos_bus_name_valid("A-b_c.9"));
    assert_false(aos_bus_name_valid(""));
    assert_false(aos_bus_name_valid(NULL));
    assert_false(aos_bus_name_valid("a/b"));
    assert_false(aos_bus_name_valid("a b"));
    assert_false(aos_bus_name_valid("a#"));
    char longname[AOS_BUS_NAME_MAX + 2];
    memset(longname, 'q', sizeof longname);
    longname[AOS_BUS_NAME_MAX] = '\0';
    assert_true(aos_bus_name_valid(longname));
    longname[AOS_BUS_NAME_MAX] = 'q';
    longname[AOS_BUS_NAME_MAX + 1] = '\0';
    assert_false(aos_bus_name_valid(longname));
}

static void test_addresses(void **state)
{
    (void)state;
    char a[128];
    assert_int_equal(aos_bus_map_queue(AOS_BUS_PROFILE_RABBITMQ, "aos.storage", a, sizeof a),
                     AOS_OK);
    assert_string_equal(a, "/amq/queue/aos.storage");
    assert_int_equal(aos_bus_map_queue(AOS_BUS_PROFILE_SERVICEBUS, "aos.storage", a, sizeof a),
                     AOS_OK);
    assert_string_equal(a, "aos.storage");
    assert_int_equal(aos_bus_map_topic(AOS_BUS_PROFILE_RABBITMQ, "aos.events",
                                       "aos.agent.heartbeat", a, sizeof a),
                     AOS_OK);
    assert_string_equal(a, "/exchange/aos.events/aos.agent.heartbeat");
    assert_int_equal(aos_bus_map_topic(AOS_BUS_PROFILE_SERVICEBUS, "aos.events", "x", a, sizeof a),
                     AOS_OK);
    assert_string_equal(a, "aos.events");
    assert_int_equal(aos_bus_map_reply(AOS_BUS_PROFILE_RABBITMQ, "r1", a, sizeof a), AOS_OK);
    assert_string_equal(a, "/queue/aos.reply.r1");
    assert_int_equal(aos_bus_map_reply(AOS_BUS_PROFILE_SERVICEBUS, "r1", a, sizeof a), AOS_OK);
    assert_string_equal(a, "aos.reply"); /* shared session queue, session = instance id */
    assert_int_equal(
        aos_bus_map_dead_letter(AOS_BUS_PROFILE_RABBITMQ, "/amq/queue/aos.ml", a, sizeof a),
        AOS_OK);
    assert_string_equal(a, "/amq/queue/aos.ml.dlq");
    assert_int_equal(aos_bus_map_dead_letter(AOS_BUS_PROFILE_RABBITMQ, "/queue/x", a, sizeof a),
                     AOS_OK);
    assert_string_equal(a, "/amq/queue/x.dlq");
    assert_int_equal(aos_bus_map_dead_letter(AOS_BUS_PROFILE_SERVICEBUS, "aos.ml", a, sizeof a),
                     AOS_OK);
    assert_string_equal(a, "aos.ml/$deadletterqueue");
    assert_int_equal(
        aos_bus_map_dead_letter(AOS_BUS_PROFILE_RABBITMQ, "/amq/queue/aos.ml.dlq", a, sizeof a),
        AOS_ERR_UNSUPPORTED);
    assert_int_equal(
        aos_bus_map_dead_letter(AOS_BUS_PROFILE_RABBITMQ, "/exchange/aos.events/#", a, sizeof a),
        AOS_ERR_UNSUPPORTED);
    /* bad names and small buffers change nothing and say so */
    assert_int_equal(aos_bus_map_queue(AOS_BUS_PROFILE_RABBITMQ, "a/b", a, sizeof a),
                     AOS_ERR_INVALID);
    assert_int_equal(aos_bus_map_topic(AOS_BUS_PROFILE_RABBITMQ, "aos.events", "a b", a, sizeof a),
                     AOS_ERR_INVALID);
    char small[8];
    assert_int_equal(
        aos_bus_map_queue(AOS_BUS_PROFILE_RABBITMQ, "aos.storage", small, sizeof small),
        AOS_ERR_TOO_LARGE);
}

/* Every service's bus comes from its common configuration through one function. */
static void test_config_from_common(void **state)
{
    (void)state;
    aos_config_common_t c = {.bus_url = "amqp://h:5672",
                             .bus_profile = "ServiceBus",
                             .servicebus_connection_string = "Endpoint=sb://x/",
                             .instance_id = "svc-1"};
    aos_bus_config_t bc;
    aos_bus_config_from_common(&c, NULL, &bc);
    assert_string_equal(bc.url, "amqp://h:5672");
    assert_int_equal(bc.profile, AOS_BUS_PROFILE_SERVICEBUS);
    assert_string_equal(bc.connection_string, "Endpoint=sb://x/");
    assert_string_equal(bc.instance_id, "svc-1");
    assert_int_equal(bc.max_deliveries, 0);
    aos_bus_config_from_common(&c, "router-dlq-1", &bc);
    assert_string_equal(bc.instance_id, "router-dlq-1");
    c.bus_profile = "auto";
    aos_bus_config_from_common(&c, NULL, &bc);
    assert_int_equal(bc.profile, AOS_BUS_PROFILE_AUTO);
}

/* aosctl dlq and the console read dead letters through aos/bus_dlq.h, from this address. */
static void test_dead_letter_address(void **state)
{
    (void)state;
    char a[128], err[256];
    aos_bus_t *rabbit = NULL, *sb = NULL;
    aos_bus_config_t rc = {.url = "amqp://127.0.0.1:1", .profile = AOS_BUS_PROFILE_RABBITMQ};
    aos_bus_config_t sc = {
        .connection_string =
            "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=a2V5",
        .profile = AOS_BUS_PROFILE_SERVICEBUS};
    assert_int_equal(aos_bus_new(&rc, &rabbit, err, sizeof err), AOS_OK);
    assert_int_equal(aos_bus_new(&sc, &sb, err, sizeof err), AOS_OK);
    assert_int_equal(aos_bus_dead_letter_address(rabbit, "aos.agent.cfo", a, sizeof a), AOS_OK);
    assert_string_equal(a, "/amq/queue/aos.agent.cfo.dlq");
    assert_int_equal(aos_bus_dead_letter_address(sb, "aos.agent.cfo", a, sizeof a), AOS_OK);
    assert_string_equal(a, "aos.agent.cfo/$deadletterqueue");
    assert_int_equal(aos_bus_dead_letter_address(rabbit, "a/b", a, sizeof a), AOS_ERR_INVALID);
    assert_int_equal(aos_bus_dead_letter_address(rabbit, "aos.agent.cfo.dlq", a, sizeof a),
                     AOS_ERR_UNSUPPORTED);
    char small[8];
    assert_int_equal(aos_bus_dead_letter_address(sb, "aos.agent.cfo", small, sizeof small),
                     AOS_ERR_TOO_LARGE);
    aos_bus_dlq_t *c = NULL;
    assert_int_equal(aos_bus_dlq_new(0, &c), AOS_ERR_INVALID);
    assert_null(c);
    assert_int_equal(aos_bus_dlq_new(4, &c), AOS_OK);
    assert_int_equal(aos_bus_dlq_count(c), 0);
    assert_null(aos_bus_dlq_get(c, 0));
    assert_int_equal(aos_bus_dlq_find(c, "x"), 0);
    aos_bus_dlq_free(c);
    aos_bus_dlq_free(NULL);
    aos_bus_free(rabbit);
    aos_bus_free(sb);
}

static void test_backoff(void **state)
{
    (void)state;
    /* bounds: always within [min, min(max, min * 2^attempt)] */
    for (uint32_t attempt = 0; attempt < 40; attempt++) {
        uint64_t cap = 100;
        for (uint32_t i = 0; i < attempt && cap < 10000; i++)
            cap *= 2;
        if (cap > 10000)
            cap = 10000;
        for (uint64_t rnd = 0; rnd < 5000; rnd += 37) {
            uint32_t d = aos_bus_backoff_ms(100, 10000, attempt, rnd * 2654435761u);
            assert_true(d >= 100);
            assert_true(d <= cap);
        }
    }
    /* the largest draw grows with the attempt until the cap */
    assert_int_equal(aos_bus_backoff_ms(100, 10000, 0, 0), 100);
    assert_int_equal(aos_bus_backoff_ms(100, 10000, 3, 700), 800);
    assert_int_equal(aos_bus_backoff_ms(100, 10000, 30, 9900), 10000);
    /* full jitter: different random draws spread over the window */
    assert_int_not_equal(aos_bus_backoff_ms(100, 10000, 5, 1),
                         aos_bus_backoff_ms(100, 10000, 5, 1000));
    /* degenerate bounds */
    assert_int_equal(aos_bus_backoff_ms(0, 0, 3, 12345), 1);
    assert_int_equal(aos_bus_backoff_ms(500, 100, 3, 12345), 500);
}

/* Re-encode bytes with the AMQP header's first-acquirer / delivery-count as a broker sets them. */
static void with_header(char **bytes, size_t *len, bool first, uint32_t count)
{
    pn_message_t *m = pn_message();
    assert_int_equal(pn_message_decode(m, *bytes, *len), 0);
    pn_message_set_first_acquirer(m, first);
    pn_message_set_delivery_count(m, count);
    char buf[4096];
    size_t n = sizeof buf;
    assert_int_equal(pn_message_encode(m, buf, &n), 0);
    pn_message_free(m);
    free(*bytes);
    *bytes = malloc(n);
    memcpy(*bytes, buf, n);
    *len = n;
}

static uint32_t decoded_count(aos_bus_profile p, const char *bytes, size_t len)
{
    aos_event_t *ev = NULL;
    bus_msg_info_t info;
    char err[256];
    assert_int_equal(bus_msg_decode(p, bytes, len, &ev, &info, err, sizeof err), AOS_OK);
    uint32_t c = info.count;
    aos_event_free(ev);
    bus_msg_info_clear(&info);
    return c;
}

static void test_delivery_counts(void **state)
{
    (void)state;
    aos_event_t *ev = NULL;
    assert_int_equal(aos_event_create("aos.test.count", "/t", "{}", &ev), AOS_OK);
    char *b = NULL;
    size_t n = 0;
    char err[256];
    assert_int_equal(bus_msg_encode(ev, NULL, 0, &b, &n, err, sizeof err), AOS_OK);
    /* RabbitMQ: first delivery, then a redelivery (first-acquirer false, count unset) */
    with_header(&b, &n, true, 0);
    assert_int_equal(decoded_count(AOS_BUS_PROFILE_RABBITMQ, b, n), 0);
    with_header(&b, &n, false, 0);
    assert_int_equal(decoded_count(AOS_BUS_PROFILE_RABBITMQ, b, n), 1);
    /* Service Bus: the header's delivery-count as it is */
    with_header(&b, &n, false, 3);
    assert_int_equal(decoded_count(AOS_BUS_PROFILE_SERVICEBUS, b, n), 3);
    assert_int_equal(decoded_count(AOS_BUS_PROFILE_RABBITMQ, b, n), 3);
    /* a broken section after the header: undecodable, but the delivery is still counted */
    char *broken = malloc(n + 3);
    memcpy(broken, b, n);
    memcpy(broken + n, "\x00\x53\x70", 3);
    aos_event_t *none = NULL;
    bus_msg_info_t binfo;
    assert_int_equal(
        bus_msg_decode(AOS_BUS_PROFILE_SERVICEBUS, broken, n + 3, &none, &binfo, err, sizeof err),
        AOS_ERR_PROTOCOL);
    assert_null(none);
    assert_int_equal(binfo.count, 3);
    assert_non_null(strstr(err, "undecodable AMQP message: malformed AMQP message at byte"));
    bus_msg_info_clear(&binfo);
    free(broken);
    free(b);
    /* a counted copy (release on RabbitMQ) carries aos:delivery-count */
    assert_int_equal(bus_msg_encode(ev, NULL, 2, &b, &n, err, sizeof err), AOS_OK);
    with_header(&b, &n, true, 0);
    assert_int_equal(decoded_count(AOS_BUS_PROFILE_RABBITMQ, b, n), 2);
    with_header(&b, &n, false, 0); /* ... and redelivered after a crash */
    assert_int_equal(decoded_count(AOS_BUS_PROFILE_RABBITMQ, b, n), 3);
    assert_int_equal(decoded_count(AOS_BUS_PROFILE_SERVICEBUS, b, n), 0);

    /* dead-letter copy: reason, description, source and count survive, the event too */
    char *c = NULL;
    size_t cn = 0;
    assert_int_equal(bus_msg_copy(b, n, "/amq/queue/q", 4, "aos:poison", "bad", &c, &cn), AOS_OK);
    with_header(&c, &cn, true, 0); /* as the broker delivers it from the DLQ */
    aos_event_t *back = NULL;
    bus_msg_info_t info;
    assert_int_equal(bus_msg_decode(AOS_BUS_PROFILE_RABBITMQ, c, cn, &back, &info, err, sizeof err),
                     AOS_OK);
    assert_string_equal(back->id, ev->id);
    assert_string_equal(info.dl_reason, "aos:poison");
    assert_string_equal(info.dl_description, "bad");
    assert_string_equal(info.dl_source, "/amq/queue/q");
    assert_int_equal(info.count, 4);
    aos_event_free(back);
    bus_msg_info_clear(&info);
    free(c);
    /* bytes that are no envelope: kept as an opaque body, the reason readable */
    assert_int_equal(
        bus_msg_copy("junk", 4, "/amq/queue/q", 0, "aos:malformed-envelope", "x", &c, &cn), AOS_OK);
    assert_int_not_equal(
        bus_msg_decode(AOS_BUS_PROFILE_RABBITMQ, c, cn, &back, &info, err, sizeof err), AOS_OK);
    assert_null(back);
    assert_string_equal(info.dl_reason, "aos:malformed-envelope");
    bus_msg_info_clear(&info);
    free(c);
    /* empty and garbage input are errors, not crashes */
    assert_int_equal(bus_msg_decode(AOS_BUS_PROFILE_RABBITMQ, "", 0, &back, &info, err, sizeof err),
                     AOS_ERR_PROTOCOL);
    assert_int_not_equal(
        bus_msg_decode(AOS_BUS_PROFILE_RABBITMQ, "\x00\x53", 2, &back, &info, err, sizeof err),
        AOS_OK);
    assert_null(back);
    bus_msg_info_clear(&info);
    free(b);
    aos_event_free(ev);
}

static void test_envelope_checks(void **state)
{
    (void)state;
    assert_true(aos_bus_content_type_is_json(NULL));
    assert_true(aos_bus_content_type_is_json("application/json"));
    assert_true(aos_bus_content_type_is_json("Application/JSON; charset=utf-8"));
    assert_true(aos_bus_content_type_is_json("application/cloudevents+json"));
    assert_true(aos_bus_content_type_is_json("text/json"));
    assert_false(aos_bus_content_type_is_json("text/plain"));
    assert_false(aos_bus_content_type_is_json("application/octet-stream"));
    assert_false(aos_bus_content_type_is_json("+json"));
    assert_false(aos_bus_content_type_is_json("/+json"));
    assert_false(aos_bus_content_type_is_json(""));
    assert_false(aos_bus_message_expired(0, 0, 0, 1000));
    assert_false(aos_bus_message_expired(0, 0, 5, 1000)); /* ttl without creation: unknown */
    assert_true(aos_bus_message_expired(999, 0, 0, 1000));
    assert_false(aos_bus_message_expired(1001, 0, 0, 1000));
    assert_true(aos_bus_message_expired(0, 900, 100, 1000));
    assert_false(aos_bus_message_expired(0, 900, 101, 1000));
    assert_false(aos_bus_message_expired(5000, 100, 1, 1000)); /* absolute wins */
}

/* bus_msg_write (the envelope's bytes written directly) makes the same message as the
 * pn_message_t path: both decoded by Proton and encoded again are the same bytes, and the
 * bus decodes the event back, for events with and without every optional field, long strings
 * (32-bit encodings), extensions, a ttl and no data. */
static uint64_t wr_state = 0x2545F4914F6CDD1Dull;
static unsigned wr_rnd(unsigned n)
{
    wr_state ^= wr_state << 13;
    wr_state ^= wr_state >> 7;
    wr_state ^= wr_state << 17;
    return (unsigned)(wr_state % n);
}

/* Walk the sections bus_msg_write makes (described list32/map32, then a data section) and
 * check every compound's count is the number of values inside its size (Proton's decoder
 * goes by the size alone, so the comparison with Proton cannot see a wrong count). */
static void check_counts(const unsigned char *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        assert_true(i + 3 <= len && p[i] == 0x00 && p[i + 1] == 0x53);
        unsigned desc = p[i + 2], code = p[i + 3];
        i += 4;
        if (desc == 0x75) { /* data: vbin8/vbin32 */
            size_t n = code == 0xa0 ? p[i]
                                    : ((size_t)p[i] << 24 | (size_t)p[i + 1] << 16 |
                                       (size_t)p[i + 2] << 8 | p[i + 3]);
            i += (code == 0xa0 ? 1 : 4) + n;
            continue;
        }
        assert_true(code == 0xd0 || code == 0xd1);
        size_t size =
            (size_t)p[i] << 24 | (size_t)p[i + 1] << 16 | (size_t)p[i + 2] << 8 | p[i + 3];
        size_t count =
            (size_t)p[i + 4] << 24 | (size_t)p[i + 5] << 16 | (size_t)p[i + 6] << 8 | p[i + 7];
        size_t end = i + 4 + size, j = i + 8, seen = 0;
        while (j < end) {
            unsigned t = p[j++];
            if (t == 0x40 || t == 0x41)
                ;
            else if (t == 0x70)
                j += 4;
            else if (t == 0x83)
                j += 8;
            else if (t == 0xa0 || t == 0xa1 || t == 0xa3)
                j += 1 + p[j];
            else if (t == 0xb0 || t == 0xb1 || t == 0xb3)
                j += 4 + ((size_t)p[j] << 24 | (size_t)p[j + 1] << 16 | (size_t)p[j + 2] << 8 |
                          p[j + 3]);
            else
                fail_msg("unexpected type code 0x%02x", t);
            seen++;
        }
        assert_int_equal(j, end);
        assert_int_equal(seen, count);
        i = end;
    }
    assert_int_equal(i, len);
}

static void assert_same_str(const char *a, const char *b)
{
    if (!a || !b)
        assert_true(a == b);
    else
        assert_string_equal(a, b);
}

/* Every field the envelope carries (the delivery count is the receiver's). */
static void assert_same_event(const aos_event_t *a, const aos_event_t *b)
{
    assert_same_str(a->id, b->id);
    assert_same_str(a->type, b->type);
    assert_same_str(a->source, b->source);
    assert_same_str(a->subject, b->subject);
    assert_same_str(a->time, b->time);
    assert_same_str(a->datacontenttype ? a->datacontenttype : "application/json",
                    b->datacontenttype);
    assert_same_str(a->dataschema, b->dataschema);
    assert_same_str(a->correlation_id, b->correlation_id);
    assert_same_str(a->reply_to, b->reply_to);
    assert_same_str(a->group_id, b->group_id);
    assert_same_str(a->traceparent, b->traceparent);
    assert_same_str(a->reply_to_group_id, b->reply_to_group_id);
    assert_int_equal(a->ttl_ms, b->ttl_ms);
    assert_int_equal(a->data_len, b->data_len);
    if (a->data_len)
        assert_memory_equal(a->data, b->data, a->data_len);
    assert_int_equal(a->ext_count, b->ext_count);
    for (size_t i = 0; i < a->ext_count; i++)
        assert_same_str(a->ext[i].value, aos_event_get_ext(b, a->ext[i].name));
}

static char *canonical(const char *bytes, size_t len, size_t *out_len)
{
    pn_message_t *m = pn_message();
    assert_int_equal(pn_message_decode(m, bytes, len), 0);
    size_t cap = len * 2 + 256, n = cap;
    char *buf = malloc(cap);
    assert_int_equal(pn_message_encode(m, buf, &n), 0);
    pn_message_free(m);
    *out_len = n;
    return buf;
}

static void test_msg_write_matches_proton(void **state)
{
    (void)state;
    char long_text[700];
    memset(long_text, 'x', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    for (int round = 0; round < 400; round++) {
        aos_event_t *ev = NULL;
        char data[900];
        snprintf(data, sizeof data, "{\"n\":%d,\"t\":\"%s\"}", round,
                 wr_rnd(3) == 0 ? long_text : "short");
        assert_int_equal(aos_event_create(wr_rnd(5) ? "aos.test.t" : "aos.test.type.long.enough",
                                          "/test", wr_rnd(6) ? data : NULL, &ev),
                         AOS_OK);
        if (wr_rnd(2))
            aos_event_set(&ev->subject, wr_rnd(4) ? "s" : long_text);
        if (wr_rnd(3) == 0)
            aos_event_set(&ev->dataschema, "https://example.com/s");
        if (wr_rnd(2))
            aos_event_set(&ev->correlation_id, "corr-1");
        if (wr_rnd(2))
            aos_event_set(&ev->reply_to, "/queue/aos.reply.x");
        if (wr_rnd(3) == 0)
            aos_event_set(&ev->group_id, "conv-1");
        if (wr_rnd(3) == 0)
            aos_event_set(&ev->reply_to_group_id, "inst-1");
        if (wr_rnd(3) == 0)
            aos_event_set(&ev->traceparent,
                          "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        if (wr_rnd(3) == 0)
            aos_event_set(&ev->datacontenttype, "text/plain");
        if (wr_rnd(4) == 0)
            ev->ttl_ms = 1 + wr_rnd(100000);
        for (unsigned k = wr_rnd(3); k > 0; k--)
            aos_event_set_ext(ev, k == 1 ? "tenant" : "partitionkey", "v1");
        const char *subject = wr_rnd(4) == 0 ? "explicit.subject" : NULL;
        int64_t now = 1765000000000 + round;
        char *a = NULL, *b = NULL, err[256] = "";
        size_t alen = 0, blen = 0;
        assert_int_equal(bus_msg_write(ev, subject, now, &a, &alen, err, sizeof err), AOS_OK);
        assert_int_equal(bus_msg_encode_pn_(ev, subject, now, &b, &blen, err, sizeof err), AOS_OK);
        check_counts((const unsigned char *)a, alen);
        size_t ca_len = 0, cb_len = 0;
        char *ca = canonical(a, alen, &ca_len), *cb = canonical(b, blen, &cb_len);
        if (ca_len != cb_len || memcmp(ca, cb, ca_len) != 0)
            fail_msg("round %d: the written message differs from Proton's", round);
        /* both read back (aos/amqp.h) as the event that was written, and so does the
         * reference reading through pn_message_t */
        const char *enc[2] = {a, b};
        size_t enc_len[2] = {alen, blen};
        for (int k = 0; k < 2; k++) {
            aos_event_t *back = NULL;
            bus_msg_info_t info;
            assert_int_equal(bus_msg_decode(AOS_BUS_PROFILE_RABBITMQ, enc[k], enc_len[k], &back,
                                            &info, err, sizeof err),
                             AOS_OK);
            assert_same_event(ev, back);
            assert_int_equal(info.count, 1); /* no first-acquirer: RabbitMQ counts it */
            /* written in 2025 with absolute-expiry-time now + ttl: expired by the wall clock */
            assert_int_equal(info.expired, ev->ttl_ms != 0);
            assert_null(info.dl_reason);
            bus_msg_info_clear(&info);
            aos_event_free(back);
        }
        pn_message_t *pm = pn_message();
        assert_int_equal(pn_message_decode(pm, a, alen), 0);
        aos_event_t *via_pn = NULL;
        assert_int_equal(aos_envelope_from_message(pm, &via_pn, err, sizeof err), AOS_OK);
        assert_same_event(ev, via_pn);
        aos_event_free(via_pn);
        pn_message_free(pm);
        free(ca);
        free(cb);
        free(a);
        free(b);
        aos_event_free(ev);
    }
    /* an invalid event is refused, as by the Proton path */
    aos_event_t bad = {.id = "x", .type = "t"};
    char *o = NULL;
    size_t olen = 0;
    char err[128] = "";
    assert_int_equal(bus_msg_write(&bad, NULL, 1, &o, &olen, err, sizeof err), AOS_ERR_INVALID);
    assert_null(o);
}

/* A lock token on $management is the delivery tag in RFC 4122 order, the tag being .NET's
 * Guid.ToByteArray(): what @azure/service-bus's reorderLockToken does (dist/index.js). */
static void test_lock_token_order(void **state)
{
    (void)state;
    const unsigned char tag[16] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                                   0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
    const unsigned char want[16] = {0x03, 0x02, 0x01, 0x00, 0x05, 0x04, 0x07, 0x06,
                                    0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
    unsigned char got[16], back[16];
    aos_bus_lock_token_from_tag(tag, got);
    assert_memory_equal(got, want, 16);
    aos_bus_lock_token_from_tag(got, back);
    assert_memory_equal(back, tag, 16);
    memcpy(back, tag, 16);
    aos_bus_lock_token_from_tag(back, back); /* in place */
    assert_memory_equal(back, want, 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_valid),
        cmocka_unit_test(test_url_invalid),
        cmocka_unit_test(test_url_password_not_echoed),
        cmocka_unit_test(test_profile),
        cmocka_unit_test(test_profile_parse),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_dead_letter_address),
        cmocka_unit_test(test_config_from_common),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_delivery_counts),
        cmocka_unit_test(test_envelope_checks),
        cmocka_unit_test(test_msg_write_matches_proton),
        cmocka_unit_test(test_lock_token_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
