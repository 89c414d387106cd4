/* JSON form of the storage data model. */
#include "aos/storage_wire.h"

#include <stdlib.h>
#include <string.h>

#include "aos/buf.h"
#include "aos/json.h"

/* Parse our own stored JSON object text (NULL/empty = {}). */
static json_object *embed(const char *text)
{
    if (!text || !*text)
        return json_object_new_object();
    json_object *o = NULL;
    if (aos_json_parse(text, strlen(text), 4u * 1024u * 1024u, 0, &o, NULL, 0) != AOS_OK)
        return NULL;
    return o;
}

/* Build helpers: keep going and remember the first failure. */
typedef struct jb {
    json_object *o;
    bool ok;
} jb_t;

static void put_str(jb_t *b, const char *k, const char *v)
{
    if (b->ok && aos_json_add_string(b->o, k, v) != AOS_OK)
        b->ok = false;
}

static void put_int(jb_t *b, const char *k, int64_t v)
{
    if (b->ok && aos_json_add_int(b->o, k, v) != AOS_OK)
        b->ok = false;
}

static void put_obj(jb_t *b, const char *k, const char *text)
{
    if (!b->ok)
        return;
    json_object *v = embed(text);
    if (!v || aos_json_add(b->o, k, v) != AOS_OK)
        b->ok = false;
}

static json_object *finish(jb_t *b)
{
    if (!b->ok) {
        json_object_put(b->o);
        return NULL;
    }
    return b->o;
}

json_object *aos_storage_conversation_to_json(const aos_storage_conversation_t *c)
{
    jb_t b = {json_object_new_object(), true};
    b.ok = b.o != NULL;
    put_str(&b, "conversation_id", c->id);
    put_str(&b, "agent", c->agent);
    put_obj(&b, "metadata", c->metadata_json);
    put_int(&b, "version", c->version);
    put_int(&b, "created_ms", c->created_ms);
    put_int(&b, "updated_ms", c->updated_ms);
    return finish(&b);
}

static void wire_str(aos_buf_t *b, const char *k, const char *v)
{
    if (!v)
        return;
    aos_buf_printf(b, "%s\"%s\":\"", b->len > 1 ? "," : "", k);
    aos_buf_json_escape(b, v);
    aos_buf_putc(b, '"');
}

json_object *aos_storage_message_to_wire(const aos_storage_message_t *m)
{
    const char *meta = m->metadata_json && *m->metadata_json ? m->metadata_json : "{}";
    size_t mlen = strlen(meta);
    size_t skip = strspn(meta, " \t\r\n");
    if (meta[skip] != '{' ||
        aos_json_validate(meta, mlen, 4u * 1024u * 1024u, 0, NULL, 0) != AOS_OK)
        return NULL;
    aos_buf_t b = {0};
    aos_buf_putc(&b, '{');
    wire_str(&b, "conversation_id", m->conversation_id);
    wire_str(&b, "message_id", m->id);
    aos_buf_printf(&b, "%s\"seq\":%lld", b.len > 1 ? "," : "", (long long)m->seq);
    wire_str(&b, "role", m->role);
    wire_str(&b, "content", m->content);
    aos_buf_puts(&b, ",\"metadata\":");
    aos_buf_append(&b, meta, mlen);
    aos_buf_printf(&b, ",\"created_ms\":%lld}", (long long)m->created_ms);
    size_t len = 0;
    char *text = aos_buf_take(&b, &len);
    return text ? aos_json_raw(text, len) : NULL;
}

/* The tree form is the wire text read back: one definition of a message's JSON. */
json_object *aos_storage_message_to_json(const aos_storage_message_t *m)
{
    json_object *w = aos_storage_message_to_wire(m), *o = NULL;
    const char *text = w ? json_object_to_json_string_ext(w, JSON_C_TO_STRING_PLAIN) : NULL;
    if (text)
        aos_json_parse(text, aos_json_raw_len(w), aos_json_raw_len(w) + 1,
                       AOS_JSON_DEFAULT_MAX_DEPTH + 1, &o, NULL, 0); /* + the message level */
    json_object_put(w);
    return o;
}

json_object *aos_storage_blob_info_to_json(const aos_storage_blob_info_t *i)
{
    jb_t b = {json_object_new_object(), true};
    b.ok = b.o != NULL;
    put_str(&b, "container", i->container);
    put_str(&b, "name", i->name);
    put_str(&b, "content_type", i->content_type);
    put_int(&b, "size", (int64_t)i->size);
    if (i->sha256[0]) /* unknown for a blob written by another tool */
        put_str(&b, "sha256", i->sha256);
    if (i->content_md5[0])
        put_str(&b, "content_md5", i->content_md5);
    put_str(&b, "etag", i->etag);
    put_int(&b, "updated_ms", i->updated_ms);
    return finish(&b);
}

json_object *aos_storage_record_to_json(const aos_storage_record_t *r)
{
    jb_t b = {json_object_new_object(), true};
    b.ok = b.o != NULL;
    put_str(&b, "kind", r->kind);
    put_str(&b, "key", r->key);
    put_obj(&b, "data", r->data_json);
    put_str(&b, "version", r->version);
    put_int(&b, "updated_ms", r->updated_ms);
    return finish(&b);
}

/* ---- decoding ---- */

static aos_result get_dup(const json_object *o, const char *field, aos_json_need need, char **out,
                          char *errbuf, size_t errlen)
{
    const char *s = NULL;
    AOS_RETURN_IF_FAILED(aos_json_get_string(o, field, need, &s, errbuf, errlen));
    if (s && !(*out = strdup(s)))
        return AOS_ERR_NOMEM;
    return AOS_OK;
}

static aos_result get_obj_text(const json_object *o, const char *field, char **out, char *errbuf,
                               size_t errlen)
{
    json_object *v = NULL;
    AOS_RETURN_IF_FAILED(aos_json_get_object(o, field, AOS_JSON_OPTIONAL, &v, errbuf, errlen));
    if (!v) {
        *out = strdup("{}");
        return *out ? AOS_OK : AOS_ERR_NOMEM;
    }
    return aos_json_to_string(v, out, NULL);
}

static aos_result get_i64(const json_object *o, const char *field, int64_t *out, char *errbuf,
                          size_t errlen)
{
    return aos_json_get_int(o, field, AOS_JSON_OPTIONAL, out, NULL, errbuf, errlen);
}

aos_result aos_storage_conversation_from_json(const json_object *o, aos_storage_conversation_t *out,
                                              char *errbuf, size_t errlen)
{
    aos_result r = get_dup(o, "conversation_id", AOS_JSON_REQUIRED, &out->id, errbuf, errlen);
    if (r == AOS_OK)
        r = get_dup(o, "agent", AOS_JSON_REQUIRED, &out->agent, errbuf, errlen);
    if (r == AOS_OK)
        r = get_obj_text(o, "metadata", &out->metadata_json, errbuf, errlen);
    if (r == AOS_OK)
        r = get_i64(o, "version", &out->version, errbuf, errlen);
    if (r == AOS_OK)
        r = get_i64(o, "created_ms", &out->created_ms, errbuf, errlen);
    if (r == AOS_OK)
        r = get_i64(o, "updated_ms", &out->updated_ms, errbuf, errlen);
    return r;
}

aos_result aos_storage_message_from_json(const json_object *o, aos_storage_message_t *out,
                                         char *errbuf, size_t errlen)
{
    aos_result r =
        get_dup(o, "conversation_id", AOS_JSON_REQUIRED, &out->conversation_id, errbuf, errlen);
    if (r == AOS_OK)
        r = get_dup(o, "message_id", AOS_JSON_REQUIRED, &out->id, errbuf, errlen);
    if (r == AOS_OK)
        r = get_i64(o, "seq", &out->seq, errbuf, errlen);
    if (r == AOS_OK)
        r = get_dup(o, "role", AOS_JSON_REQUIRED, &out->role, errbuf, errlen);
    if (r == AOS_OK)
        r = get_dup(o, "content", AOS_JSON_REQUIRED, &out->content, errbuf, errlen);
    if (r == AOS_OK)
        r = get_obj_text(o, "metadata", &out->metadata_json, errbuf, errlen);
    if (r == AOS_OK)
        r = get_i64(o, "created_ms", &out->created_ms, errbuf, errlen);
    return r;
}

aos_result aos_storage_blob_info_from_json(const json_object *o, aos_storage_blob_info_t *out,
                                           char *errbuf, size_t errlen)
{
    const char *sha = NULL;
    int64_t size = 0;
    aos_result r = get_dup(o, "container", AOS_JSON_REQUIRED, &out->container, errbuf, errlen);
    if (r == AOS_OK)
        r = get_dup(o, "name", AOS_JSON_REQUIRED, &out->name, errbuf, errlen);
    if (r == AOS_OK)
        r = get_dup(o, "content_type", AOS_JSON_OPTIONAL, &out->content_type, errbuf, errlen);
    if (r == AOS_OK)
        r = get_i64(o, "size", &size, errbuf, errlen);
    if (r == AOS_OK && size < 0)
        r = aos_fail(AOS_ERR_INVALID, errbuf, errlen, "field 'size' must not be negative");
    out->size = (uint64_t)size;
    if (r == AOS_OK)
        r = aos_json_get_string(o, "sha256", AOS_JSON_OPTIONAL, &sha, errbuf, errlen);
    if (r == AOS_OK && sha && *sha) { /* "" from an older server: unknown */
        if (!aos_storage_valid_sha256(sha))
            r = aos_fail(AOS_ERR_INVALID, errbuf, errlen, "field 'sha256' is not a SHA-256");
        else
            memcpy(out->sha256, sha, 65);
    }
    const char *md5 = NULL;
    if (r == AOS_OK)
        r = aos_json_get_string(o, "content_md5", AOS_JSON_OPTIONAL, &md5, errbuf, errlen);
    if (r == AOS_OK && md5) {
        if (!aos_storage_valid_md5_b64(md5))
            r = aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                         "field 'content_md5' is not a base64 MD5");
        else
            memcpy(out->content_md5, md5, 25);
    }
    if (r == AOS_OK)
        r = get_dup(o, "etag", AOS_JSON_OPTIONAL, &out->etag, errbuf, errlen);
    if (r == AOS_OK)
        r = get_i64(o, "updated_ms", &out->updated_ms, errbuf, errlen);
    return r;
}

aos_result aos_storage_record_from_json(const json_object *o, aos_storage_record_t *out,
                                        char *errbuf, size_t errlen)
{
    aos_result r = get_dup(o, "kind", AOS_JSON_REQUIRED, &out->kind, errbuf, errlen);
    if (r == AOS_OK)
        r = get_dup(o, "key", AOS_JSON_REQUIRED, &out->key, errbuf, errlen);
    if (r == AOS_OK)
        r = get_obj_text(o, "data", &out->data_json, errbuf, errlen);
    if (r == AOS_OK)
        r = get_dup(o, "version", AOS_JSON_OPTIONAL, &out->version, errbuf, errlen);
    if (r == AOS_OK)
        r = get_i64(o, "updated_ms", &out->updated_ms, errbuf, errlen);
    return r;
}

aos_result aos_storage_turn_user_metadata(const char *kind, const char *user, const char *agent,
                                          const char *routing_reason, const char *event_type,
                                          const char *metadata_json, char **out_json)
{
    json_object *o = json_object_new_object();
    if (!o)
        return AOS_ERR_NOMEM;
    aos_result r = aos_json_add_string(o, "kind", kind);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "user", user);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "agent", agent);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "routing_reason", routing_reason);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "event_type", event_type);
    json_object *meta = NULL;
    if (r == AOS_OK && metadata_json &&
        aos_json_parse(metadata_json, strlen(metadata_json), 0, 0, &meta, NULL, 0) == AOS_OK)
        r = aos_json_add(o, "metadata", meta);
    if (r == AOS_OK)
        r = aos_json_to_string(o, out_json, NULL);
    json_object_put(o);
    return r;
}
