/* Storage data model: clear/copy helpers, name validators, streaming SHA-256. */
#include "aos/storage_types.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "aos/json.h"
#include "aos/utf8.h"

char *aos_storage_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

void aos_storage_conversation_clear(aos_storage_conversation_t *c)
{
    if (!c)
        return;
    free(c->id);
    free(c->agent);
    free(c->metadata_json);
    memset(c, 0, sizeof *c);
}

void aos_storage_message_clear(aos_storage_message_t *m)
{
    if (!m)
        return;
    free(m->conversation_id);
    free(m->id);
    free(m->role);
    free(m->content);
    free(m->metadata_json);
    memset(m, 0, sizeof *m);
}

void aos_storage_blob_info_clear(aos_storage_blob_info_t *b)
{
    if (!b)
        return;
    free(b->container);
    free(b->name);
    free(b->content_type);
    free(b->etag);
    memset(b, 0, sizeof *b);
}

void aos_storage_record_clear(aos_storage_record_t *r)
{
    if (!r)
        return;
    free(r->kind);
    free(r->key);
    free(r->data_json);
    free(r->version);
    memset(r, 0, sizeof *r);
}

#define PAGE_CLEAR(fn, page_t, item_clear)                                                         \
    void fn(page_t *p)                                                                             \
    {                                                                                              \
        if (!p)                                                                                    \
            return;                                                                                \
        for (size_t i = 0; i < p->count; i++)                                                      \
            item_clear(&p->items[i]);                                                              \
        free(p->items);                                                                            \
        free(p->next_cursor);                                                                      \
        memset(p, 0, sizeof *p);                                                                   \
    }

PAGE_CLEAR(aos_storage_conversation_page_clear, aos_storage_conversation_page_t,
           aos_storage_conversation_clear)
PAGE_CLEAR(aos_storage_message_page_clear, aos_storage_message_page_t, aos_storage_message_clear)
PAGE_CLEAR(aos_storage_blob_page_clear, aos_storage_blob_page_t, aos_storage_blob_info_clear)
PAGE_CLEAR(aos_storage_record_page_clear, aos_storage_record_page_t, aos_storage_record_clear)

/* Copy src into *dst; false when src was non-NULL and the copy failed. */
static bool dup_into(char **dst, const char *src)
{
    *dst = aos_storage_strdup(src);
    return !src || *dst;
}

aos_result aos_storage_conversation_copy(const aos_storage_conversation_t *in,
                                         aos_storage_conversation_t *out)
{
    memset(out, 0, sizeof *out);
    out->version = in->version;
    out->created_ms = in->created_ms;
    out->updated_ms = in->updated_ms;
    if (!dup_into(&out->id, in->id) || !dup_into(&out->agent, in->agent) ||
        !dup_into(&out->metadata_json, in->metadata_json)) {
        aos_storage_conversation_clear(out);
        return AOS_ERR_NOMEM;
    }
    return AOS_OK;
}

aos_result aos_storage_message_copy(const aos_storage_message_t *in, aos_storage_message_t *out)
{
    memset(out, 0, sizeof *out);
    out->seq = in->seq;
    out->created_ms = in->created_ms;
    if (!dup_into(&out->conversation_id, in->conversation_id) || !dup_into(&out->id, in->id) ||
        !dup_into(&out->role, in->role) || !dup_into(&out->content, in->content) ||
        !dup_into(&out->metadata_json, in->metadata_json)) {
        aos_storage_message_clear(out);
        return AOS_ERR_NOMEM;
    }
    return AOS_OK;
}

aos_result aos_storage_blob_info_copy(const aos_storage_blob_info_t *in,
                                      aos_storage_blob_info_t *out)
{
    memset(out, 0, sizeof *out);
    out->size = in->size;
    out->updated_ms = in->updated_ms;
    memcpy(out->sha256, in->sha256, sizeof out->sha256);
    memcpy(out->content_md5, in->content_md5, sizeof out->content_md5);
    if (!dup_into(&out->container, in->container) || !dup_into(&out->name, in->name) ||
        !dup_into(&out->content_type, in->content_type) || !dup_into(&out->etag, in->etag)) {
        aos_storage_blob_info_clear(out);
        return AOS_ERR_NOMEM;
    }
    return AOS_OK;
}

aos_result aos_storage_record_copy(const aos_storage_record_t *in, aos_storage_record_t *out)
{
    memset(out, 0, sizeof *out);
    out->updated_ms = in->updated_ms;
    if (!dup_into(&out->kind, in->kind) || !dup_into(&out->key, in->key) ||
        !dup_into(&out->data_json, in->data_json) || !dup_into(&out->version, in->version)) {
        aos_storage_record_clear(out);
        return AOS_ERR_NOMEM;
    }
    return AOS_OK;
}

/* ---- validators ---- */

static bool is_lower(char c)
{
    return c >= 'a' && c <= 'z';
}
static bool is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}
static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}
static bool is_alnum(char c)
{
    return is_lower(c) || is_upper(c) || is_digit(c);
}

bool aos_storage_valid_id(const char *s)
{
    if (!s || !*s)
        return false;
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (n >= AOS_STORAGE_ID_MAX)
            return false;
        if (!is_alnum(c) && c != '.' && c != '_' && c != ':' && c != '-')
            return false;
    }
    return true;
}

bool aos_storage_valid_container(const char *s)
{
    if (!s)
        return false;
    size_t n = strnlen(s, 64);
    if (n < 3 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '-') {
            if (i == 0 || i == n - 1 || s[i - 1] == '-')
                return false;
        } else if (!is_lower(c) && !is_digit(c)) {
            return false;
        }
    }
    return true;
}

/* The segment rules both name forms share; ok_char decides the rest. */
static bool blob_name_shape(const char *s, bool (*ok_char)(unsigned char))
{
    if (!s || !*s || s[0] == '/')
        return false;
    size_t n = strnlen(s, AOS_STORAGE_BLOB_NAME_MAX + 1);
    if (n > AOS_STORAGE_BLOB_NAME_MAX || s[n - 1] == '/')
        return false;
    size_t seg_start = 0;
    for (size_t i = 0; i <= n; i++) {
        char c = s[i];
        if (c == '/' || c == '\0') {
            size_t seg_len = i - seg_start;
            if (seg_len == 0)
                return false;
            if (seg_len == 1 && s[seg_start] == '.')
                return false;
            if (seg_len == 2 && s[seg_start] == '.' && s[seg_start + 1] == '.')
                return false;
            seg_start = i + 1;
            continue;
        }
        if (!ok_char((unsigned char)c))
            return false;
    }
    return true;
}

static bool aos_name_char(unsigned char c)
{
    return is_alnum((char)c) || c == '.' || c == '_' || c == '-';
}

/* Anything but control characters and '\\' (Azure turns it into '/'); UTF-8 checked apart. */
static bool foreign_name_char(unsigned char c)
{
    return c >= 0x20 && c != 0x7f && c != '\\';
}

bool aos_storage_valid_blob_name(const char *s)
{
    return blob_name_shape(s, aos_name_char);
}

bool aos_storage_valid_blob_name_read(const char *s)
{
    return blob_name_shape(s, foreign_name_char) && aos_utf8_valid(s, strlen(s));
}

bool aos_storage_valid_kind(const char *s)
{
    return s && (strcmp(s, "adapter") == 0 || strcmp(s, "job") == 0 || strcmp(s, "schedule") == 0 ||
                 strcmp(s, "health") == 0 || strcmp(s, "feedback") == 0);
}

bool aos_storage_valid_role(const char *s)
{
    if (!s || !*s)
        return false;
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= AOS_STORAGE_ROLE_MAX || (!is_lower(s[n]) && s[n] != '_'))
            return false;
    return true;
}

bool aos_storage_valid_agent(const char *s)
{
    if (!s || !*s)
        return false;
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= AOS_STORAGE_AGENT_MAX ||
            (!is_alnum(s[n]) && s[n] != '.' && s[n] != '_' && s[n] != '-'))
            return false;
    return true;
}

bool aos_storage_valid_cursor(const char *s)
{
    if (!s || !*s)
        return false;
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= AOS_STORAGE_CURSOR_MAX || s[n] <= ' ' || s[n] > '~')
            return false;
    return true;
}

bool aos_storage_valid_content_type(const char *s)
{
    if (!s || !*s)
        return false;
    size_t n = 0;
    bool slash = false;
    for (; s[n]; n++) {
        if (n >= AOS_STORAGE_CONTENT_TYPE_MAX || s[n] < ' ' || s[n] > '~')
            return false;
        if (s[n] == '/')
            slash = true;
    }
    return slash && s[0] != '/';
}

bool aos_storage_valid_sha256(const char *s)
{
    if (!s)
        return false;
    for (int i = 0; i < 64; i++)
        if (!is_digit(s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
            return false;
    return s[64] == '\0';
}

/* ---- SHA-256 ---- */

aos_result aos_storage_sha256_init(aos_storage_sha256_t *h)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return AOS_ERR_NOMEM;
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return AOS_ERR_INTERNAL;
    }
    h->ctx = ctx;
    return AOS_OK;
}

aos_result aos_storage_sha256_update(aos_storage_sha256_t *h, const void *data, size_t len)
{
    if (!h->ctx)
        return AOS_ERR_INTERNAL;
    if (len == 0)
        return AOS_OK;
    return EVP_DigestUpdate(h->ctx, data, len) == 1 ? AOS_OK : AOS_ERR_INTERNAL;
}

aos_result aos_storage_sha256_final(aos_storage_sha256_t *h, char out_hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!h->ctx)
        return AOS_ERR_INTERNAL;
    int ok = EVP_DigestFinal_ex(h->ctx, md, &mdlen);
    aos_storage_sha256_free(h);
    if (ok != 1 || mdlen != 32)
        return AOS_ERR_INTERNAL;
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < 32; i++) {
        out_hex[2 * i] = hex[md[i] >> 4];
        out_hex[2 * i + 1] = hex[md[i] & 15];
    }
    out_hex[64] = '\0';
    return AOS_OK;
}

void aos_storage_sha256_free(aos_storage_sha256_t *h)
{
    if (h && h->ctx) {
        EVP_MD_CTX_free(h->ctx);
        h->ctx = NULL;
    }
}

/* ---- MD5 (Content-MD5 of blobs written by others) ---- */

static bool is_alnum_b64(char c)
{
    return is_alnum(c) || c == '+' || c == '/';
}

aos_result aos_storage_md5_init(aos_storage_md5_t *h)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return AOS_ERR_NOMEM;
    if (EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return AOS_ERR_INTERNAL;
    }
    h->ctx = ctx;
    return AOS_OK;
}

aos_result aos_storage_md5_update(aos_storage_md5_t *h, const void *data, size_t len)
{
    if (!h->ctx)
        return AOS_ERR_INTERNAL;
    if (len == 0)
        return AOS_OK;
    return EVP_DigestUpdate(h->ctx, data, len) == 1 ? AOS_OK : AOS_ERR_INTERNAL;
}

aos_result aos_storage_md5_final_b64(aos_storage_md5_t *h, char out_b64[25])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!h->ctx)
        return AOS_ERR_INTERNAL;
    int ok = EVP_DigestFinal_ex(h->ctx, md, &mdlen);
    aos_storage_md5_free(h);
    if (ok != 1 || mdlen != 16)
        return AOS_ERR_INTERNAL;
    return EVP_EncodeBlock((unsigned char *)out_b64, md, 16) == 24 ? AOS_OK : AOS_ERR_INTERNAL;
}

void aos_storage_md5_free(aos_storage_md5_t *h)
{
    if (h && h->ctx) {
        EVP_MD_CTX_free(h->ctx);
        h->ctx = NULL;
    }
}

bool aos_storage_valid_md5_b64(const char *s)
{
    if (!s)
        return false;
    for (int i = 0; i < 21; i++)
        if (!is_alnum_b64(s[i]))
            return false;
    /* 16 bytes: 21 full sextets, one carrying 2 bits (low 4 bits zero), then "==" */
    return strchr("AQgw", s[21]) != NULL && s[21] != '\0' && s[22] == '=' && s[23] == '=' &&
           s[24] == '\0';
}
