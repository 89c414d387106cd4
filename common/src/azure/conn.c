/* AZURE_STORAGE_CONNECTION_STRING parsing. Pure; the fuzz target azure_conn drives it. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>

#include "aos/base64.h"
#include "aos/connstr.h"
#include "azure_internal.h"

static const char *const service_prefix[AOS_AZURE_SERVICE_COUNT_] = {"blob", "queue", "table"};
static const char *const endpoint_key[AOS_AZURE_SERVICE_COUNT_] = {"BlobEndpoint", "QueueEndpoint",
                                                                   "TableEndpoint"};
static const int dev_port[AOS_AZURE_SERVICE_COUNT_] = {10000, 10001, 10002};

typedef struct conn_fields {
    const char *protocol, *account, *key, *suffix, *dev;
    const char *endpoint[AOS_AZURE_SERVICE_COUNT_];
} conn_fields_t;

void aos_azure_conn_free(aos_azure_conn_t *conn)
{
    if (!conn)
        return;
    free(conn->account_name);
    if (conn->account_key) {
        OPENSSL_cleanse(conn->account_key, conn->account_key_len);
        free(conn->account_key);
    }
    for (int i = 0; i < AOS_AZURE_SERVICE_COUNT_; i++)
        free(conn->endpoint[i]);
    free(conn);
}

static const char *const KEYS[] = {
    "DefaultEndpointsProtocol", "AccountName",  "AccountKey",    "EndpointSuffix",
    "UseDevelopmentStorage",    "BlobEndpoint", "QueueEndpoint", "TableEndpoint"};

/* Split the (copied, mutable) string into fields; values point into copy. */
static aos_result split_fields(char *copy, conn_fields_t *f, char *errbuf, size_t errlen)
{
    char *v[sizeof KEYS / sizeof KEYS[0]];
    AOS_RETURN_IF_FAILED(
        aos_connstr_split(copy, KEYS, sizeof KEYS / sizeof KEYS[0], v, errbuf, errlen));
    f->protocol = v[0];
    f->account = v[1];
    f->key = v[2];
    f->suffix = v[3];
    f->dev = v[4];
    for (int i = 0; i < AOS_AZURE_SERVICE_COUNT_; i++)
        f->endpoint[i] = v[5 + i];
    return AOS_OK;
}

static bool endpoint_ok(const char *url)
{
    const char *rest;
    if (!strncasecmp(url, "http://", 7))
        rest = url + 7;
    else if (!strncasecmp(url, "https://", 8))
        rest = url + 8;
    else
        return false;
    if (!*rest || *rest == '/')
        return false;
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == '?' || *p == '#' || *p == 0x7f)
            return false;
    return true;
}

static bool account_ok(const char *a)
{
    size_t n = strlen(a);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = a[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')))
            return false;
    }
    return true;
}

static aos_result set_endpoint(aos_azure_conn_t *conn, int svc, const char *url)
{
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        n--;
    conn->endpoint[svc] = strndup(url, n);
    return conn->endpoint[svc] ? AOS_OK : AOS_ERR_NOMEM;
}

static aos_result fill_conn(aos_azure_conn_t *conn, const conn_fields_t *f, char *errbuf,
                            size_t errlen)
{
    bool dev = f->dev && !strcasecmp(f->dev, "true");
    if (f->dev && !dev)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "connection string: UseDevelopmentStorage must be 'true'");
    const char *account = f->account ? f->account : (dev ? AOS_AZURE_DEV_ACCOUNT : NULL);
    const char *key = f->key ? f->key : (dev ? AOS_AZURE_DEV_KEY : NULL);
    if (!account || !*account)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "connection string: AccountName missing");
    if (!account_ok(account))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "connection string: AccountName must be 1-64 letters or digits");
    if (!key || !*key)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "connection string: AccountKey missing");
    aos_result r = aos_base64_decode(key, strlen(key), &conn->account_key, &conn->account_key_len);
    if (r != AOS_OK)
        return aos_fail(r, errbuf, errlen, "connection string: AccountKey is not valid base64");
    if (conn->account_key_len == 0)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "connection string: AccountKey empty");
    conn->account_name = strdup(account);
    if (!conn->account_name)
        return AOS_ERR_NOMEM;

    const char *proto = f->protocol ? f->protocol : (dev ? "http" : "https");
    if (strcasecmp(proto, "http") != 0 && strcasecmp(proto, "https") != 0)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "connection string: DefaultEndpointsProtocol must be http or https");
    const char *suffix = f->suffix && *f->suffix ? f->suffix : "core.windows.net";
    for (int i = 0; i < AOS_AZURE_SERVICE_COUNT_; i++) {
        char url[512];
        const char *e = f->endpoint[i];
        if (e && *e) {
            if (!endpoint_ok(e))
                return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                                "connection string: %s must be an http(s) URL", endpoint_key[i]);
        } else if (dev) {
            snprintf(url, sizeof url, "http://127.0.0.1:%d/%s", dev_port[i], account);
            e = url;
        } else {
            if (strlen(suffix) > 300 || strchr(suffix, '/') || strchr(suffix, '?'))
                return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                                "connection string: EndpointSuffix is not a host suffix");
            snprintf(url, sizeof url, "%s://%s.%s.%s", strcasecmp(proto, "http") ? "https" : "http",
                     account, service_prefix[i], suffix);
            e = url;
            if (!endpoint_ok(e))
                return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                                "connection string: EndpointSuffix is not a host suffix");
        }
        AOS_RETURN_IF_FAILED(set_endpoint(conn, i, e));
    }
    return AOS_OK;
}

aos_result aos_azure_conn_parse(const char *conn_string, aos_azure_conn_t **out_conn, char *errbuf,
                                size_t errlen)
{
    *out_conn = NULL;
    if (!conn_string || !*conn_string)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "connection string is empty");
    if (strlen(conn_string) > AOS_CONNSTR_MAX)
        return aos_fail(AOS_ERR_TOO_LARGE, errbuf, errlen, "connection string is too long");
    char *copy = strdup(conn_string);
    aos_azure_conn_t *conn = calloc(1, sizeof *conn);
    if (!copy || !conn) {
        free(copy);
        free(conn);
        return AOS_ERR_NOMEM;
    }
    conn_fields_t f = {0};
    aos_result r = split_fields(copy, &f, errbuf, errlen);
    if (r == AOS_OK)
        r = fill_conn(conn, &f, errbuf, errlen);
    OPENSSL_cleanse(copy, strlen(conn_string)); /* it held the key */
    free(copy);
    if (r != AOS_OK) {
        aos_azure_conn_free(conn);
        return r;
    }
    *out_conn = conn;
    return AOS_OK;
}
