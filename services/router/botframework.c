/* Bot Framework activity parsing and reply building (see botframework.h). */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aos/envelope.h"
#include "aos/json.h"
#include "aos/percent.h"
#include "botframework.h"

static aos_result add_raw(json_object *o, const char *key, const char *json);

static aos_result dup_str(json_object *o, const char *field, aos_json_need need, size_t max,
                          char **out, char *errbuf, size_t errlen)
{
    const char *s = NULL;
    AOS_RETURN_IF_FAILED(aos_json_get_string(o, field, need, &s, errbuf, errlen));
    if (!s)
        return AOS_OK;
    if (strlen(s) > max) /* oversize text is 413 like /v1/messages (docs/http-api.md) */
        return aos_fail(strcmp(field, "text") == 0 ? AOS_ERR_TOO_LARGE : AOS_ERR_INVALID, errbuf,
                        errlen, "field '%s' is longer than %zu bytes", field, max);
    *out = strdup(s);
    return *out ? AOS_OK : AOS_ERR_NOMEM;
}

static aos_result obj_json(json_object *o, const char *field, aos_json_need need, char **out,
                           json_object **out_obj, char *errbuf, size_t errlen)
{
    json_object *v = NULL;
    AOS_RETURN_IF_FAILED(aos_json_get_object(o, field, need, &v, errbuf, errlen));
    if (out_obj)
        *out_obj = v;
    return v ? aos_json_to_string(v, out, NULL) : AOS_OK;
}

static aos_result parse_fields(json_object *o, size_t max_text, bool context, router_activity_t *a,
                               char *errbuf, size_t errlen)
{
    json_object *conv = NULL, *from = NULL;
    AOS_RETURN_IF_FAILED(dup_str(o, "type", AOS_JSON_REQUIRED, 64, &a->type, errbuf, errlen));
    AOS_RETURN_IF_FAILED(dup_str(o, "id", AOS_JSON_OPTIONAL, 256, &a->id, errbuf, errlen));
    AOS_RETURN_IF_FAILED(
        dup_str(o, "channelId", AOS_JSON_OPTIONAL, 128, &a->channel_id, errbuf, errlen));
    AOS_RETURN_IF_FAILED(
        dup_str(o, "serviceUrl", AOS_JSON_OPTIONAL, 1024, &a->service_url, errbuf, errlen));
    if (a->service_url && ((strncmp(a->service_url, "https://", 8) != 0 &&
                            strncmp(a->service_url, "http://", 7) != 0) ||
                           strpbrk(a->service_url, "?# \t\r\n") != NULL))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "field 'serviceUrl' must be an http(s) URL without query or fragment");
    AOS_RETURN_IF_FAILED(obj_json(o, "conversation", AOS_JSON_REQUIRED, &a->conversation_json,
                                  &conv, errbuf, errlen));
    char why[160];
    if (dup_str(conv, "id", AOS_JSON_REQUIRED, 1024, &a->conversation_id, why, sizeof why) !=
        AOS_OK)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "conversation: %s", why);
    AOS_RETURN_IF_FAILED(
        obj_json(o, "from", AOS_JSON_OPTIONAL, &a->from_json, &from, errbuf, errlen));
    if (from &&
        dup_str(from, "id", AOS_JSON_OPTIONAL, 1024, &a->from_id, why, sizeof why) != AOS_OK)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "from: %s", why);
    AOS_RETURN_IF_FAILED(
        obj_json(o, "recipient", AOS_JSON_OPTIONAL, &a->recipient_json, NULL, errbuf, errlen));
    AOS_RETURN_IF_FAILED(dup_str(o, "locale", AOS_JSON_OPTIONAL, 64, &a->locale, errbuf, errlen));
    AOS_RETURN_IF_FAILED(
        dup_str(o, "deliveryMode", AOS_JSON_OPTIONAL, 64, &a->delivery_mode, errbuf, errlen));
    if (context)
        return dup_str(o, "name", AOS_JSON_OPTIONAL, 256, &a->name, errbuf, errlen);
    bool is_msg = strcmp(a->type, "message") == 0;
    bool named = strcmp(a->type, "event") == 0 || strcmp(a->type, "invoke") == 0;
    if (!is_msg && !named)
        return AOS_OK;
    if (named)
        AOS_RETURN_IF_FAILED(dup_str(o, "name", AOS_JSON_REQUIRED, 256, &a->name, errbuf, errlen));
    json_object *v = NULL;
    if (json_object_object_get_ex(o, "value", &v) && v &&
        aos_json_to_string(v, &a->value_json, NULL) != AOS_OK)
        return AOS_ERR_NOMEM;
    if (json_object_object_get_ex(o, "attachments", &v) && v) {
        if (!json_object_is_type(v, json_type_array))
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                            "field 'attachments' must be an array");
        if (json_object_array_length(v) > 0 &&
            aos_json_to_string(v, &a->attachments_json, NULL) != AOS_OK)
            return AOS_ERR_NOMEM;
    }
    if (!is_msg)
        return AOS_OK;
    AOS_RETURN_IF_FAILED(dup_str(o, "text", AOS_JSON_OPTIONAL, max_text, &a->text, errbuf, errlen));
    bool blank = !a->text || strspn(a->text, " \t\r\n") == strlen(a->text);
    if (blank && !a->value_json && !a->attachments_json)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "message activity needs a non-empty 'text', a 'value' or attachments");
    return AOS_OK;
}

static aos_result parse_any(const char *body, size_t len, size_t max_text, bool context,
                            router_activity_t **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    json_object *o = NULL;
    AOS_RETURN_IF_FAILED(aos_json_parse_object(body, len, len + 1, 0, &o, errbuf, errlen));
    router_activity_t *a = calloc(1, sizeof *a);
    aos_result r = a ? parse_fields(o, max_text, context, a, errbuf, errlen) : AOS_ERR_NOMEM;
    json_object_put(o);
    if (r != AOS_OK) {
        router_activity_free(a);
        return r;
    }
    *out = a;
    return AOS_OK;
}

aos_result router_activity_parse(const char *body, size_t len, size_t max_text,
                                 router_activity_t **out, char *errbuf, size_t errlen)
{
    return parse_any(body, len, max_text, false, out, errbuf, errlen);
}

aos_result router_activity_context_parse(const char *json, size_t len, router_activity_t **out,
                                         char *errbuf, size_t errlen)
{
    return parse_any(json, len, 0, true, out, errbuf, errlen);
}

aos_result router_activity_context_json(const router_activity_t *a, char **out_json)
{
    json_object *o = json_object_new_object();
    aos_result r = o ? aos_json_add_string(o, "type", a->type) : AOS_ERR_NOMEM;
    if (r == AOS_OK)
        r = aos_json_add_string(o, "id", a->id);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "channelId", a->channel_id);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "serviceUrl", a->service_url);
    if (r == AOS_OK)
        r = add_raw(o, "conversation", a->conversation_json);
    if (r == AOS_OK)
        r = add_raw(o, "from", a->from_json);
    if (r == AOS_OK)
        r = add_raw(o, "recipient", a->recipient_json);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "locale", a->locale);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "deliveryMode", a->delivery_mode);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "name", a->name);
    if (r == AOS_OK)
        r = aos_json_to_string(o, out_json, NULL);
    json_object_put(o);
    return r;
}

void router_activity_free(router_activity_t *a)
{
    if (!a)
        return;
    free(a->type);
    free(a->id);
    free(a->channel_id);
    free(a->service_url);
    free(a->conversation_id);
    free(a->from_id);
    free(a->text);
    free(a->name);
    free(a->value_json);
    free(a->attachments_json);
    free(a->locale);
    free(a->delivery_mode);
    free(a->conversation_json);
    free(a->from_json);
    free(a->recipient_json);
    free(a);
}

bool router_activity_is_message(const router_activity_t *a)
{
    return a && a->type && strcmp(a->type, "message") == 0;
}

bool router_activity_is_type(const router_activity_t *a, const char *type)
{
    return a && a->type && type && strcmp(a->type, type) == 0;
}

static bool blank(const char *s)
{
    return !s || strspn(s, " \t\r\n") == strlen(s);
}

/* The text a turn reads when the activity has none: value.text, else the value's JSON, else
 * a note on the attachments. */
static aos_result derived_text(const router_activity_t *a, json_object *value, char **out)
{
    const char *s = NULL;
    if (value && json_object_is_type(value, json_type_object) &&
        aos_json_get_string(value, "text", AOS_JSON_OPTIONAL, &s, NULL, 0) == AOS_OK && !blank(s))
        *out = strdup(s);
    else if (value && json_object_is_type(value, json_type_string) &&
             !blank(json_object_get_string(value)))
        *out = strdup(json_object_get_string(value));
    else if (a->value_json)
        *out = strdup(a->value_json);
    else if (a->attachments_json)
        *out = strdup("(attachments)");
    else
        return AOS_ERR_INVALID;
    return *out ? AOS_OK : AOS_ERR_NOMEM;
}

static aos_result turn_metadata(const router_activity_t *a, json_object *value, char **out)
{
    json_object *root = json_object_new_object(), *bot = json_object_new_object();
    aos_result r = (root && bot) ? aos_json_add_string(bot, "type", a->type) : AOS_ERR_NOMEM;
    if (r == AOS_OK && a->name)
        r = aos_json_add_string(bot, "name", a->name);
    if (r == AOS_OK && value)
        r = aos_json_add(bot, "value", json_object_get(value));
    if (r == AOS_OK && a->attachments_json)
        r = add_raw(bot, "attachments", a->attachments_json);
    if (r == AOS_OK && a->channel_id)
        r = aos_json_add_string(bot, "channel_id", a->channel_id);
    if (r == AOS_OK && a->locale)
        r = aos_json_add_string(bot, "locale", a->locale);
    if (r == AOS_OK) {
        r = aos_json_add(root, "bot", bot); /* takes bot either way */
        bot = NULL;
    }
    if (r == AOS_OK)
        r = aos_json_to_string(root, out, NULL);
    json_object_put(bot);
    json_object_put(root);
    return r;
}

aos_result router_activity_turn_input(const router_activity_t *a, size_t max_text, char **out_text,
                                      char **out_metadata_json, char *errbuf, size_t errlen)
{
    *out_text = NULL;
    *out_metadata_json = NULL;
    json_object *value = NULL;
    if (a->value_json && aos_json_parse(a->value_json, strlen(a->value_json),
                                        strlen(a->value_json) + 1, 0, &value, NULL, 0) != AOS_OK)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "field 'value' is not JSON");
    aos_result r = AOS_OK;
    if (!blank(a->text))
        r = (*out_text = strdup(a->text)) ? AOS_OK : AOS_ERR_NOMEM;
    else if ((r = derived_text(a, value, out_text)) == AOS_ERR_INVALID)
        aos_fail(r, errbuf, errlen, "the %s activity carries no text and no value", a->type);
    if (r == AOS_OK && strlen(*out_text) > max_text)
        r = aos_fail(AOS_ERR_TOO_LARGE, errbuf, errlen, "the turn input is over %zu bytes",
                     max_text);
    if (r == AOS_OK)
        r = turn_metadata(a, value, out_metadata_json);
    json_object_put(value);
    if (r != AOS_OK) {
        free(*out_text);
        *out_text = NULL;
    }
    return r;
}

bool router_activity_expect_replies(const router_activity_t *a)
{
    return a && a->delivery_mode && strcmp(a->delivery_mode, "expectReplies") == 0;
}

static void hex_digest(const char *a, const char *b, const char *c, char *out, size_t hexlen)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char d[32];
    unsigned int n = 0;
    memset(d, 0, sizeof d);
    if (md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1) {
        const char *parts[3] = {a ? a : "", b ? b : "", c ? c : ""};
        for (int i = 0; i < 3; i++) {
            EVP_DigestUpdate(md, parts[i], strlen(parts[i]));
            EVP_DigestUpdate(md, "/", 1);
        }
        EVP_DigestFinal_ex(md, d, &n);
    }
    EVP_MD_CTX_free(md);
    for (size_t i = 0; i < hexlen / 2; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

aos_result router_activity_conversation_id(const router_activity_t *a, char out[40])
{
    if (!a || !a->conversation_id)
        return AOS_ERR_INVALID;
    memcpy(out, "bf-", 3);
    hex_digest(a->channel_id, a->conversation_id, NULL, out + 3, 32);
    out[35] = '\0';
    return AOS_OK;
}

aos_result router_activity_message_id(const router_activity_t *a, char out[48])
{
    if (!a)
        return AOS_ERR_INVALID;
    if (!a->id) {
        char u[37];
        aos_uuid4(u);
        snprintf(out, 48, "m-%s", u);
        return AOS_OK;
    }
    memcpy(out, "bf-m-", 5);
    hex_digest(a->channel_id, a->conversation_id, a->id, out + 5, 32);
    out[37] = '\0';
    return AOS_OK;
}

static aos_result add_raw(json_object *o, const char *key, const char *json)
{
    if (!json)
        return AOS_OK;
    json_object *v = NULL;
    AOS_RETURN_IF_FAILED(aos_json_parse(json, strlen(json), strlen(json) + 1, 0, &v, NULL, 0));
    return aos_json_add(o, key, v);
}

static aos_result base_reply(const router_activity_t *in, const char *type, const char *id,
                             json_object **out)
{
    char ts[40];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_object *o = json_object_new_object();
    if (!o)
        return AOS_ERR_NOMEM;
    aos_result r = aos_json_add_string(o, "type", type);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "id", id);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "timestamp", ts);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "channelId", in->channel_id);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "serviceUrl", in->service_url);
    if (r == AOS_OK)
        r = add_raw(o, "from", in->recipient_json);
    if (r == AOS_OK)
        r = add_raw(o, "recipient", in->from_json);
    if (r == AOS_OK)
        r = add_raw(o, "conversation", in->conversation_json);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "replyToId", in->id);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "locale", in->locale);
    if (r != AOS_OK) {
        json_object_put(o);
        return r;
    }
    *out = o;
    return AOS_OK;
}

aos_result router_activity_reply_build(const router_activity_t *in, const char *reply_id,
                                       const char *text, const char *agent, char **out_json)
{
    json_object *o = NULL;
    AOS_RETURN_IF_FAILED(base_reply(in, "message", reply_id, &o));
    aos_result r = aos_json_add_string(o, "text", text ? text : "");
    if (r == AOS_OK)
        r = aos_json_add_string(o, "textFormat", "plain");
    if (r == AOS_OK)
        r = aos_json_add_string(o, "inputHint", "acceptingInput");
    if (r == AOS_OK && agent) {
        json_object *cd = json_object_new_object(), *aos = json_object_new_object();
        r = (cd && aos) ? aos_json_add_string(aos, "agent", agent) : AOS_ERR_NOMEM;
        if (r == AOS_OK) {
            r = aos_json_add(cd, "aos", aos);
            aos = NULL;
        }
        if (r == AOS_OK) {
            r = aos_json_add(o, "channelData", cd);
            cd = NULL;
        }
        json_object_put(aos);
        json_object_put(cd);
    }
    if (r == AOS_OK)
        r = aos_json_to_string(o, out_json, NULL);
    json_object_put(o);
    return r;
}

aos_result router_activity_eoc_build_value(const router_activity_t *in, const char *id,
                                           const char *value_json, char **out_json)
{
    json_object *o = NULL;
    AOS_RETURN_IF_FAILED(base_reply(in, "endOfConversation", id, &o));
    aos_result r = aos_json_add_string(o, "code", "completedSuccessfully");
    if (r == AOS_OK && value_json)
        r = add_raw(o, "value", value_json);
    if (r == AOS_OK)
        r = aos_json_to_string(o, out_json, NULL);
    json_object_put(o);
    return r;
}

aos_result router_activity_eoc_build(const router_activity_t *in, const char *id, char **out_json)
{
    return router_activity_eoc_build_value(in, id, NULL, out_json);
}

aos_result router_activity_invoke_response_build(int status, const char *body_json, char **out_json)
{
    json_object *o = json_object_new_object(), *v = json_object_new_object();
    aos_result r = (o && v) ? aos_json_add_string(o, "type", "invokeResponse") : AOS_ERR_NOMEM;
    if (r == AOS_OK)
        r = aos_json_add(v, "status", json_object_new_int(status));
    if (r == AOS_OK && body_json)
        r = add_raw(v, "body", body_json);
    if (r == AOS_OK) {
        r = aos_json_add(o, "value", v); /* takes v either way */
        v = NULL;
    }
    if (r == AOS_OK)
        r = aos_json_to_string(o, out_json, NULL);
    json_object_put(v);
    json_object_put(o);
    return r;
}

aos_result router_activity_replies_body(const char *const *activities, size_t count,
                                        char **out_json)
{
    json_object *o = json_object_new_object(), *arr = json_object_new_array();
    aos_result r = (o && arr) ? AOS_OK : AOS_ERR_NOMEM;
    for (size_t i = 0; i < count && r == AOS_OK; i++) {
        json_object *v = NULL;
        r = aos_json_parse(activities[i], strlen(activities[i]), strlen(activities[i]) + 1, 0, &v,
                           NULL, 0);
        if (r == AOS_OK && json_object_array_add(arr, v) != 0) {
            json_object_put(v);
            r = AOS_ERR_NOMEM;
        }
    }
    if (r == AOS_OK) {
        r = aos_json_add(o, "activities", arr);
        arr = NULL;
    }
    if (r == AOS_OK)
        r = aos_json_to_string(o, out_json, NULL);
    json_object_put(arr);
    json_object_put(o);
    return r;
}

aos_result router_activity_reply_url(const router_activity_t *in, char *out, size_t outlen)
{
    if (!in || !in->service_url || !in->conversation_id)
        return AOS_ERR_INVALID;
    char conv[3200], id[800];
    if (aos_pct_encode(in->conversation_id, 0, conv, sizeof conv) != AOS_OK ||
        (in->id && aos_pct_encode(in->id, 0, id, sizeof id) != AOS_OK))
        return AOS_ERR_TOO_LARGE;
    size_t sl = strlen(in->service_url);
    const char *slash = (sl > 0 && in->service_url[sl - 1] == '/') ? "" : "/";
    int n = in->id ? snprintf(out, outlen, "%s%sv3/conversations/%s/activities/%s", in->service_url,
                              slash, conv, id)
                   : snprintf(out, outlen, "%s%sv3/conversations/%s/activities", in->service_url,
                              slash, conv);
    return (n < 0 || (size_t)n >= outlen) ? AOS_ERR_TOO_LARGE : AOS_OK;
}
