/* Client credentials for the outbound Bot Framework token (see bot_credential.h). */
#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include "aos/base64.h"
#include "aos/envelope.h"
#include "bot_credential.h"

static aos_result read_small(const char *path, char *out, size_t outlen, char *errbuf,
                             size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return aos_fail(AOS_ERR_NOT_FOUND, errbuf, errlen, "%s: %s", path, strerror(errno));
    size_t n = fread(out, 1, outlen - 1, f);
    bool more = fgetc(f) != EOF;
    fclose(f);
    if (more)
        return aos_fail(AOS_ERR_TOO_LARGE, errbuf, errlen, "%s: too large", path);
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' '))
        n--;
    out[n] = '\0';
    if (n == 0)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "%s: empty", path);
    return AOS_OK;
}

/* The RFC 7523 client assertion: header {alg RS256, typ JWT, x5t, x5t#S256}, claims
 * {aud token_url, iss = sub = client_id, jti, nbf, iat, exp = +10 min}. */
static aos_result cert_assertion(const bot_credential_t *cred, const char *token_url, time_t now,
                                 char *out, size_t outlen, char *errbuf, size_t errlen)
{
    FILE *f = fopen(cred->cert_file, "rb");
    if (!f)
        return aos_fail(AOS_ERR_NOT_FOUND, errbuf, errlen, "%s: %s", cred->cert_file,
                        strerror(errno));
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    rewind(f);
    EVP_PKEY *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    aos_result r = AOS_OK;
    unsigned char sha1[20], sha256[32], sig[1024];
    unsigned int l1 = 0, l256 = 0;
    size_t siglen = sizeof sig;
    char t1[40], t256[60], hdr[300], claims[1200], h64[500], c64[1700], s64[1400], jti[37];
    if (!x || !key || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA)
        r = aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                     "%s: needs a PEM certificate and its RSA private key", cred->cert_file);
    if (r == AOS_OK && (X509_digest(x, EVP_sha1(), sha1, &l1) != 1 ||
                        X509_digest(x, EVP_sha256(), sha256, &l256) != 1))
        r = aos_fail(AOS_ERR_INTERNAL, errbuf, errlen, "certificate digest failed");
    if (r == AOS_OK) {
        if (aos_base64url_encode_into(sha1, l1, t1, sizeof t1) != AOS_OK ||
            aos_base64url_encode_into(sha256, l256, t256, sizeof t256) != AOS_OK)
            r = AOS_ERR_INTERNAL;
        aos_uuid4(jti);
        snprintf(hdr, sizeof hdr,
                 "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"x5t\":\"%s\",\"x5t#S256\":\"%s\"}", t1, t256);
        int n = snprintf(claims, sizeof claims,
                         "{\"aud\":\"%s\",\"iss\":\"%s\",\"sub\":\"%s\",\"jti\":\"%s\","
                         "\"nbf\":%lld,\"iat\":%lld,\"exp\":%lld}",
                         token_url, cred->client_id, cred->client_id, jti, (long long)now,
                         (long long)now, (long long)now + 600);
        if (n < 0 || (size_t)n >= sizeof claims || strpbrk(token_url, "\"\\") ||
            strpbrk(cred->client_id, "\"\\"))
            r = aos_fail(AOS_ERR_INVALID, errbuf, errlen, "client id or token URL unusable");
    }
    if (r == AOS_OK &&
        (aos_base64url_encode_into(hdr, strlen(hdr), h64, sizeof h64) != AOS_OK ||
         aos_base64url_encode_into(claims, strlen(claims), c64, sizeof c64) != AOS_OK))
        r = AOS_ERR_TOO_LARGE;
    if (r == AOS_OK) {
        snprintf(out, outlen, "%s.%s", h64, c64);
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
            EVP_DigestSign(md, sig, &siglen, (const unsigned char *)out, strlen(out)) != 1)
            r = aos_fail(AOS_ERR_INTERNAL, errbuf, errlen, "signing the client assertion failed");
        EVP_MD_CTX_free(md);
    }
    if (r == AOS_OK) {
        size_t n = strlen(out);
        if (aos_base64url_encode_into(sig, siglen, s64, sizeof s64) != AOS_OK ||
            n + 1 + strlen(s64) + 1 > outlen)
            r = AOS_ERR_TOO_LARGE;
        else
            snprintf(out + n, outlen - n, ".%s", s64);
    }
    X509_free(x);
    EVP_PKEY_free(key);
    return r;
}

aos_result bot_credential_form(const bot_credential_t *cred, const char *token_url, time_t now,
                               char **out_form, char *errbuf, size_t errlen)
{
    *out_form = NULL;
    if (!cred->client_id)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "AOS_BOT_APP_ID is not set");
    char *assertion = calloc(1, 16384);
    if (!assertion)
        return AOS_ERR_NOMEM;
    aos_result r = AOS_OK;
    bool use_assertion = true;
    if (cred->federated_token_file)
        r = read_small(cred->federated_token_file, assertion, 16384, errbuf, errlen);
    else if (cred->cert_file)
        r = cert_assertion(cred, token_url, now, assertion, 16384, errbuf, errlen);
    else if (cred->secret)
        use_assertion = false;
    else
        r = aos_fail(AOS_ERR_INVALID, errbuf, errlen, "no outbound credential configured");
    CURL *c = r == AOS_OK ? curl_easy_init() : NULL;
    char *id = c ? curl_easy_escape(c, cred->client_id, 0) : NULL;
    char *val = c ? curl_easy_escape(c, use_assertion ? assertion : cred->secret, 0) : NULL;
    if (r == AOS_OK && (!id || !val))
        r = AOS_ERR_NOMEM;
    if (r == AOS_OK) {
        size_t cap = strlen(id) + strlen(val) + 400;
        char *form = malloc(cap);
        if (!form)
            r = AOS_ERR_NOMEM;
        else if (use_assertion)
            snprintf(form, cap,
                     "grant_type=client_credentials&client_id=%s"
                     "&client_assertion_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Aclient-assertion-"
                     "type%%3Ajwt-bearer&client_assertion=%s"
                     "&scope=https%%3A%%2F%%2Fapi.botframework.com%%2F.default",
                     id, val);
        else
            snprintf(form, cap,
                     "grant_type=client_credentials&client_id=%s&client_secret=%s"
                     "&scope=https%%3A%%2F%%2Fapi.botframework.com%%2F.default",
                     id, val);
        *out_form = form;
    }
    if (val) {
        OPENSSL_cleanse(val, strlen(val));
        curl_free(val);
    }
    curl_free(id);
    if (c)
        curl_easy_cleanup(c);
    OPENSSL_cleanse(assertion, 16384);
    free(assertion);
    return r;
}
