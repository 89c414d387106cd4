/* The client object and the one request path every operation goes through: build the URL,
 * add x-ms-date / x-ms-version, sign, perform on the reused CURL handle, map the status. */
#include <ctype.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "azure_internal.h"

#define ERROR_BODY_MAX (64 * 1024)
#define MAX_HEADERS 24

struct aos_azure_client {
    aos_azure_conn_t *conn;
    CURL *curl;
    long timeout_ms;
    long status;
    uint64_t connections;
    char error[1024];
    char error_code[128];
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init_once(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

aos_result aos_azure_global_init(void)
{
    pthread_once(&global_once, global_init_once);
    return global_rc == CURLE_OK ? AOS_OK : AOS_ERR_INTERNAL;
}

static aos_result conn_copy(const aos_azure_conn_t *src, aos_azure_conn_t **out)
{
    aos_azure_conn_t *c = calloc(1, sizeof *c);
    if (!c)
        return AOS_ERR_NOMEM;
    c->account_name = strdup(src->account_name);
    c->account_key = malloc(src->account_key_len ? src->account_key_len : 1);
    bool ok = c->account_name && c->account_key;
    if (c->account_key)
        memcpy(c->account_key, src->account_key, src->account_key_len);
    c->account_key_len = src->account_key_len;
    for (int i = 0; i < AOS_AZURE_SERVICE_COUNT_; i++) {
        c->endpoint[i] = strdup(src->endpoint[i]);
        ok = ok && c->endpoint[i];
    }
    if (!ok) {
        aos_azure_conn_free(c);
        return AOS_ERR_NOMEM;
    }
    *out = c;
    return AOS_OK;
}

aos_result aos_azure_client_new(const aos_azure_conn_t *conn, aos_azure_client_t **out_client,
                                char *errbuf, size_t errlen)
{
    *out_client = NULL;
    if (!conn || !conn->account_name || !conn->account_key)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "azure client: no account");
    if (aos_azure_global_init() != AOS_OK)
        return aos_fail(AOS_ERR_INTERNAL, errbuf, errlen, "curl_global_init failed");
    aos_azure_client_t *c = calloc(1, sizeof *c);
    if (!c)
        return AOS_ERR_NOMEM;
    c->timeout_ms = 30000;
    if (conn_copy(conn, &c->conn) != AOS_OK || !(c->curl = curl_easy_init())) {
        aos_azure_client_free(c);
        return aos_fail(AOS_ERR_NOMEM, errbuf, errlen, "azure client: out of memory");
    }
    *out_client = c;
    return AOS_OK;
}

aos_result aos_azure_client_new_from_string(const char *conn_string,
                                            aos_azure_client_t **out_client, char *errbuf,
                                            size_t errlen)
{
    aos_azure_conn_t *conn;
    *out_client = NULL;
    AOS_RETURN_IF_FAILED(aos_azure_conn_parse(conn_string, &conn, errbuf, errlen));
    aos_result r = aos_azure_client_new(conn, out_client, errbuf, errlen);
    aos_azure_conn_free(conn);
    return r;
}

void aos_azure_client_free(aos_azure_client_t *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    aos_azure_conn_free(c->conn);
    free(c);
}

void aos_azure_client_set_timeout_ms(aos_azure_client_t *c, long timeout_ms)
{
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
}

const aos_azure_conn_t *aos_azure_client_conn(const aos_azure_client_t *c)
{
    return c->conn;
}

const char *aos_azure_client_error(const aos_azure_client_t *c)
{
    return c->error;
}

long aos_azure_client_status(const aos_azure_client_t *c)
{
    return c->status;
}

uint64_t aos_azure_client_connections(const aos_azure_client_t *c)
{
    return c->connections;
}

const char *aos_azure_last_error_code(const aos_azure_client_t *c)
{
    return c->error_code;
}

void aos_azure_set_error(aos_azure_client_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->error, sizeof c->error, fmt, ap);
    va_end(ap);
}

bool aos_azure_header_value_ok(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)(v ? v : ""); *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return false;
    return true;
}

/* ---- one transfer ---- */

typedef struct transfer {
    aos_azure_client_t *c;
    const aos_azure_request_t *req;
    aos_buf_t errbody;
    aos_result sink_result;
} transfer_t;

/* One response header line (curl hands them over one by one, CRLF included): the error code,
 * x-ms-meta-* into r->meta, and the headers r asks for into r->want_values. Pure over the
 * line's bytes; fuzzed (tests/azure/fuzz_azure_headers.c). */
void aos_azure_header_line_(const char *data, size_t n, char *error_code, size_t eclen,
                            const aos_azure_request_t *r)
{
    const char *colon = memchr(data, ':', n);
    if (!colon)
        return;
    size_t nlen = (size_t)(colon - data);
    const char *v = colon + 1;
    size_t vlen = n - nlen - 1;
    while (vlen && (*v == ' ' || *v == '\t')) {
        v++;
        vlen--;
    }
    while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
        vlen--;
    if (error_code && eclen && nlen == 15 && !strncasecmp(data, "x-ms-error-code", 15)) {
        size_t k = vlen < eclen - 1 ? vlen : eclen - 1;
        memcpy(error_code, v, k);
        error_code[k] = '\0';
    }
    if (r->meta && nlen > 10 && !strncasecmp(data, "x-ms-meta-", 10)) {
        size_t used = strlen(r->meta);
        size_t need = (nlen - 10) + 1 + vlen + 1;
        if (used + need < r->meta_len) {
            char *o = r->meta + used;
            for (size_t i = 10; i < nlen; i++)
                *o++ = (char)tolower((unsigned char)data[i]);
            *o++ = '=';
            memcpy(o, v, vlen);
            o += vlen;
            *o++ = '\n';
            *o = '\0';
        }
    }
    for (size_t i = 0; i < r->nwant; i++) {
        if (strlen(r->want_headers[i]) == nlen && !strncasecmp(data, r->want_headers[i], nlen)) {
            size_t k = vlen < r->want_len - 1 ? vlen : r->want_len - 1;
            memcpy(r->want_values[i], v, k);
            r->want_values[i][k] = '\0';
        }
    }
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    transfer_t *t = ud;
    size_t n = size * nmemb;
    aos_azure_header_line_(data, n, t->c->error_code, sizeof t->c->error_code, t->req);
    return n;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    transfer_t *t = ud;
    size_t n = size * nmemb;
    long status = 0;
    curl_easy_getinfo(t->c->curl, CURLINFO_RESPONSE_CODE, &status);
    bool ok = status >= 200 && status < 300;
    if (ok && t->req->resp)
        return aos_buf_append(t->req->resp, data, n) == AOS_OK ? n : 0;
    if (ok && t->req->sink) {
        t->sink_result = t->req->sink(t->req->sink_ctx, data, n);
        return t->sink_result == AOS_OK ? n : 0;
    }
    if (!ok && t->errbody.len + n <= ERROR_BODY_MAX)
        aos_buf_append(&t->errbody, data, n);
    return n;
}

static aos_result map_status(long status, const char *code)
{
    if (status == 404)
        return AOS_ERR_NOT_FOUND;
    if (status == 409 || status == 412)
        return AOS_ERR_CONFLICT;
    if (status == 401 || status == 403)
        return AOS_ERR_AUTH;
    if (status == 413)
        return AOS_ERR_TOO_LARGE;
    if (status == 429 || (status == 503 && code && !strcmp(code, "ServerBusy")))
        return AOS_ERR_RATE_LIMITED;
    if (status == 408)
        return AOS_ERR_TIMEOUT;
    if (status >= 500)
        return AOS_ERR_UNAVAILABLE;
    return AOS_ERR_INVALID;
}

/* The service's human message from a JSON (Table) or XML (Blob/Queue) error body. */
void aos_azure_error_message_(const aos_buf_t *body, char *out, size_t outlen)
{
    out[0] = '\0';
    if (!body->data || !body->len)
        return;
    if (body->data[0] == '{') {
        json_object *root = json_tokener_parse(body->data), *err, *msg, *val;
        if (root &&
            (json_object_object_get_ex(root, "odata.error", &err) ||
             json_object_object_get_ex(root, "error", &err)) &&
            json_object_object_get_ex(err, "message", &msg)) {
            if (json_object_object_get_ex(msg, "value", &val))
                msg = val;
            snprintf(out, outlen, "%s", json_object_get_string(msg));
        }
        json_object_put(root);
    } else {
        aos_xml_node_t *root;
        if (aos_xml_parse(body->data, body->len, &root, NULL, 0) == AOS_OK) {
            const char *m = aos_xml_child_text(root, "Message");
            snprintf(out, outlen, "%s", m ? m : "");
            aos_xml_free(root);
        }
    }
    char *nl = strpbrk(out, "\r\n"); /* the first line; the rest is request ids */
    if (nl)
        *nl = '\0';
}

static aos_result build_url(const aos_azure_client_t *c, const aos_azure_request_t *req,
                            aos_buf_t *url)
{
    aos_buf_puts(url, c->conn->endpoint[req->svc]);
    aos_buf_puts(url, req->path && *req->path ? req->path : "/");
    if (req->query && *req->query) {
        aos_buf_puts(url, "?");
        aos_buf_puts(url, req->query);
    }
    return url->failed ? AOS_ERR_NOMEM : AOS_OK;
}

/* Assemble the header set (extra + date/version + Content-Length for signing), sign it, and
 * turn it into a curl list. */
static aos_result build_headers(aos_azure_client_t *c, const aos_azure_request_t *req,
                                const char *url, struct curl_slist **out)
{
    if (req->nheaders > MAX_HEADERS - 4)
        return AOS_ERR_INTERNAL;
    aos_azure_header_t h[MAX_HEADERS];
    size_t n = 0;
    char date[30], clen[32], auth[256];
    aos_azure_http_date((int64_t)time(NULL), date);
    snprintf(clen, sizeof clen, "%zu", req->body_len);
    h[n++] = (aos_azure_header_t){"x-ms-date", date};
    h[n++] = (aos_azure_header_t){"x-ms-version", AOS_AZURE_API_VERSION};
    bool has_ct = false;
    for (size_t i = 0; i < req->nheaders; i++) {
        if (!aos_azure_header_value_ok(req->headers[i].value)) {
            aos_azure_set_error(c, "header %s has a control character", req->headers[i].name);
            return AOS_ERR_INVALID;
        }
        h[n++] = req->headers[i];
        has_ct = has_ct || !strcasecmp(req->headers[i].name, "Content-Type");
    }
    size_t nsend = n;
    h[n++] = (aos_azure_header_t){"Content-Length", clen}; /* signed, curl sends it */
    char *sts;
    AOS_RETURN_IF_FAILED(
        aos_azure_string_to_sign(req->svc, c->conn->account_name, req->verb, url, h, n, &sts));
    aos_result r = aos_azure_authorization(c->conn, sts, auth, sizeof auth);
    free(sts);
    AOS_RETURN_IF_FAILED(r);

    struct curl_slist *list = NULL;
    aos_buf_t line = {0};
    bool ok = true;
    for (size_t i = 0; i < nsend && ok; i++) {
        line.len = 0;
        aos_buf_printf(&line, "%s: %s", h[i].name, h[i].value);
        struct curl_slist *nl = line.failed ? NULL : curl_slist_append(list, line.data);
        ok = nl != NULL;
        list = nl ? nl : list;
    }
    line.len = 0;
    aos_buf_printf(&line, "Authorization: %s", auth);
    const char *fixed[] = {line.data, "Expect:", has_ct ? NULL : "Content-Type:"};
    for (size_t i = 0; i < 3 && ok; i++) {
        if (!fixed[i])
            continue;
        struct curl_slist *nl = curl_slist_append(list, fixed[i]);
        ok = nl != NULL;
        list = nl ? nl : list;
    }
    aos_buf_free(&line);
    if (!ok) {
        curl_slist_free_all(list);
        return AOS_ERR_NOMEM;
    }
    *out = list;
    return AOS_OK;
}

static void set_transfer_options(aos_azure_client_t *c, const aos_azure_request_t *req,
                                 const char *url, struct curl_slist *headers, transfer_t *t)
{
    CURL *h = c->curl;
    curl_easy_reset(h); /* keeps the connection cache: the next request reuses the socket */
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms < 10000 ? c->timeout_ms : 10000L);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (!strcmp(req->verb, "HEAD")) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (!strcmp(req->verb, "GET")) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->verb);
        if (req->body || strcmp(req->verb, "DELETE") != 0) {
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        }
    }
}

aos_result aos_azure_perform(aos_azure_client_t *c, const aos_azure_request_t *req,
                             long *out_status)
{
    c->error[0] = c->error_code[0] = '\0';
    c->status = 0;
    if (out_status)
        *out_status = 0;
    for (size_t i = 0; i < req->nwant; i++)
        req->want_values[i][0] = '\0';
    if (req->meta && req->meta_len)
        req->meta[0] = '\0';
    aos_buf_t url = {0};
    struct curl_slist *headers = NULL;
    aos_result r = build_url(c, req, &url);
    if (r == AOS_OK)
        r = build_headers(c, req, url.data, &headers);
    if (r != AOS_OK) {
        aos_buf_free(&url);
        if (!c->error[0])
            aos_azure_set_error(c, "azure: cannot build request (%s)", aos_result_str(r));
        return r;
    }
    transfer_t t = {.c = c, .req = req, .sink_result = AOS_OK};
    set_transfer_options(c, req, url.data, headers, &t);
    CURLcode cc = curl_easy_perform(c->curl);
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &c->status);
    long opened = 0;
    if (curl_easy_getinfo(c->curl, CURLINFO_NUM_CONNECTS, &opened) == CURLE_OK && opened > 0)
        c->connections += (uint64_t)opened;
    curl_slist_free_all(headers);
    if (out_status)
        *out_status = c->status;
    if (cc == CURLE_WRITE_ERROR && t.sink_result != AOS_OK) {
        aos_azure_set_error(c, "%s %s: the receiver stopped (%s)", req->verb, url.data,
                            aos_result_str(t.sink_result));
        r = t.sink_result;
    } else if (cc != CURLE_OK) {
        aos_azure_set_error(c, "%s %s: transport: %s", req->verb, url.data, curl_easy_strerror(cc));
        r = cc == CURLE_OPERATION_TIMEDOUT ? AOS_ERR_TIMEOUT : AOS_ERR_UNAVAILABLE;
    } else if (c->status < 200 || c->status >= 300) {
        char msg[512];
        aos_azure_error_message_(&t.errbody, msg, sizeof msg);
        aos_azure_set_error(c, "%s %s: HTTP %ld %s%s%s", req->verb, url.data, c->status,
                            c->error_code[0] ? c->error_code : "", msg[0] ? ": " : "", msg);
        r = map_status(c->status, c->error_code);
    } else if (req->resp && req->resp->failed) {
        r = AOS_ERR_NOMEM;
    }
    aos_buf_free(&t.errbody);
    aos_buf_free(&url);
    return r;
}
