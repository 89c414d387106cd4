/* Fuzz target: JWT claims past the signature check. The input is the payload (claims JSON);
 * the harness signs it with a test key generated once, so the verifier's claim checks
 * (iss, aud, exp/nbf, appid/azp against the allowed callers, serviceurl) see arbitrary
 * bytes that carry a valid signature, which the plain JWT target never reaches. */
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/base64.h"
#include "jwt.h"

static EVP_PKEY *g_key;
static router_jwks_t *g_jwks;

/* base64url of in into out, which the caller sized for it (aos/base64.h) */
static void b64url(const unsigned char *in, size_t len, char *out)
{
    if (aos_base64url_encode_into(in, len, out, aos_base64_encoded_len(len) + 1) != AOS_OK)
        abort();
}

static void setup(void)
{
    g_key = EVP_RSA_gen(2048);
    BIGNUM *n = NULL, *e = NULL;
    unsigned char nb[600], eb[16];
    char n64[900], e64[32], jwks[1200];
    if (!g_key || EVP_PKEY_get_bn_param(g_key, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
        EVP_PKEY_get_bn_param(g_key, OSSL_PKEY_PARAM_RSA_E, &e) != 1)
        abort();
    b64url(nb, (size_t)BN_bn2bin(n, nb), n64);
    b64url(eb, (size_t)BN_bn2bin(e, eb), e64);
    BN_free(n);
    BN_free(e);
    snprintf(jwks, sizeof jwks,
             "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"f\",\"n\":\"%s\",\"e\":\"%s\"}]}", n64, e64);
    if (router_jwks_parse(jwks, strlen(jwks), &g_jwks, NULL, 0) != AOS_OK)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_key)
        setup();
    if (size > 8192)
        return 0;
    static const char hdr[] = "{\"alg\":\"RS256\",\"kid\":\"f\",\"typ\":\"JWT\"}";
    char *tok = malloc(2 * size + 2048);
    if (!tok)
        return 0;
    b64url((const unsigned char *)hdr, strlen(hdr), tok);
    size_t n = strlen(tok);
    tok[n++] = '.';
    b64url(data, size, tok + n);
    n = strlen(tok);
    unsigned char sig[512];
    size_t siglen = sizeof sig;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, g_key) == 1 &&
        EVP_DigestSign(md, sig, &siglen, (unsigned char *)tok, n) == 1) {
        tok[n++] = '.';
        b64url(sig, siglen, tok + n);
        const char *iss[] = {"https://api.botframework.com", "https://sts.windows.net/t/"};
        const char *callers[] = {"caller", "*"};
        for (size_t k = 1; k <= 2; k++) {
            router_jwt_policy_t pol = {iss, 2, "app", 0, true, callers, k};
            router_jwt_claims_t c;
            char err[256];
            if (router_jwt_verify(g_jwks, &pol, tok, 1800000000, &c, err, sizeof err) == AOS_OK &&
                (!c.appid[0] || strlen(c.serviceurl) >= sizeof c.serviceurl))
                abort(); /* an accepted token always names its caller */
        }
    }
    EVP_MD_CTX_free(md);
    free(tok);
    return 0;
}
