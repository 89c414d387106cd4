/* RS256 JWT verification (see jwt.h). */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aos/base64.h"
#include "aos/json.h"
#include "jwt.h"
#include "jwt_internal.h"

static aos_result decode_json(const char *seg, size_t len, json_object **out)
{
    unsigned char *raw = NULL;
    size_t n = 0;
    AOS_RETURN_IF_FAILED(aos_base64url_decode(seg, len, &raw, &n));
    aos_result r = aos_json_parse_object((const char *)raw, n, ROUTER_JWT_MAX_LEN, 8, out, NULL, 0);
    free(raw);
    return r;
}

static const jwk_t *find_key(const router_jwks_t *jwks, const char *kid)
{
    if (!kid)
        return jwks->count == 1 ? &jwks->keys[0] : NULL;
    for (size_t i = 0; i < jwks->count; i++)
        if (strcmp(jwks->keys[i].kid, kid) == 0)
            return &jwks->keys[i];
    return NULL;
}

static bool rs256_ok(EVP_PKEY *pkey, const char *signed_part, size_t signed_len,
                     const unsigned char *sig, size_t sig_len)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok =
        md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) == 1 &&
        EVP_DigestVerify(md, sig, sig_len, (const unsigned char *)signed_part, signed_len) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

static aos_result check_header(const router_jwks_t *jwks, json_object *hdr, const jwk_t **out_key,
                               router_jwt_claims_t *c, char *errbuf, size_t errlen)
{
    const char *alg = NULL, *kid = NULL;
    if (aos_json_get_string(hdr, "alg", AOS_JSON_REQUIRED, &alg, NULL, 0) != AOS_OK)
        return aos_fail(AOS_ERR_AUTH, errbuf, errlen, "token header has no alg");
    if (strcmp(alg, "RS256") != 0)
        return aos_fail(AOS_ERR_AUTH, errbuf, errlen, "token alg %.16s not accepted (RS256 only)",
                        alg);
    if (aos_json_get_string(hdr, "kid", AOS_JSON_OPTIONAL, &kid, NULL, 0) != AOS_OK)
        return aos_fail(AOS_ERR_AUTH, errbuf, errlen, "token kid is not a string");
    *out_key = find_key(jwks, kid);
    if (!*out_key)
        return aos_fail(AOS_ERR_AUTH, errbuf, errlen, "token signed by an unknown key");
    snprintf(c->kid, sizeof c->kid, "%s", kid ? kid : "");
    return AOS_OK;
}

static bool aud_matches(json_object *payload, const char *audience)
{
    json_object *aud = NULL;
    if (!audience || !json_object_object_get_ex(payload, "aud", &aud))
        return false;
    if (json_object_is_type(aud, json_type_string))
        return strcmp(json_object_get_string(aud), audience) == 0;
    if (!json_object_is_type(aud, json_type_array))
        return false;
    for (size_t i = 0; i < json_object_array_length(aud); i++) {
        json_object *e = json_object_array_get_idx(aud, i);
        if (json_object_is_type(e, json_type_string) &&
            strcmp(json_object_get_string(e), audience) == 0)
            return true;
    }
    return false;
}

static void copy_claim(json_object *p, const char *name, char *dst, size_t dstlen)
{
    const char *s = NULL;
    if (aos_json_get_string(p, name, AOS_JSON_OPTIONAL, &s, NULL, 0) == AOS_OK && s && !dst[0])
        snprintf(dst, dstlen, "%s", s);
}

static aos_result check_claims(const router_jwt_policy_t *pol, json_object *p, time_t now,
                               router_jwt_claims_t *c, char *errbuf, size_t errlen)
{
    const char *iss = NULL;
    if (aos_json_get_string(p, "iss", AOS_JSON_REQUIRED, &iss, NULL, 0) != AOS_OK)
        return aos_fail(AOS_ERR_AUTH, errbuf, errlen, "token has no issuer");
    bool iss_ok = false;
    for (size_t i = 0; i < pol->issuer_count; i++)
        iss_ok = iss_ok || strcmp(pol->issuers[i], iss) == 0;
    if (!iss_ok)
        return aos_fail(AOS_ERR_AUTH, errbuf, errlen, "issuer not accepted");
    if (!aud_matches(p, pol->audience))
        return aos_fail(AOS_ERR_AUTH, errbuf, errlen, "audience does not match");
    int64_t skew = pol->skew_s > 0 ? pol->skew_s : ROUTER_JWT_DEFAULT_SKEW_S;
    bool has_exp = false, has_nbf = false;
    if (aos_json_get_int(p, "exp", AOS_JSON_REQUIRED, &c->exp, &has_exp, NULL, 0) != AOS_OK)
        return aos_fail(AOS_ERR_AUTH, errbuf, errlen, "token has no valid exp");
    if ((int64_t)now >= c->exp + skew)
        return aos_fail(AOS_ERR_AUTH, errbuf, errlen, "token expired");
    if (aos_json_get_int(p, "nbf", AOS_JSON_OPTIONAL, &c->nbf, &has_nbf, NULL, 0) != AOS_OK)
        return aos_fail(AOS_ERR_AUTH, errbuf, errlen, "token nbf is not a number");
    if (has_nbf && c->nbf > (int64_t)now + skew)
        return aos_fail(AOS_ERR_AUTH, errbuf, errlen, "token not yet valid");
    aos_json_get_int(p, "iat", AOS_JSON_OPTIONAL, &c->iat, NULL, NULL, 0);
    snprintf(c->iss, sizeof c->iss, "%s", iss);
    copy_claim(p, "appid", c->appid, sizeof c->appid);
    copy_claim(p, "azp", c->appid, sizeof c->appid);
    copy_claim(p, "serviceurl", c->serviceurl, sizeof c->serviceurl);
    if (pol->require_caller) {
        bool allowed = false;
        for (size_t i = 0; i < pol->allowed_caller_count && !allowed && c->appid[0]; i++)
            allowed = strcmp(pol->allowed_callers[i], "*") == 0 ||
                      strcasecmp(pol->allowed_callers[i], c->appid) == 0;
        if (!allowed)
            return aos_fail(AOS_ERR_FORBIDDEN, errbuf, errlen,
                            "caller %.64s is not an allowed caller (AOS_BOT_ALLOWED_CALLERS)",
                            c->appid[0] ? c->appid : "(no appid/azp)");
    }
    return AOS_OK;
}

aos_result router_jwt_verify(const router_jwks_t *jwks, const router_jwt_policy_t *policy,
                             const char *token, time_t now, router_jwt_claims_t *out, char *errbuf,
                             size_t errlen)
{
    router_jwt_claims_t c;
    memset(&c, 0, sizeof c);
    if (!jwks || !policy || !token)
        return aos_fail(AOS_ERR_AUTH, errbuf, errlen, "no token");
    size_t len = strlen(token);
    if (len == 0 || len > ROUTER_JWT_MAX_LEN)
        return aos_fail(AOS_ERR_AUTH, errbuf, errlen, "token missing or too long");
    const char *d1 = strchr(token, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d1 || !d2 || strchr(d2 + 1, '.'))
        return aos_fail(AOS_ERR_AUTH, errbuf, errlen, "token is not a JWS compact serialization");
    json_object *hdr = NULL, *payload = NULL;
    unsigned char *sig = NULL;
    size_t sig_len = 0;
    const jwk_t *key = NULL;
    aos_result r = AOS_OK;
    if (decode_json(token, (size_t)(d1 - token), &hdr) != AOS_OK ||
        decode_json(d1 + 1, (size_t)(d2 - d1 - 1), &payload) != AOS_OK)
        r = aos_fail(AOS_ERR_AUTH, errbuf, errlen, "token header or payload is not JSON");
    if (r == AOS_OK && aos_base64url_decode(d2 + 1, strlen(d2 + 1), &sig, &sig_len) != AOS_OK)
        r = aos_fail(AOS_ERR_AUTH, errbuf, errlen, "token signature is not base64url");
    if (r == AOS_OK)
        r = check_header(jwks, hdr, &key, &c, errbuf, errlen);
    if (r == AOS_OK && !rs256_ok(key->pkey, token, (size_t)(d2 - token), sig, sig_len))
        r = aos_fail(AOS_ERR_AUTH, errbuf, errlen, "signature does not verify");
    if (r == AOS_OK)
        r = check_claims(policy, payload, now, &c, errbuf, errlen);
    json_object_put(hdr);
    json_object_put(payload);
    free(sig);
    if (r == AOS_OK && out)
        *out = c;
    return r;
}

aos_result router_jwt_kid(const char *token, char *out, size_t outlen)
{
    out[0] = '\0';
    const char *d1 = token ? strchr(token, '.') : NULL;
    if (!d1 || strlen(token) > ROUTER_JWT_MAX_LEN)
        return AOS_ERR_AUTH;
    json_object *hdr = NULL;
    if (decode_json(token, (size_t)(d1 - token), &hdr) != AOS_OK)
        return AOS_ERR_AUTH;
    const char *kid = NULL;
    aos_result r = aos_json_get_string(hdr, "kid", AOS_JSON_OPTIONAL, &kid, NULL, 0) == AOS_OK
                       ? AOS_OK
                       : AOS_ERR_AUTH;
    if (r == AOS_OK && kid)
        snprintf(out, outlen, "%s", kid);
    json_object_put(hdr);
    return r;
}

bool router_jwks_has_kid(const router_jwks_t *jwks, const char *kid)
{
    return jwks && find_key(jwks, kid && kid[0] ? kid : NULL) != NULL;
}
