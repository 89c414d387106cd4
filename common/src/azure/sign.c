/* SharedKey string-to-sign and signature (learn.microsoft.com "Authorize with Shared Key").
 *
 * Blob and Queue:
 *   VERB \n Content-Encoding \n Content-Language \n Content-Length (empty when 0) \n
 *   Content-MD5 \n Content-Type \n Date \n If-Modified-Since \n If-Match \n If-None-Match \n
 *   If-Unmodified-Since \n Range \n CanonicalizedHeaders CanonicalizedResource
 * where CanonicalizedHeaders is every x-ms-* header as "name:value\n" sorted by lower-case name
 * and CanonicalizedResource is "/" account encoded-path, then "\nname:value" for every query
 * parameter sorted by lower-case name (decoded values, repeated names joined with ',').
 *
 * Table: VERB \n Content-MD5 \n Content-Type \n Date (x-ms-date when present) \n
 *   "/" account encoded-path ["?comp=" value].
 */
#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aos/base64.h"
#include "aos/percent.h"
#include "azure_internal.h"

typedef struct kv {
    char *name;
    char *value;
} kv_t;

static const char *header_value(const aos_azure_header_t *h, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (h[i].name && !strcasecmp(h[i].name, name))
            return h[i].value ? h[i].value : "";
    return "";
}

static int kv_cmp(const void *a, const void *b)
{
    const kv_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

static void kv_free(kv_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].value);
    }
    free(v);
}

/* A query value of our own request URL, which aos_azure_url_encode wrote: NULL when it is not
 * valid percent-encoding (or no memory). */
static char *url_decode(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    if (out && aos_pct_decode(s, n, 0, out, n + 1, NULL) != AOS_OK) {
        free(out);
        out = NULL;
    }
    return out;
}

/* Split "a=1&b=2" into decoded, lower-cased-name pairs. */
static aos_result parse_query(const char *q, kv_t **out, size_t *out_n)
{
    *out = NULL;
    *out_n = 0;
    if (!q || !*q)
        return AOS_OK;
    size_t cap = 1;
    for (const char *p = q; *p; p++)
        cap += *p == '&';
    kv_t *v = calloc(cap, sizeof *v);
    if (!v)
        return AOS_ERR_NOMEM;
    size_t n = 0;
    const char *p = q;
    while (*p) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > 0) {
            const char *eq = memchr(p, '=', len);
            size_t nlen = eq ? (size_t)(eq - p) : len;
            v[n].name = url_decode(p, nlen);
            v[n].value = eq ? url_decode(eq + 1, len - nlen - 1) : strdup("");
            if (!v[n].name || !v[n].value) {
                kv_free(v, n + 1);
                return AOS_ERR_NOMEM;
            }
            for (char *c = v[n].name; *c; c++)
                *c = (char)tolower((unsigned char)*c);
            n++;
        }
        p += len;
        if (*p == '&')
            p++;
    }
    qsort(v, n, sizeof *v, kv_cmp);
    *out = v;
    *out_n = n;
    return AOS_OK;
}

/* Split url into path (at least "/") and query (may be empty). */
static void split_url(const char *url, const char **path, size_t *path_len, const char **query)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    const char *slash = strchr(p, '/');
    const char *qmark = strchr(p, '?');
    if (!slash || (qmark && qmark < slash)) {
        *path = "/";
        *path_len = 1;
    } else {
        *path = slash;
        *path_len = qmark ? (size_t)(qmark - slash) : strlen(slash);
    }
    *query = qmark ? qmark + 1 : "";
}

static aos_result canonical_resource(aos_buf_t *b, aos_azure_service svc, const char *account,
                                     const char *url)
{
    const char *path, *query;
    size_t path_len;
    split_url(url, &path, &path_len, &query);
    aos_buf_printf(b, "/%s", account);
    aos_buf_append(b, path, path_len);
    kv_t *q;
    size_t nq;
    AOS_RETURN_IF_FAILED(parse_query(query, &q, &nq));
    for (size_t i = 0; i < nq; i++) {
        if (svc == AOS_AZURE_TABLE) {
            if (!strcmp(q[i].name, "comp"))
                aos_buf_printf(b, "?comp=%s", q[i].value);
            continue;
        }
        if (i > 0 && !strcmp(q[i].name, q[i - 1].name)) {
            aos_buf_printf(b, ",%s", q[i].value);
            continue;
        }
        aos_buf_printf(b, "\n%s:%s", q[i].name, q[i].value);
    }
    kv_free(q, nq);
    return b->failed ? AOS_ERR_NOMEM : AOS_OK;
}

static aos_result canonical_headers(aos_buf_t *b, const aos_azure_header_t *h, size_t n)
{
    kv_t *v = calloc(n ? n : 1, sizeof *v);
    if (!v)
        return AOS_ERR_NOMEM;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (!h[i].name || strncasecmp(h[i].name, "x-ms-", 5) != 0)
            continue;
        v[m].name = strdup(h[i].name);
        const char *val = h[i].value ? h[i].value : "";
        while (*val == ' ' || *val == '\t')
            val++;
        v[m].value = strdup(val);
        if (!v[m].name || !v[m].value) {
            kv_free(v, m + 1);
            return AOS_ERR_NOMEM;
        }
        for (char *c = v[m].name; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        size_t vl = strlen(v[m].value);
        while (vl > 0 && (v[m].value[vl - 1] == ' ' || v[m].value[vl - 1] == '\t'))
            v[m].value[--vl] = '\0';
        m++;
    }
    qsort(v, m, sizeof *v, kv_cmp);
    for (size_t i = 0; i < m; i++)
        aos_buf_printf(b, "%s:%s\n", v[i].name, v[i].value);
    kv_free(v, m);
    return b->failed ? AOS_ERR_NOMEM : AOS_OK;
}

aos_result aos_azure_string_to_sign(aos_azure_service svc, const char *account, const char *verb,
                                    const char *url, const aos_azure_header_t *headers,
                                    size_t nheaders, char **out)
{
    *out = NULL;
    if (!account || !verb || !url || svc >= AOS_AZURE_SERVICE_COUNT_)
        return AOS_ERR_INVALID;
    aos_buf_t b = {0};
    aos_result r;
    if (svc == AOS_AZURE_TABLE) {
        const char *date = header_value(headers, nheaders, "x-ms-date");
        if (!*date)
            date = header_value(headers, nheaders, "Date");
        aos_buf_printf(&b, "%s\n%s\n%s\n%s\n", verb, header_value(headers, nheaders, "Content-MD5"),
                       header_value(headers, nheaders, "Content-Type"), date);
        r = canonical_resource(&b, svc, account, url);
    } else {
        static const char *const std_headers[] = {"Content-Encoding",
                                                  "Content-Language",
                                                  "Content-Length",
                                                  "Content-MD5",
                                                  "Content-Type",
                                                  "Date",
                                                  "If-Modified-Since",
                                                  "If-Match",
                                                  "If-None-Match",
                                                  "If-Unmodified-Since",
                                                  "Range"};
        aos_buf_printf(&b, "%s\n", verb);
        for (size_t i = 0; i < sizeof std_headers / sizeof *std_headers; i++) {
            const char *v = header_value(headers, nheaders, std_headers[i]);
            if (i == 2 && !strcmp(v, "0"))
                v = "";
            aos_buf_printf(&b, "%s\n", v);
        }
        r = canonical_headers(&b, headers, nheaders);
        if (r == AOS_OK)
            r = canonical_resource(&b, svc, account, url);
    }
    if (r == AOS_OK && b.failed)
        r = AOS_ERR_NOMEM;
    if (r != AOS_OK) {
        aos_buf_free(&b);
        return r;
    }
    if (!b.data)
        aos_buf_puts(&b, "");
    *out = b.data;
    return *out ? AOS_OK : AOS_ERR_NOMEM;
}

aos_result aos_azure_authorization(const aos_azure_conn_t *conn, const char *string_to_sign,
                                   char *out, size_t outlen)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    if (!HMAC(EVP_sha256(), conn->account_key, (int)conn->account_key_len,
              (const unsigned char *)string_to_sign, strlen(string_to_sign), mac, &maclen))
        return AOS_ERR_INTERNAL;
    char *sig;
    AOS_RETURN_IF_FAILED(aos_base64_encode(mac, maclen, &sig, NULL));
    int n = snprintf(out, outlen, "SharedKey %s:%s", conn->account_name, sig);
    free(sig);
    return n > 0 && (size_t)n < outlen ? AOS_OK : AOS_ERR_TOO_LARGE;
}
