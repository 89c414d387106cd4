/* libcurl and librdkafka are loaded on first use (common/src/http/curl_lazy.c,
 * common/src/kafka/rdkafka_lazy.c): not mapped before, mapped after, and every argument kind
 * of the forwarded calls arrives (this binary links neither library itself). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <librdkafka/rdkafka.h>

static bool mapped(const char *name)
{
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    char line[1024];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, name) != NULL;
    fclose(f);
    return found;
}

static size_t sink(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return size * n;
}

static void curl_on_first_use(void **state)
{
    (void)state;
    assert_false(mapped("libcurl.so"));
    assert_false(mapped("libgssapi_krb5")); /* nor what it brings */
    assert_int_equal(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
    assert_true(mapped("libcurl.so"));
    CURL *h = curl_easy_init();
    assert_non_null(h);
    /* one option of each kind: string, long, function, off_t, pointer */
    assert_int_equal(curl_easy_setopt(h, CURLOPT_URL, "http://127.0.0.1:1/nothing"), CURLE_OK);
    assert_int_equal(curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 2000L), CURLE_OK);
    assert_int_equal(curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink), CURLE_OK);
    assert_int_equal(curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)1 << 40), CURLE_OK);
    struct curl_slist *hdrs = curl_slist_append(NULL, "X-Test: 1");
    assert_non_null(hdrs);
    assert_int_equal(curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs), CURLE_OK);
    /* nothing listens on port 1: the error comes back through the forwarded calls */
    CURLcode rc = curl_easy_perform(h);
    assert_int_equal(rc, CURLE_COULDNT_CONNECT);
    assert_non_null(strstr(curl_easy_strerror(rc), "connect"));
    char *url = NULL;
    assert_int_equal(curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &url), CURLE_OK);
    assert_string_equal(url, "http://127.0.0.1:1/nothing");
    long code = -1;
    assert_int_equal(curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code), CURLE_OK);
    assert_int_equal(code, 0);
    curl_easy_reset(h);
    /* the multi interface */
    CURLM *m = curl_multi_init();
    assert_non_null(m);
    assert_int_equal(curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, 4L), CURLM_OK);
    assert_int_equal(curl_easy_setopt(h, CURLOPT_URL, "http://127.0.0.1:1/"), CURLE_OK);
    assert_int_equal(curl_multi_add_handle(m, h), CURLM_OK);
    int running = 1, left = 0;
    for (int i = 0; i < 200 && running; i++) {
        assert_int_equal(curl_multi_perform(m, &running), CURLM_OK);
        if (running)
            assert_int_equal(curl_multi_poll(m, NULL, 0, 50, NULL), CURLM_OK);
    }
    CURLMsg *msg = curl_multi_info_read(m, &left);
    assert_non_null(msg);
    assert_int_equal(msg->data.result, CURLE_COULDNT_CONNECT);
    assert_int_equal(curl_multi_wakeup(m), CURLM_OK);
    assert_int_equal(curl_multi_remove_handle(m, h), CURLM_OK);
    assert_non_null(curl_multi_strerror(CURLM_OK));
    assert_int_equal(curl_multi_cleanup(m), CURLM_OK);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
}

static atomic_int g_delivered, g_failed;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err || m->_private != (void *)&g_delivered || m->len != 5 || m->key_len != 3)
        atomic_fetch_add(&g_failed, 1);
    else
        atomic_fetch_add(&g_delivered, 1);
}

static void rdkafka_on_first_use(void **state)
{
    (void)state;
    assert_false(mapped("librdkafka"));
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_non_null(conf);
    assert_true(mapped("librdkafka"));
    char err[256] = "";
    /* librdkafka's own in-process mock cluster */
    assert_int_equal(rd_kafka_conf_set(conf, "test.mock.num.brokers", "1", err, sizeof err),
                     RD_KAFKA_CONF_OK);
    assert_int_equal(rd_kafka_conf_set(conf, "no.such.property", "1", err, sizeof err),
                     RD_KAFKA_CONF_UNKNOWN);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    assert_non_null(rk);
    rd_kafka_headers_t *hdrs = rd_kafka_headers_new(2);
    assert_non_null(hdrs);
    assert_int_equal(rd_kafka_header_add(hdrs, "ce_id", -1, "1", 1), RD_KAFKA_RESP_ERR_NO_ERROR);
    /* every tag the producer uses, and a partition, a timestamp and a single header */
    rd_kafka_resp_err_t e = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC("aos.lazy"), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY("key", 3),
        RD_KAFKA_V_VALUE("hello", 5), RD_KAFKA_V_TIMESTAMP(1795510800123LL),
        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(&g_delivered), RD_KAFKA_V_END);
    assert_int_equal(e, RD_KAFKA_RESP_ERR_NO_ERROR);
    e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("aos.lazy"), RD_KAFKA_V_KEY("key", 3),
                          RD_KAFKA_V_VALUE("world", 5), RD_KAFKA_V_HEADER("h", "v", 1),
                          RD_KAFKA_V_OPAQUE(&g_delivered), RD_KAFKA_V_END);
    assert_int_equal(e, RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(rd_kafka_flush(rk, 20000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_poll(rk, 0);
    assert_int_equal(atomic_load(&g_delivered), 2);
    assert_int_equal(atomic_load(&g_failed), 0);
    assert_non_null(strstr(rd_kafka_err2str(RD_KAFKA_RESP_ERR__TIMED_OUT), "Timed out"));
    rd_kafka_destroy(rk);
    rd_kafka_headers_destroy(rd_kafka_headers_new(1));
    rd_kafka_conf_destroy(rd_kafka_conf_new());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(curl_on_first_use),
        cmocka_unit_test(rdkafka_on_first_use),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
