/* Connection strings: the forms Azure gives out, order/case independence, and one clear
 * error per broken part that never echoes a secret. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "aos/servicebus.h"

#define KEY "dGVzdGtleS1ub3QtYS1zZWNyZXQtMTIzNDU2Nzg5MA=="

static aos_sb_connstr_t *parse_ok(const char *s)
{
    aos_sb_connstr_t *cs = NULL;
    char err[256] = "";
    aos_result r = aos_sb_connstr_parse(s, &cs, err, sizeof err);
    if (r != AOS_OK)
        fail_msg("parse failed: %s (%s)", aos_result_str(r), err);
    return cs;
}

static void portal_form(void **state)
{
    (void)state;
    aos_sb_connstr_t *cs = parse_ok("Endpoint=sb://AOS-Prod.servicebus.windows.net/;"
                                    "SharedAccessKeyName=RootManageSharedAccessKey;"
                                    "SharedAccessKey=" KEY);
    assert_string_equal(cs->host, "aos-prod.servicebus.windows.net");
    assert_int_equal(cs->port, 5671);
    assert_true(cs->use_tls);
    assert_false(cs->emulator);
    assert_string_equal(cs->key_name, "RootManageSharedAccessKey");
    assert_string_equal(cs->key, KEY); /* the trailing '=' of base64 survives */
    assert_null(cs->entity_path);
    assert_null(cs->sas);
    char aud[256];
    assert_int_equal(aos_sb_connstr_audience(cs, aud, sizeof aud), AOS_OK);
    assert_string_equal(aud, "sb://aos-prod.servicebus.windows.net/");
    assert_int_equal(aos_sb_connstr_audience(cs, aud, 10), AOS_ERR_TOO_LARGE);
    aos_sb_connstr_free(cs);
}

static void any_order_any_case_entity_path(void **state)
{
    (void)state;
    aos_sb_connstr_t *cs =
        parse_ok("  entitypath=aos.storage ; SHAREDACCESSKEY=" KEY ";;sharedAccessKeyName=send;"
                 "TransportType=Amqp;ENDPOINT=sb://ns.servicebus.windows.net;");
    assert_string_equal(cs->entity_path, "aos.storage");
    assert_string_equal(cs->key_name, "send");
    assert_string_equal(cs->host, "ns.servicebus.windows.net");
    char aud[256];
    assert_int_equal(aos_sb_connstr_audience(cs, aud, sizeof aud), AOS_OK);
    assert_string_equal(aud, "sb://ns.servicebus.windows.net/aos.storage");
    aos_sb_connstr_free(cs);
}

static void sas_form(void **state)
{
    (void)state;
    aos_sb_connstr_t *cs =
        parse_ok("Endpoint=sb://ns.servicebus.windows.net/;SharedAccessSignature="
                 "SharedAccessSignature sr=sb%3A%2F%2Fns.servicebus.windows.net%2F&sig=abc%3D"
                 "&se=1893456000&skn=send");
    assert_non_null(cs->sas);
    assert_true(strncmp(cs->sas, "SharedAccessSignature sr=", 25) == 0);
    assert_null(cs->key);
    assert_null(cs->key_name);
    aos_sb_connstr_free(cs);
}

static void emulator_and_schemes(void **state)
{
    (void)state;
    aos_sb_connstr_t *cs = parse_ok("Endpoint=sb://localhost;SharedAccessKeyName="
                                    "RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;"
                                    "UseDevelopmentEmulator=true;");
    assert_true(cs->emulator);
    assert_false(cs->use_tls);
    assert_int_equal(cs->port, 5672);
    assert_string_equal(cs->host, "localhost");
    aos_sb_connstr_free(cs);

    cs = parse_ok("Endpoint=amqp://127.0.0.1:45678/;SharedAccessKeyName=a;SharedAccessKey=b;"
                  "UseDevelopmentEmulator=False");
    assert_false(cs->emulator);
    assert_false(cs->use_tls);
    assert_int_equal(cs->port, 45678);
    aos_sb_connstr_free(cs);

    cs = parse_ok("Endpoint=amqps://ns.example:5999;SharedAccessKeyName=a;SharedAccessKey=b");
    assert_true(cs->use_tls);
    assert_int_equal(cs->port, 5999);
    aos_sb_connstr_free(cs);
}

static void errors_name_the_part_without_secrets(void **state)
{
    (void)state;
    struct {
        const char *s, *needle;
    } cases[] = {
        {"", "empty"},
        {"SharedAccessKeyName=a;SharedAccessKey=" KEY, "Endpoint is missing"},
        {"Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKey=" KEY,
         "SharedAccessKeyName is missing"},
        {"Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=a",
         "SharedAccessKey is missing"},
        {"Endpoint=sb://ns.servicebus.windows.net/", "credentials missing"},
        {"Endpoint=https://ns.servicebus.windows.net/;SharedAccessKeyName=a;SharedAccessKey=b",
         "sb://"},
        {"Endpoint=sb://;SharedAccessKeyName=a;SharedAccessKey=b", "host"},
        {"Endpoint=sb://ns:0;SharedAccessKeyName=a;SharedAccessKey=b", "port"},
        {"Endpoint=sb://ns:99999;SharedAccessKeyName=a;SharedAccessKey=b", "port"},
        {"Endpoint=sb://ns:x;SharedAccessKeyName=a;SharedAccessKey=b", "port"},
        {"Endpoint=sb://ns/queue;SharedAccessKeyName=a;SharedAccessKey=b", "EntityPath"},
        {"Endpoint=sb://ns/;Endpoint=sb://ns2/;SharedAccessKeyName=a;SharedAccessKey=b",
         "Endpoint appears twice"},
        {"Endpoint=sb://ns/;SharedAccessKeyName=;SharedAccessKey=b",
         "SharedAccessKeyName is empty"},
        {"Endpoint=sb://ns/;SharedAccessKeyName=a;SharedAccessKey=b;UseDevelopmentEmulator=yes",
         "true or false"},
        {"Endpoint=sb://ns/;SharedAccessKeyName=a;SharedAccessKey=b;EntityPath=/",
         "EntityPath is empty"},
        {"Endpoint=sb://ns/;SharedAccessKeyName=a;SharedAccessKey=b;SharedAccessSignature=sr=x"
         "&sig=y&se=1",
         "not both"},
        {"Endpoint=sb://ns/;SharedAccessSignature=SharedAccessSignature sr=x&se=1",
         "SharedAccessSignature is malformed: SAS token: sig"},
        {"Endpoint=sb://ns/;secretkeywithoutequals", "part 2 has no '='"},
        {"Endpoint=sb://ns/;SharedAccessKeyName=a;SharedAccessKey=b\x01"
         "c",
         "control"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aos_sb_connstr_t *cs = (aos_sb_connstr_t *)1;
        char err[256] = "";
        assert_int_equal(aos_sb_connstr_parse(cases[i].s, &cs, err, sizeof err), AOS_ERR_INVALID);
        assert_null(cs);
        if (!strstr(err, cases[i].needle))
            fail_msg("case %zu: '%s' does not mention '%s'", i, err, cases[i].needle);
        if (strstr(err, KEY) || strstr(err, "secretkey"))
            fail_msg("case %zu: error echoes a secret: %s", i, err);
    }
    assert_int_equal(aos_sb_connstr_parse(NULL, NULL, NULL, 0), AOS_ERR_INVALID);
    aos_sb_connstr_free(NULL);
}

static void overlong_is_refused(void **state)
{
    (void)state;
    size_t n = 20000;
    char *s = malloc(n + 1);
    memset(s, 'x', n);
    memcpy(s, "Endpoint=sb://", 14);
    s[n] = '\0';
    aos_sb_connstr_t *cs = NULL;
    char err[128];
    assert_int_equal(aos_sb_connstr_parse(s, &cs, err, sizeof err), AOS_ERR_INVALID);
    assert_non_null(strstr(err, "longer"));
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(portal_form),
        cmocka_unit_test(any_order_any_case_entity_path),
        cmocka_unit_test(sas_form),
        cmocka_unit_test(emulator_and_schemes),
        cmocka_unit_test(errors_name_the_part_without_secrets),
        cmocka_unit_test(overlong_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
