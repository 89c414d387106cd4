/* The peer's own check of a CBS put-token's SAS token, written independently of the client's
 * (common/src/sb/sas.c) so that one cannot hide the other's mistake: form decoding, the
 * HMAC-SHA256 signature over the signed resource and expiry, key name, expiry, audience. */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "sb_peer_hooks.h"
#include "sb_peer_internal.h"

/* ---- token checks ---- */

static int unhex(char c)
{
    return isdigit((unsigned char)c) ? c - '0'
           : (c >= 'a' && c <= 'f')  ? c - 'a' + 10
           : (c >= 'A' && c <= 'F')  ? c - 'A' + 10
                                     : -1;
}

/* form-decode src[0..n) into dst (size dstlen); false on a bad escape or overflow */
static bool form_decode(const char *src, size_t n, char *dst, size_t dstlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (o + 1 >= dstlen)
            return false;
        if (src[i] == '%') {
            int hi = i + 2 < n ? unhex(src[i + 1]) : -1, lo = i + 2 < n ? unhex(src[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return false;
            dst[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            dst[o++] = src[i] == '+' ? ' ' : src[i];
        }
    }
    dst[o] = '\0';
    return true;
}

typedef struct {
    char sr_raw[512], sr[512], sig[128], se[32], skn[128];
} token_t;

static bool split_token(const char *tok, token_t *t)
{
    memset(t, 0, sizeof *t);
    if (strncmp(tok, "SharedAccessSignature ", 22) != 0)
        return false;
    for (const char *p = tok + 22; *p;) {
        size_t len = strcspn(p, "&");
        const char *eq = memchr(p, '=', len);
        if (eq) {
            size_t kl = (size_t)(eq - p), vl = len - kl - 1;
            const char *v = eq + 1;
            if (kl == 2 && !strncmp(p, "sr", 2) && vl < sizeof t->sr_raw) {
                memcpy(t->sr_raw, v, vl);
                if (!form_decode(v, vl, t->sr, sizeof t->sr))
                    return false;
            } else if (kl == 3 && !strncmp(p, "sig", 3)) {
                if (!form_decode(v, vl, t->sig, sizeof t->sig))
                    return false;
            } else if (kl == 2 && !strncmp(p, "se", 2) && vl < sizeof t->se) {
                memcpy(t->se, v, vl);
            } else if (kl == 3 && !strncmp(p, "skn", 3)) {
                if (!form_decode(v, vl, t->skn, sizeof t->skn))
                    return false;
            }
        }
        p += len + (p[len] == '&');
    }
    return t->sr[0] && t->sig[0] && t->se[0];
}

int sb_peer_check_token(const char *ns_host, const char *key_name, const char *key,
                        const char *name, const char *tok, uint64_t *expiry, char *why,
                        size_t whylen)
{
    token_t t;
    if (!split_token(tok, &t))
        return snprintf(why, whylen, "malformed token"), 401;
    sb_peer_audience_strip_port(t.sr);
    if (strcmp(t.skn, key_name) != 0)
        return snprintf(why, whylen, "unknown key name"), 401;
    char to_sign[640];
    snprintf(to_sign, sizeof to_sign, "%s\n%s", t.sr_raw, t.se);
    unsigned char mac[32];
    unsigned int maclen = 0;
    HMAC(EVP_sha256(), key, (int)strlen(key), (unsigned char *)to_sign, strlen(to_sign), mac,
         &maclen);
    char b64[64];
    EVP_EncodeBlock((unsigned char *)b64, mac, (int)maclen);
    if (strcmp(b64, t.sig) != 0)
        return snprintf(why, whylen, "signature mismatch"), 401;
    char *end = NULL;
    unsigned long long se = strtoull(t.se, &end, 10);
    if (*end || se <= (unsigned long long)time(NULL))
        return snprintf(why, whylen, "token expired"), 401;
    if (strcasecmp(t.sr, name) != 0)
        return snprintf(why, whylen, "audience mismatch: token for %s, put for %s", t.sr, name),
               401;
    char ns[300];
    snprintf(ns, sizeof ns, "sb://%s/", ns_host);
    if (strncasecmp(name, ns, strlen(ns)) != 0)
        return snprintf(why, whylen, "audience %s is not in namespace %s", name, ns_host), 401;
    *expiry = se;
    return 200;
}
