/* SAS tokens: a fixed vector computed with Microsoft's algorithm (azure-servicebus pyamqp
 * generate_sas_token: quote_plus(uri) + "\n" + expiry, HMAC-SHA256 keyed with the key's UTF-8
 * bytes), a runtime cross-check against the openssl CLI, URL-encoding edge cases and the
 * token parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/percent.h"
#include "aos/servicebus.h"

#define NS_URI "sb://aos-test.servicebus.windows.net/"
#define NS_KEY "dGVzdGtleS1ub3QtYS1zZWNyZXQtMTIzNDU2Nzg5MA=="

static void known_vector(void **state)
{
    (void)state;
    char tok[512];
    assert_int_equal(
        aos_sb_sas_token(NS_URI, "RootManageSharedAccessKey", NS_KEY, 1893456000u, tok, sizeof tok),
        AOS_OK);
    /* expected value computed with the SDK algorithm in Python (see docs/servicebus.md) */
    assert_string_equal(tok, "SharedAccessSignature "
                             "sr=sb%3A%2F%2Faos-test.servicebus.windows.net%2F"
                             "&sig=HOVId9BY2cPUAeg22uu6%2FLDNEH4r3RI5FwX4wfKRmxk%3D"
                             "&se=1893456000&skn=RootManageSharedAccessKey");
}

static void vector_with_spaces_and_plus(void **state)
{
    (void)state;
    char tok[512];
    assert_int_equal(aos_sb_sas_token(NS_URI "aos.agent.cfo q", "send policy",
                                      "k3y+/=", 1700000000u, tok, sizeof tok),
                     AOS_OK);
    assert_string_equal(tok, "SharedAccessSignature "
                             "sr=sb%3A%2F%2Faos-test.servicebus.windows.net%2Faos.agent.cfo+q"
                             "&sig=hBK8VXU3og%2BsTzxID8CNDl2ZhWsxKmIiQZslXjPQ0%2Fk%3D"
                             "&se=1700000000&skn=send+policy");
}

/* Independent computation: the openssl CLI signs the same string-to-sign. */
static void matches_openssl_cli(void **state)
{
    (void)state;
    if (system("openssl version >/dev/null 2>&1") != 0) {
        skip();
    }
    const char *uri = "sb://Other-NS.servicebus.windows.net/aos.storage";
    const char *key = "c2Vjb25kLWtleS1mb3ItdGhlLWNsaS1jaGVjaw==";
    uint64_t se = 2000000000u;
    char enc[256];
    assert_int_equal(aos_pct_encode(uri, AOS_PCT_FORM, enc, sizeof enc), AOS_OK);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "printf '%%s\\n%%s' '%s' '%llu' | openssl dgst -sha256 -hmac '%s' -binary | "
             "openssl base64 -A",
             enc, (unsigned long long)se, key);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char cli_sig[128] = "";
    assert_non_null(fgets(cli_sig, sizeof cli_sig, p));
    assert_int_equal(pclose(p), 0);
    cli_sig[strcspn(cli_sig, "\r\n")] = '\0';
    assert_int_equal(strlen(cli_sig), 44);

    char tok[512];
    assert_int_equal(aos_sb_sas_token(uri, "listen", key, se, tok, sizeof tok), AOS_OK);
    aos_sb_sas_fields_t *f = NULL;
    assert_int_equal(aos_sb_sas_parse(tok, &f, NULL, 0), AOS_OK);
    assert_string_equal(f->sig, cli_sig);
    assert_string_equal(f->sr, uri);
    assert_string_equal(f->sr_raw, enc);
    assert_string_equal(f->skn, "listen");
    assert_true(f->se == se);
    aos_sb_sas_fields_free(f);
}

static void url_encoding_edges(void **state)
{
    (void)state;
    char out[128];
    assert_int_equal(
        aos_pct_encode("a b/c:d?e=f&g~h_i.j-k%l+\xc3\xa9", AOS_PCT_FORM, out, sizeof out), AOS_OK);
    /* what Python's quote_plus gives */
    assert_string_equal(out, "a+b%2Fc%3Ad%3Fe%3Df%26g~h_i.j-k%25l%2B%C3%A9");
    assert_int_equal(aos_pct_encode("", AOS_PCT_FORM, out, sizeof out), AOS_OK);
    assert_string_equal(out, "");
    /* exact fit and one short */
    assert_int_equal(aos_pct_encode("/", AOS_PCT_FORM, out, 4), AOS_OK);
    assert_string_equal(out, "%2F");
    assert_int_equal(aos_pct_encode("/", AOS_PCT_FORM, out, 3), AOS_ERR_TOO_LARGE);
    assert_string_equal(out, "");
    assert_int_equal(aos_pct_encode("ab", AOS_PCT_FORM, out, 2), AOS_ERR_TOO_LARGE);
    assert_int_equal(aos_pct_encode(NULL, AOS_PCT_FORM, out, sizeof out), AOS_ERR_INVALID);
}

static void token_argument_errors(void **state)
{
    (void)state;
    char tok[512];
    assert_int_equal(aos_sb_sas_token(NULL, "n", "k", 1, tok, sizeof tok), AOS_ERR_INVALID);
    assert_int_equal(aos_sb_sas_token(NS_URI, "", "k", 1, tok, sizeof tok), AOS_ERR_INVALID);
    assert_int_equal(aos_sb_sas_token(NS_URI, "n", "", 1, tok, sizeof tok), AOS_ERR_INVALID);
    assert_int_equal(aos_sb_sas_token(NS_URI, "n", "k", 1, tok, 40), AOS_ERR_TOO_LARGE);
    assert_string_equal(tok, "");
    char big[2048];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(aos_sb_sas_token(big, "n", "k", 1, tok, sizeof tok), AOS_ERR_TOO_LARGE);
}

static void parse_errors_name_the_field(void **state)
{
    (void)state;
    struct {
        const char *tok, *needle;
    } cases[] = {
        {"", "empty"},
        {"SharedAccessSignature sig=x&se=1", "sr"},
        {"sr=a&se=1", "sig"},
        {"sr=a&sig=b", "se"},
        {"sr=a&sig=b&se=12x", "se"},
        {"sr=a&sig=b&se=99999999999999999999999", "se"},
        {"sr=a&sr=b&sig=c&se=1", "twice"},
        {"sr=a%zz&sig=b&se=1", "escape"},
        {"sr=a%00b&sig=b&se=1", "escape"},
        {"sr=a&sig=b&se=1&junk", "'='"},
        {"sr=&sig=b&se=1", "empty"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aos_sb_sas_fields_t *f = (aos_sb_sas_fields_t *)1;
        char err[160] = "";
        assert_int_equal(aos_sb_sas_parse(cases[i].tok, &f, err, sizeof err), AOS_ERR_INVALID);
        assert_null(f);
        if (!strstr(err, cases[i].needle))
            fail_msg("case %zu: '%s' does not mention '%s'", i, err, cases[i].needle);
    }
}

static void parse_any_order_and_optional_skn(void **state)
{
    (void)state;
    aos_sb_sas_fields_t *f = NULL;
    assert_int_equal(aos_sb_sas_parse("se=42&sig=a%2Bb%3D&sr=sb%3A%2F%2Fx%2F&foo=bar", &f, NULL, 0),
                     AOS_OK);
    assert_string_equal(f->sr, "sb://x/");
    assert_string_equal(f->sig, "a+b=");
    assert_null(f->skn);
    assert_true(f->se == 42);
    aos_sb_sas_fields_free(f);
    aos_sb_sas_fields_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(known_vector),
        cmocka_unit_test(vector_with_spaces_and_plus),
        cmocka_unit_test(matches_openssl_cli),
        cmocka_unit_test(url_encoding_edges),
        cmocka_unit_test(token_argument_errors),
        cmocka_unit_test(parse_errors_name_the_field),
        cmocka_unit_test(parse_any_order_and_optional_skn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
