/* SAS tokens: percent-encoding, HMAC-SHA256 signing and taking tokens apart.
 *
 * The algorithm follows Microsoft's own SDKs (azure-servicebus pyamqp generate_sas_token):
 *   string_to_sign = quote_plus(uri) + "\n" + expiry
 *   sig            = base64(HMAC-SHA256(key as its UTF-8 bytes, string_to_sign))
 * The service recomputes the HMAC over the sr value exactly as it appears in the token, so the
 * encoding only has to be the same in sr and in the signed string. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "aos/percent.h"
#include "aos/servicebus.h"
#include "sb_internal.h"

aos_result aos_sb_sas_token(const char *resource_uri, const char *key_name, const char *key,
                            uint64_t expiry_unix, char *out, size_t outlen)
{
    if (!out || outlen == 0)
        return AOS_ERR_INVALID;
    out[0] = '\0';
    if (!resource_uri || !*resource_uri || !key_name || !*key_name || !key || !*key)
        return AOS_ERR_INVALID;
    size_t ulen = strlen(resource_uri), klen = strlen(key_name);
    if (ulen > AOS_SB_MAX_URI || klen > AOS_SB_MAX_URI)
        return AOS_ERR_TOO_LARGE;
    char enc_uri[3 * AOS_SB_MAX_URI + 1], enc_name[3 * AOS_SB_MAX_URI + 1];
    AOS_RETURN_IF_FAILED(aos_pct_encode(resource_uri, AOS_PCT_FORM, enc_uri, sizeof enc_uri));
    AOS_RETURN_IF_FAILED(aos_pct_encode(key_name, AOS_PCT_FORM, enc_name, sizeof enc_name));

    char to_sign[sizeof enc_uri + 32];
    int n = snprintf(to_sign, sizeof to_sign, "%s\n%" PRIu64, enc_uri, expiry_unix);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    if (!HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)to_sign, (size_t)n, mac,
              &maclen))
        return AOS_ERR_INTERNAL;
    char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
    EVP_EncodeBlock((unsigned char *)b64, mac, (int)maclen);
    OPENSSL_cleanse(mac, sizeof mac);
    char enc_sig[3 * sizeof b64];
    AOS_RETURN_IF_FAILED(aos_pct_encode(b64, AOS_PCT_FORM, enc_sig, sizeof enc_sig));

    n = snprintf(out, outlen, "SharedAccessSignature sr=%s&sig=%s&se=%" PRIu64 "&skn=%s", enc_uri,
                 enc_sig, expiry_unix, enc_name);
    if (n < 0 || (size_t)n >= outlen) {
        OPENSSL_cleanse(out, outlen);
        out[0] = '\0';
        return AOS_ERR_TOO_LARGE;
    }
    return AOS_OK;
}

void aos_sb_sas_fields_free(aos_sb_sas_fields_t *f)
{
    if (!f)
        return;
    free(f->sr);
    free(f->sr_raw);
    free(f->sig);
    free(f->skn);
    free(f);
}

static aos_result parse_expiry(const char *v, size_t n, uint64_t *out)
{
    if (n == 0 || n > 20)
        return AOS_ERR_INVALID;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return AOS_ERR_INVALID;
        uint64_t d = (uint64_t)(v[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return AOS_ERR_INVALID;
        x = x * 10 + d;
    }
    *out = x;
    return AOS_OK;
}

/* One "k=v" field of a token into f; rejects repeats and undecodable values. */
static aos_result sas_field(aos_sb_sas_fields_t *f, const char *k, size_t klen, const char *v,
                            size_t vlen, bool *have_se, char *errbuf, size_t errlen)
{
    char **slot = NULL;
    const char *name = NULL;
    if (klen == 2 && strncasecmp(k, "sr", 2) == 0) {
        slot = &f->sr, name = "sr";
    } else if (klen == 3 && strncasecmp(k, "sig", 3) == 0) {
        slot = &f->sig, name = "sig";
    } else if (klen == 3 && strncasecmp(k, "skn", 3) == 0) {
        slot = &f->skn, name = "skn";
    } else if (klen == 2 && strncasecmp(k, "se", 2) == 0) {
        if (*have_se)
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "SAS token: se appears twice");
        if (parse_expiry(v, vlen, &f->se) != AOS_OK)
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                            "SAS token: se is not a unix time in seconds");
        *have_se = true;
        return AOS_OK;
    } else {
        return AOS_OK; /* other fields are ignored by the service too */
    }
    if (*slot)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "SAS token: %s appears twice", name);
    if (vlen == 0)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "SAS token: %s is empty", name);
    if (!(*slot = malloc(vlen + 1)))
        return AOS_ERR_NOMEM;
    if (aos_pct_decode(v, vlen, AOS_PCT_FORM, *slot, vlen + 1, NULL) != AOS_OK)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "SAS token: %s has a bad %%-escape", name);
    if (slot == &f->sr && !(f->sr_raw = strndup(v, vlen)))
        return AOS_ERR_NOMEM;
    return AOS_OK;
}

aos_result aos_sb_sas_parse(const char *token, aos_sb_sas_fields_t **out, char *errbuf,
                            size_t errlen)
{
    if (!out)
        return AOS_ERR_INVALID;
    *out = NULL;
    if (!token || !*token)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "SAS token is empty");
    static const char PREFIX[] = "SharedAccessSignature ";
    if (strncasecmp(token, PREFIX, sizeof PREFIX - 1) == 0)
        token += sizeof PREFIX - 1;
    while (*token == ' ')
        token++;
    aos_sb_sas_fields_t *f = calloc(1, sizeof *f);
    if (!f)
        return AOS_ERR_NOMEM;
    bool have_se = false;
    aos_result r = AOS_OK;
    for (const char *p = token; r == AOS_OK && *p;) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (len > 0 && !eq)
            r = aos_fail(AOS_ERR_INVALID, errbuf, errlen, "SAS token: a field has no '='");
        else if (len > 0)
            r = sas_field(f, p, (size_t)(eq - p), eq + 1, len - (size_t)(eq - p) - 1, &have_se,
                          errbuf, errlen);
        p += len + (end ? 1 : 0);
    }
    if (r == AOS_OK && !f->sr)
        r = aos_fail(AOS_ERR_INVALID, errbuf, errlen, "SAS token: sr (resource) is missing");
    if (r == AOS_OK && !f->sig)
        r = aos_fail(AOS_ERR_INVALID, errbuf, errlen, "SAS token: sig (signature) is missing");
    if (r == AOS_OK && !have_se)
        r = aos_fail(AOS_ERR_INVALID, errbuf, errlen, "SAS token: se (expiry) is missing");
    if (r != AOS_OK) {
        aos_sb_sas_fields_free(f);
        return r;
    }
    *out = f;
    return AOS_OK;
}
