/* RS256 JWT validation against a JWKS document (see jwt.h). */
#include <errno.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/base64.h"
#include "aos/config.h"
#include "aos/json.h"
#include "jwt.h"
#include "jwt_internal.h"

static BIGNUM *b64_bn(const char *s)
{
    unsigned char *raw = NULL;
    size_t n = 0;
    if (!s || aos_base64url_decode(s, strlen(s), &raw, &n) != AOS_OK || n == 0) {
        free(raw);
        return NULL;
    }
    BIGNUM *bn = BN_bin2bn(raw, (int)n, NULL);
    free(raw);
    return bn;
}

static EVP_PKEY *rsa_from_ne(const char *n_b64, const char *e_b64, int *out_bits)
{
    BIGNUM *n = b64_bn(n_b64), *e = b64_bn(e_b64);
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    if (n && e && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) &&
        (params = OSSL_PARAM_BLD_to_param(bld)) &&
        (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) && EVP_PKEY_fromdata_init(ctx) == 1)
        if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
            pkey = NULL;
    *out_bits = n ? BN_num_bits(n) : 0;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return pkey;
}

static aos_result parse_key(json_object *k, size_t idx, jwk_t *out, bool *out_used, char *errbuf,
                            size_t errlen)
{
    *out_used = false;
    if (!json_object_is_type(k, json_type_object))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "keys[%zu]: expected an object", idx);
    const char *kty = NULL, *kid = NULL, *n = NULL, *e = NULL, *use = NULL;
    char why[160];
    if (aos_json_get_string(k, "kty", AOS_JSON_REQUIRED, &kty, why, sizeof why) != AOS_OK ||
        aos_json_get_string(k, "kid", AOS_JSON_OPTIONAL, &kid, why, sizeof why) != AOS_OK ||
        aos_json_get_string(k, "use", AOS_JSON_OPTIONAL, &use, why, sizeof why) != AOS_OK)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "keys[%zu]: %s", idx, why);
    if (strcmp(kty, "RSA") != 0 || (use && strcmp(use, "sig") != 0))
        return AOS_OK; /* not a signing RSA key: skipped */
    if (aos_json_get_string(k, "n", AOS_JSON_REQUIRED, &n, why, sizeof why) != AOS_OK ||
        aos_json_get_string(k, "e", AOS_JSON_REQUIRED, &e, why, sizeof why) != AOS_OK)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "keys[%zu]: %s", idx, why);
    if (kid && strlen(kid) >= sizeof out->kid)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "keys[%zu].kid: too long", idx);
    int bits = 0;
    out->pkey = rsa_from_ne(n, e, &bits);
    if (!out->pkey)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "keys[%zu]: n/e are not a valid base64url RSA public key", idx);
    if (bits < 2048) {
        EVP_PKEY_free(out->pkey);
        out->pkey = NULL;
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "keys[%zu]: RSA key of %d bits (2048 or more required)", idx, bits);
    }
    snprintf(out->kid, sizeof out->kid, "%s", kid ? kid : "");
    *out_used = true;
    return AOS_OK;
}

aos_result router_jwks_parse(const char *json, size_t len, router_jwks_t **out, char *errbuf,
                             size_t errlen)
{
    *out = NULL;
    json_object *root = NULL, *keys = NULL;
    char why[200];
    if (aos_json_parse_object(json, len, 1u << 20, 0, &root, why, sizeof why) != AOS_OK)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "JWKS: %s", why);
    aos_result r = aos_json_get_array(root, "keys", AOS_JSON_REQUIRED, &keys, why, sizeof why);
    if (r != AOS_OK) {
        json_object_put(root);
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "JWKS: %s", why);
    }
    size_t n = json_object_array_length(keys);
    router_jwks_t *j = calloc(1, sizeof *j);
    if (j && n)
        j->keys = calloc(n, sizeof *j->keys);
    if (!j || (n && !j->keys)) {
        router_jwks_free(j);
        json_object_put(root);
        return AOS_ERR_NOMEM;
    }
    for (size_t i = 0; i < n && r == AOS_OK; i++) {
        bool used = false;
        r = parse_key(json_object_array_get_idx(keys, i), i, &j->keys[j->count], &used, errbuf,
                      errlen);
        if (used)
            j->count++;
    }
    json_object_put(root);
    if (r == AOS_OK && j->count == 0)
        r = aos_fail(AOS_ERR_INVALID, errbuf, errlen, "JWKS: no RSA signing key");
    if (r != AOS_OK) {
        router_jwks_free(j);
        return r;
    }
    *out = j;
    return AOS_OK;
}

aos_result router_jwks_load(const char *path, router_jwks_t **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    char *buf = NULL;
    size_t n = 0;
    AOS_RETURN_IF_FAILED(aos_config_read_file(path, 1u << 20, &buf, &n, errbuf, errlen));
    char why[256] = "";
    aos_result r = router_jwks_parse(buf, n, out, why, sizeof why);
    free(buf);
    if (r != AOS_OK)
        aos_fail(r, errbuf, errlen, "%s: %s", path, why);
    return r;
}

void router_jwks_free(router_jwks_t *jwks)
{
    if (!jwks)
        return;
    for (size_t i = 0; i < jwks->count; i++)
        EVP_PKEY_free(jwks->keys[i].pkey);
    free(jwks->keys);
    free(jwks);
}

size_t router_jwks_count(const router_jwks_t *jwks)
{
    return jwks ? jwks->count : 0;
}
