/* The certificate credential's client assertion (identity_internal.h). */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/base64.h"
#include "aos/envelope.h"
#include "identity_internal.h"

#define ASSERTION_CAP 16384

/* header.claims into out, then ".signature" appended. */
static aos_result sign_into(EVP_PKEY *key, const char *hdr, const char *claims, char *out,
                            size_t outlen, char *errbuf, size_t errlen)
{
    char h64[500], c64[1700], s64[1400];
    unsigned char sig[1024];
    size_t siglen = sizeof sig;
    if (aos_base64url_encode_into(hdr, strlen(hdr), h64, sizeof h64) != AOS_OK ||
        aos_base64url_encode_into(claims, strlen(claims), c64, sizeof c64) != AOS_OK)
        return AOS_ERR_TOO_LARGE;
    snprintf(out, outlen, "%s.%s", h64, c64);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    aos_result r = AOS_OK;
    if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(md, sig, &siglen, (const unsigned char *)out, strlen(out)) != 1)
        r = aos_fail(AOS_ERR_INTERNAL, errbuf, errlen, "signing the client assertion failed");
    EVP_MD_CTX_free(md);
    if (r == AOS_OK) {
        size_t n = strlen(out);
        if (aos_base64url_encode_into(sig, siglen, s64, sizeof s64) != AOS_OK ||
            n + 1 + strlen(s64) + 1 > outlen)
            r = AOS_ERR_TOO_LARGE;
        else
            snprintf(out + n, outlen - n, ".%s", s64);
    }
    return r;
}

aos_result aos_identity_cert_assertion(const char *pem_file, const char *client_id,
                                       const char *token_url, int64_t now_s, char **out,
                                       char *errbuf, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(pem_file, "rb");
    if (!f)
        return aos_fail(AOS_ERR_AUTH, errbuf, errlen, "certificate %s: %s", pem_file,
                        strerror(errno));
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    rewind(f);
    EVP_PKEY *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    aos_result r = AOS_OK;
    unsigned char sha1[20], sha256[32];
    unsigned int l1 = 0, l256 = 0;
    char t1[40], t256[60], hdr[300], claims[1200], jti[37];
    if (!x || !key || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA)
        r = aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                     "%s: needs a PEM certificate and its RSA private key", pem_file);
    if (r == AOS_OK && (X509_digest(x, EVP_sha1(), sha1, &l1) != 1 ||
                        X509_digest(x, EVP_sha256(), sha256, &l256) != 1))
        r = aos_fail(AOS_ERR_INTERNAL, errbuf, errlen, "certificate digest failed");
    if (r == AOS_OK) {
        if (aos_base64url_encode_into(sha1, l1, t1, sizeof t1) != AOS_OK ||
            aos_base64url_encode_into(sha256, l256, t256, sizeof t256) != AOS_OK)
            r = AOS_ERR_INTERNAL;
        aos_uuid4(jti);
        snprintf(hdr, sizeof hdr,
                 "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"x5t\":\"%s\",\"x5t#S256\":\"%s\"}", t1,
                 t256);
        int n = snprintf(claims, sizeof claims,
                         "{\"aud\":\"%s\",\"iss\":\"%s\",\"sub\":\"%s\",\"jti\":\"%s\","
                         "\"nbf\":%lld,\"iat\":%lld,\"exp\":%lld}",
                         token_url, client_id, client_id, jti, (long long)now_s, (long long)now_s,
                         (long long)now_s + 600);
        if (n < 0 || (size_t)n >= sizeof claims || strpbrk(token_url, "\"\\") ||
            strpbrk(client_id, "\"\\"))
            r = aos_fail(AOS_ERR_INVALID, errbuf, errlen, "client id or token URL unusable");
    }
    char *buf = r == AOS_OK ? calloc(1, ASSERTION_CAP) : NULL;
    if (r == AOS_OK && !buf)
        r = AOS_ERR_NOMEM;
    if (r == AOS_OK)
        r = sign_into(key, hdr, claims, buf, ASSERTION_CAP, errbuf, errlen);
    if (r == AOS_OK)
        *out = buf;
    else
        free(buf);
    X509_free(x);
    EVP_PKEY_free(key);
    return r;
}
