/* Unit tests: RS256 JWT validation against a JWKS built from keys generated here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "aos/base64.h"
#include "jwt.h"

static EVP_PKEY *g_key, *g_other;
static char g_jwks[4096];

/* base64url of in into out, which the caller sized for it (aos/base64.h) */
static void b64url(const unsigned char *in, size_t len, char *out)
{
    assert_int_equal(aos_base64url_encode_into(in, len, out, aos_base64_encoded_len(len) + 1),
                     AOS_OK);
}

static void bn_b64(EVP_PKEY *k, const char *param, char *out)
{
    BIGNUM *bn = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(k, param, &bn), 1);
    unsigned char buf[600];
    int n = BN_bn2bin(bn, buf);
    b64url(buf, (size_t)n, out);
    BN_free(bn);
}

static char *make_token(EVP_PKEY *key, const char *header, const char *payload)
{
    char h[1024], p[2048];
    b64url((const unsigned char *)header, strlen(header), h);
    b64url((const unsigned char *)payload, strlen(payload), p);
    char *tok = malloc(8192);
    snprintf(tok, 8192, "%s.%s", h, p);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char sig[512];
    size_t siglen = sizeof sig;
    assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key), 1);
    assert_int_equal(EVP_DigestSign(md, sig, &siglen, (unsigned char *)tok, strlen(tok)), 1);
    EVP_MD_CTX_free(md);
    size_t off = strlen(tok);
    tok[off++] = '.';
    b64url(sig, siglen, tok + off);
    return tok;
}

static int setup(void **state)
{
    (void)state;
    g_key = EVP_RSA_gen(2048);
    g_other = EVP_RSA_gen(2048);
    char n[600], e[16];
    bn_b64(g_key, OSSL_PKEY_PARAM_RSA_N, n);
    bn_b64(g_key, OSSL_PKEY_PARAM_RSA_E, e);
    snprintf(g_jwks, sizeof g_jwks,
             "{\"keys\":[{\"kty\":\"EC\",\"kid\":\"ec1\",\"crv\":\"P-256\"},"
             "{\"kty\":\"RSA\",\"use\":\"sig\",\"kid\":\"k1\",\"n\":\"%s\",\"e\":\"%s\"}]}",
             n, e);
    return g_key && g_other ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(g_key);
    EVP_PKEY_free(g_other);
    return 0;
}

static const char *ISS[] = {"https://api.botframework.com"};
static const router_jwt_policy_t POL = {ISS, 1, "app-123", 0, false, NULL, 0};
#define NOW 1800000000L

static aos_result verify(EVP_PKEY *key, const char *hdr, const char *payload, char *err,
                         router_jwt_claims_t *c)
{
    router_jwks_t *jwks = NULL;
    char e2[256];
    assert_int_equal(router_jwks_parse(g_jwks, strlen(g_jwks), &jwks, e2, sizeof e2), AOS_OK);
    char *tok = make_token(key, hdr, payload);
    aos_result r = router_jwt_verify(jwks, &POL, tok, NOW, c, err, 256);
    free(tok);
    router_jwks_free(jwks);
    return r;
}

#define HDR "{\"alg\":\"RS256\",\"kid\":\"k1\",\"typ\":\"JWT\"}"

static void expect_fail(EVP_PKEY *key, const char *hdr, const char *payload, const char *why)
{
    char err[256] = "";
    assert_int_equal(verify(key, hdr, payload, err, NULL), AOS_ERR_AUTH);
    if (!strstr(err, why))
        fail_msg("\"%s\" lacks \"%s\"", err, why);
}

static void test_valid_token(void **state)
{
    (void)state;
    char err[256] = "";
    router_jwt_claims_t c;
    assert_int_equal(verify(g_key, HDR,
                            "{\"iss\":\"https://api.botframework.com\",\"aud\":\"app-123\","
                            "\"exp\":1800000600,\"nbf\":1799999000,\"appid\":\"caller\","
                            "\"serviceurl\":\"https://smba.example/\"}",
                            err, &c),
                     AOS_OK);
    assert_string_equal(c.kid, "k1");
    assert_string_equal(c.appid, "caller");
    assert_string_equal(c.serviceurl, "https://smba.example/");
    /* aud as array; expired within the skew is still fine */
    assert_int_equal(verify(g_key, HDR,
                            "{\"iss\":\"https://api.botframework.com\",\"aud\":[\"x\",\"app-123\"],"
                            "\"exp\":1799999800}",
                            err, NULL),
                     AOS_OK);
}

static void test_rejections(void **state)
{
    (void)state;
    const char *ok_claims = "{\"iss\":\"https://api.botframework.com\",\"aud\":\"app-123\","
                            "\"exp\":1800000600}";
    expect_fail(g_other, HDR, ok_claims, "signature does not verify");
    expect_fail(g_key, "{\"alg\":\"HS256\",\"kid\":\"k1\"}", ok_claims, "RS256 only");
    expect_fail(g_key, "{\"alg\":\"none\"}", ok_claims, "RS256 only");
    expect_fail(g_key, "{\"alg\":\"RS256\",\"kid\":\"zz\"}", ok_claims, "unknown key");
    expect_fail(g_key, HDR, "{\"iss\":\"https://evil\",\"aud\":\"app-123\",\"exp\":1800000600}",
                "issuer not accepted");
    expect_fail(g_key, HDR,
                "{\"iss\":\"https://api.botframework.com\",\"aud\":\"other\",\"exp\":1800000600}",
                "audience");
    expect_fail(g_key, HDR,
                "{\"iss\":\"https://api.botframework.com\",\"aud\":\"app-123\",\"exp\":1799999600}",
                "expired");
    expect_fail(g_key, HDR, "{\"iss\":\"https://api.botframework.com\",\"aud\":\"app-123\"}",
                "exp");
    expect_fail(g_key, HDR,
                "{\"iss\":\"https://api.botframework.com\",\"aud\":\"app-123\",\"exp\":1800000600,"
                "\"nbf\":1800000400}",
                "not yet valid");
    expect_fail(g_key, HDR, "not json", "not JSON");

    router_jwks_t *jwks = NULL;
    char err[256];
    assert_int_equal(router_jwks_parse(g_jwks, strlen(g_jwks), &jwks, err, sizeof err), AOS_OK);
    assert_int_equal(router_jwks_count(jwks), 1);
    const char *bad[] = {"", "a.b", "a.b.c.d", "!!.!!.!!", "e30.e30.", NULL};
    for (size_t i = 0; bad[i]; i++)
        assert_int_equal(router_jwt_verify(jwks, &POL, bad[i], NOW, NULL, err, sizeof err),
                         AOS_ERR_AUTH);
    /* a valid token with its payload swapped fails */
    char *tok = make_token(g_key, HDR, ok_claims);
    char *other = make_token(g_key, HDR,
                             "{\"iss\":\"https://api.botframework.com\",\"aud\":\"app-123\","
                             "\"exp\":1900000600}");
    char spliced[8192];
    const char *d1 = strchr(tok, '.'), *o1 = strchr(other, '.'), *o2 = strchr(o1 + 1, '.');
    const char *d2 = strchr(d1 + 1, '.');
    snprintf(spliced, sizeof spliced, "%.*s%.*s%s", (int)(d1 - tok), tok, (int)(o2 - o1), o1, d2);
    assert_int_equal(router_jwt_verify(jwks, &POL, spliced, NOW, NULL, err, sizeof err),
                     AOS_ERR_AUTH);
    assert_int_equal(router_jwt_verify(jwks, &POL, tok, NOW, NULL, err, sizeof err), AOS_OK);
    free(tok);
    free(other);
    router_jwks_free(jwks);
}

static void test_jwks_errors(void **state)
{
    (void)state;
    router_jwks_t *j = NULL;
    char err[256];
    const char *cases[][2] = {
        {"{}", "keys"},
        {"{\"keys\":[]}", "no RSA signing key"},
        {"{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"a\",\"n\":\"!!\",\"e\":\"AQAB\"}]}", "keys[0]"},
        {"{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"a\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}",
         "2048 or more"},
        {"{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"a\"}]}", "keys[0]"},
        {"{\"keys\":[7]}", "keys[0]"},
        {"nope", "JWKS"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_not_equal(
            router_jwks_parse(cases[i][0], strlen(cases[i][0]), &j, err, sizeof err), AOS_OK);
        assert_null(j);
        if (!strstr(err, cases[i][1]))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i][1]);
    }
    assert_int_equal(router_jwks_load("/nonexistent/jwks.json", &j, err, sizeof err),
                     AOS_ERR_NOT_FOUND);
}

static void test_b64url(void **state)
{
    (void)state;
    unsigned char *out = NULL;
    size_t n = 0;
    assert_int_equal(aos_base64url_decode("aGk", 3, &out, &n), AOS_OK);
    assert_int_equal(n, 2);
    assert_memory_equal(out, "hi", 2);
    free(out);
    assert_int_equal(aos_base64url_decode("aGk=", 4, &out, &n), AOS_OK);
    free(out);
    assert_int_equal(aos_base64url_decode("aGl", 3, &out, &n), AOS_ERR_INVALID); /* bad bits */
    assert_int_equal(aos_base64url_decode("a", 1, &out, &n), AOS_ERR_INVALID);
    assert_int_equal(aos_base64url_decode("a+b/", 4, &out, &n), AOS_ERR_INVALID);
    assert_int_equal(aos_base64url_decode("aGk==", 5, &out, &n), AOS_ERR_INVALID);
    char enc[8];
    assert_int_equal(aos_base64url_encode_into("\xfb\xff", 2, enc, sizeof enc), AOS_OK);
    assert_string_equal(enc, "-_8");
    assert_int_equal(aos_base64url_decode(enc, strlen(enc), &out, &n), AOS_OK);
    assert_memory_equal(out, "\xfb\xff", 2);
    free(out);
    assert_int_equal(aos_base64url_encode_into("hi", 2, enc, 3), AOS_ERR_TOO_LARGE);
}

/* Issue 9 item 6: Entra-issued skill tokens of a single-tenant registration (v1 and v2
 * issuers), appid/azp against the allowed callers. */
static void test_entra_callers(void **state)
{
    (void)state;
    const char *iss[] = {"https://api.botframework.com", "https://sts.windows.net/tid-1/",
                         "https://login.microsoftonline.com/tid-1/v2.0"};
    const char *callers[] = {"copilot-bot"};
    router_jwt_policy_t pol = {iss, 3, "app-123", 0, true, callers, 1};
    router_jwks_t *jwks = NULL;
    char err[256];
    assert_int_equal(router_jwks_parse(g_jwks, strlen(g_jwks), &jwks, err, sizeof err), AOS_OK);
    struct {
        const char *payload;
        aos_result want;
    } cases[] = {
        {"{\"iss\":\"https://sts.windows.net/tid-1/\",\"aud\":\"app-123\",\"exp\":1800000600,"
         "\"appid\":\"copilot-bot\",\"ver\":\"1.0\"}",
         AOS_OK},
        {"{\"iss\":\"https://login.microsoftonline.com/tid-1/v2.0\",\"aud\":\"app-123\","
         "\"exp\":1800000600,\"azp\":\"copilot-bot\",\"ver\":\"2.0\"}",
         AOS_OK},
        /* another tenant */
        {"{\"iss\":\"https://sts.windows.net/tid-2/\",\"aud\":\"app-123\",\"exp\":1800000600,"
         "\"appid\":\"copilot-bot\"}",
         AOS_ERR_AUTH},
        /* caller not allowed, or none named */
        {"{\"iss\":\"https://sts.windows.net/tid-1/\",\"aud\":\"app-123\",\"exp\":1800000600,"
         "\"appid\":\"someone-else\"}",
         AOS_ERR_FORBIDDEN},
        {"{\"iss\":\"https://api.botframework.com\",\"aud\":\"app-123\",\"exp\":1800000600}",
         AOS_ERR_FORBIDDEN},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *tok = make_token(g_key, HDR, cases[i].payload);
        aos_result r = router_jwt_verify(jwks, &pol, tok, NOW, NULL, err, sizeof err);
        if (r != cases[i].want)
            fail_msg("case %zu: %s (%s)", i, aos_result_str(r), err);
        free(tok);
    }
    /* "*" admits any caller that names itself; an empty list admits none */
    const char *any[] = {"*"};
    pol.allowed_callers = any;
    char *tok = make_token(g_key, HDR, cases[3].payload);
    assert_int_equal(router_jwt_verify(jwks, &pol, tok, NOW, NULL, err, sizeof err), AOS_OK);
    pol.allowed_caller_count = 0;
    assert_int_equal(router_jwt_verify(jwks, &pol, tok, NOW, NULL, err, sizeof err),
                     AOS_ERR_FORBIDDEN);
    char kid[32];
    assert_int_equal(router_jwt_kid(tok, kid, sizeof kid), AOS_OK);
    assert_string_equal(kid, "k1");
    assert_true(router_jwks_has_kid(jwks, "k1"));
    assert_false(router_jwks_has_kid(jwks, "k2"));
    free(tok);
    router_jwks_free(jwks);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_token),   cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_entra_callers), cmocka_unit_test(test_jwks_errors),
        cmocka_unit_test(test_b64url),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
