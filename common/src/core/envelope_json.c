/* CloudEvents JSON event format (structured mode), single events and batches, as Event Grid's
 * CloudEvents schema uses it. traceparent travels as the distributed-tracing extension member;
 * AMQP routing fields (correlation-id, reply-to, group-id, ttl) have no JSON form. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aos/envelope.h"
#include "aos/json.h"
#include "aos/base64.h"
#include "aos/utf8.h"
#include "envelope_internal.h"

static bool content_is_text(const char *ct)
{
    return ct && strncasecmp(ct, "text/", 5) == 0;
}

static aos_result add_data(const aos_event_t *ev, json_object *o)
{
    if (!ev->data || ev->data_len == 0)
        return AOS_OK;
    if (aos_event_content_is_json(ev->datacontenttype)) {
        json_object *v = NULL;
        aos_result r = aos_json_parse(ev->data, ev->data_len, AOS_EVENT_MAX_JSON_BYTES,
                                      AOS_EVENT_JSON_MAX_DEPTH, &v, NULL, 0);
        if (r != AOS_OK)
            return r;
        /* JSON null data has no structured form distinct from "no data". */
        return v ? aos_json_add(o, "data", v) : AOS_OK;
    }
    if (content_is_text(ev->datacontenttype) && !memchr(ev->data, '\0', ev->data_len) &&
        aos_utf8_valid(ev->data, ev->data_len))
        return aos_json_add(o, "data", json_object_new_string_len(ev->data, (int)ev->data_len));
    char *b64 = NULL;
    size_t n = 0;
    AOS_RETURN_IF_FAILED(aos_base64_encode(ev->data, ev->data_len, &b64, &n));
    aos_result r = aos_json_add(o, "data_base64", json_object_new_string_len(b64, (int)n));
    free(b64);
    return r;
}

static aos_result event_to_object(const aos_event_t *ev, json_object **out)
{
    *out = NULL;
    AOS_RETURN_IF_FAILED(aos_event_validate(ev, NULL, 0));
    if (ev->data_len > AOS_EVENT_MAX_JSON_BYTES)
        return AOS_ERR_TOO_LARGE;
    json_object *o = json_object_new_object();
    if (!o)
        return AOS_ERR_NOMEM;
    aos_result r = aos_json_add_string(o, "specversion", "1.0");
    if (r == AOS_OK)
        r = aos_json_add_string(o, "id", ev->id);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "source", ev->source);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "type", ev->type);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "subject", ev->subject);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "time", ev->time);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "datacontenttype", ev->datacontenttype);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "dataschema", ev->dataschema);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "traceparent", ev->traceparent);
    for (size_t i = 0; r == AOS_OK && i < ev->ext_count; i++)
        r = aos_json_add_string(o, ev->ext[i].name, ev->ext[i].value);
    if (r == AOS_OK)
        r = add_data(ev, o);
    if (r != AOS_OK) {
        json_object_put(o);
        return r;
    }
    *out = o;
    return AOS_OK;
}

aos_result aos_event_to_json(const aos_event_t *ev, char **out_json)
{
    *out_json = NULL;
    json_object *o;
    AOS_RETURN_IF_FAILED(event_to_object(ev, &o));
    aos_result r = aos_json_to_string(o, out_json, NULL);
    json_object_put(o);
    return r;
}

aos_result aos_event_batch_to_json(aos_event_t *const *events, size_t count, char **out_json)
{
    *out_json = NULL;
    json_object *arr = json_object_new_array();
    if (!arr)
        return AOS_ERR_NOMEM;
    aos_result r = AOS_OK;
    for (size_t i = 0; r == AOS_OK && i < count; i++) {
        json_object *o;
        r = event_to_object(events[i], &o);
        if (r == AOS_OK && json_object_array_add(arr, o) != 0) {
            json_object_put(o);
            r = AOS_ERR_NOMEM;
        }
    }
    if (r == AOS_OK)
        r = aos_json_to_string(arr, out_json, NULL);
    json_object_put(arr);
    return r;
}

/* ---- decoding ---- */

static char **core_slot(aos_event_t *ev, const char *key, char **specversion)
{
    static const char *NAMES[] = {"specversion", "id",   "type",       "source",
                                  "subject",     "time", "dataschema", "datacontenttype",
                                  "traceparent"};
    char **slots[] = {specversion,     &ev->id,   &ev->type,       &ev->source,
                      &ev->subject,    &ev->time, &ev->dataschema, &ev->datacontenttype,
                      &ev->traceparent};
    for (size_t i = 0; i < sizeof NAMES / sizeof *NAMES; i++)
        if (strcmp(key, NAMES[i]) == 0)
            return slots[i];
    return NULL;
}

static aos_result read_ext(aos_event_t *ev, const char *key, json_object *v, char *errbuf,
                           size_t errlen)
{
    if (!aos_event_ext_name_valid_(key, strlen(key)))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "attribute name '%.40s' is not allowed (lower-case a-z0-9, at most 20)",
                        key);
    if (ev->ext_count >= AOS_EVENT_MAX_EXTENSIONS)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "more than %d extension attributes",
                        AOS_EVENT_MAX_EXTENSIONS);
    char buf[32];
    const char *value;
    switch (json_object_get_type(v)) {
    case json_type_string:
        value = json_object_get_string(v);
        if (strlen(value) != (size_t)json_object_get_string_len(v))
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "attribute '%s' contains NUL", key);
        break;
    case json_type_boolean:
        value = json_object_get_boolean(v) ? "true" : "false";
        break;
    case json_type_int:
        if (json_object_get_int64(v) == INT64_MAX) /* json-c keeps larger values as uint64 */
            snprintf(buf, sizeof buf, "%" PRIu64, json_object_get_uint64(v));
        else
            snprintf(buf, sizeof buf, "%" PRId64, json_object_get_int64(v));
        value = buf;
        break;
    default:
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "attribute '%s' must be a string, boolean or integer", key);
    }
    return aos_event_set_ext(ev, key, value);
}

static aos_result read_data(aos_event_t *ev, json_object *data, json_object *data_b64, char *errbuf,
                            size_t errlen)
{
    if (data && data_b64)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "both 'data' and 'data_base64' present");
    if (data_b64) {
        if (!json_object_is_type(data_b64, json_type_string))
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                            "attribute 'data_base64' must be a string");
        unsigned char *raw = NULL;
        size_t n = 0;
        if (aos_base64_decode(json_object_get_string(data_b64),
                              (size_t)json_object_get_string_len(data_b64), &raw, &n) != AOS_OK)
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                            "attribute 'data_base64' is not valid base64");
        aos_result r = aos_event_set_data(ev, (const char *)raw, n);
        free(raw);
        if (r == AOS_OK && !ev->datacontenttype)
            r = aos_event_set(&ev->datacontenttype, "application/octet-stream");
        return r;
    }
    if (!data)
        return AOS_OK;
    if (!ev->datacontenttype)
        AOS_RETURN_IF_FAILED(aos_event_set(&ev->datacontenttype, "application/json"));
    if (!aos_event_content_is_json(ev->datacontenttype) &&
        json_object_is_type(data, json_type_string))
        return aos_event_set_data(ev, json_object_get_string(data),
                                  (size_t)json_object_get_string_len(data));
    char *text = NULL;
    size_t n = 0;
    AOS_RETURN_IF_FAILED(aos_json_to_string(data, &text, &n));
    aos_result r = aos_event_set_data(ev, text, n);
    free(text);
    return r;
}

static aos_result event_from_object(json_object *o, aos_event_t **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    if (!json_object_is_type(o, json_type_object))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "a CloudEvent must be a JSON object");
    aos_event_t *ev;
    AOS_RETURN_IF_FAILED(aos_event_new(&ev));
    char *specversion = NULL;
    json_object *data = NULL, *data_b64 = NULL;
    aos_result r = AOS_OK;
    json_object_object_foreach(o, key, v)
    {
        if (r != AOS_OK)
            break;
        if (v == NULL) /* null means absent */
            continue;
        char **slot = core_slot(ev, key, &specversion);
        if (slot) {
            if (!json_object_is_type(v, json_type_string))
                r = aos_fail(AOS_ERR_INVALID, errbuf, errlen, "attribute '%s' must be a string",
                             key);
            else
                r = aos_event_set_checked_(slot, json_object_get_string(v),
                                           (size_t)json_object_get_string_len(v), key, errbuf,
                                           errlen);
        } else if (strcmp(key, "data") == 0) {
            data = v;
        } else if (strcmp(key, "data_base64") == 0) {
            data_b64 = v;
        } else {
            r = read_ext(ev, key, v, errbuf, errlen);
        }
    }
    if (r == AOS_OK && !specversion)
        r = aos_fail(AOS_ERR_INVALID, errbuf, errlen, "missing required attribute 'specversion'");
    if (r == AOS_OK && strcmp(specversion, "1.0") != 0)
        r = aos_fail(AOS_ERR_INVALID, errbuf, errlen, "unsupported specversion '%.16s'",
                     specversion);
    if (r == AOS_OK)
        r = read_data(ev, data, data_b64, errbuf, errlen);
    if (r == AOS_OK)
        r = aos_event_validate(ev, errbuf, errlen);
    free(specversion);
    if (r != AOS_OK) {
        aos_event_free(ev);
        return r;
    }
    *out = ev;
    return AOS_OK;
}

aos_result aos_event_from_json(const char *json, size_t len, aos_event_t **out_event, char *errbuf,
                               size_t errlen)
{
    *out_event = NULL;
    json_object *o = NULL;
    AOS_RETURN_IF_FAILED(aos_json_parse(json, len, AOS_EVENT_MAX_JSON_BYTES,
                                        AOS_EVENT_JSON_MAX_DEPTH, &o, errbuf, errlen));
    aos_result r = event_from_object(o, out_event, errbuf, errlen);
    json_object_put(o);
    return r;
}

aos_result aos_event_batch_from_json(const char *json, size_t len, aos_event_t ***out_events,
                                     size_t *out_count, char *errbuf, size_t errlen)
{
    *out_events = NULL;
    *out_count = 0;
    json_object *arr = NULL;
    AOS_RETURN_IF_FAILED(aos_json_parse(json, len, AOS_EVENT_MAX_JSON_BYTES,
                                        AOS_EVENT_JSON_MAX_DEPTH, &arr, errbuf, errlen));
    if (!json_object_is_type(arr, json_type_array)) {
        json_object_put(arr);
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "a CloudEvents batch must be a JSON array");
    }
    size_t n = json_object_array_length(arr);
    aos_event_t **events = n ? calloc(n, sizeof *events) : NULL;
    aos_result r = (n && !events) ? AOS_ERR_NOMEM : AOS_OK;
    for (size_t i = 0; r == AOS_OK && i < n; i++) {
        char inner[256];
        r = event_from_object(json_object_array_get_idx(arr, i), &events[i], inner, sizeof inner);
        if (r != AOS_OK && r != AOS_ERR_NOMEM)
            r = aos_fail(r, errbuf, errlen, "event[%zu]: %s", i, inner);
    }
    json_object_put(arr);
    if (r != AOS_OK) {
        aos_event_array_free(events, n);
        return r;
    }
    *out_events = events;
    *out_count = n;
    return AOS_OK;
}
