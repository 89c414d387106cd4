/* CloudEvents and Event Grid deliveries (see events_in.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aos/json.h"
#include "events_in.h"

static bool ct_is(const char *ct, const char *want)
{
    size_t n = strlen(want);
    return ct && strncasecmp(ct, want, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static aos_result add_event(router_event_delivery_t *d, aos_event_t *ev, size_t idx, char *errbuf,
                            size_t errlen)
{
    char why[200];
    if (aos_event_validate(ev, why, sizeof why) != AOS_OK) {
        aos_event_free(ev);
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "events[%zu]: %s", idx, why);
    }
    d->events[d->count++] = ev;
    return AOS_OK;
}

/* One Event Grid schema event -> CloudEvent. */
static aos_result from_eventgrid(json_object *e, size_t idx, aos_event_t **out, char *errbuf,
                                 size_t errlen)
{
    const char *id = NULL, *type = NULL, *subject = NULL, *time = NULL, *topic = NULL;
    char why[160];
    if (!json_object_is_type(e, json_type_object))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "events[%zu]: expected an object", idx);
    if (aos_json_get_string(e, "id", AOS_JSON_REQUIRED, &id, why, sizeof why) != AOS_OK ||
        aos_json_get_string(e, "eventType", AOS_JSON_REQUIRED, &type, why, sizeof why) != AOS_OK ||
        aos_json_get_string(e, "subject", AOS_JSON_OPTIONAL, &subject, why, sizeof why) != AOS_OK ||
        aos_json_get_string(e, "eventTime", AOS_JSON_OPTIONAL, &time, why, sizeof why) != AOS_OK ||
        aos_json_get_string(e, "topic", AOS_JSON_OPTIONAL, &topic, why, sizeof why) != AOS_OK)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "events[%zu]: %s", idx, why);
    aos_event_t *ev = NULL;
    AOS_RETURN_IF_FAILED(aos_event_new(&ev));
    aos_result r = aos_event_set(&ev->id, id);
    if (r == AOS_OK)
        r = aos_event_set(&ev->type, type);
    if (r == AOS_OK)
        r = aos_event_set(&ev->source, topic && topic[0] ? topic : "/aos/eventgrid");
    if (r == AOS_OK)
        r = aos_event_set(&ev->subject, subject && subject[0] ? subject : NULL);
    if (r == AOS_OK)
        r = aos_event_set(&ev->time, time);
    if (r == AOS_OK)
        r = aos_event_set(&ev->datacontenttype, "application/json");
    json_object *data = NULL;
    if (r == AOS_OK && json_object_object_get_ex(e, "data", &data)) {
        char *txt = NULL;
        size_t n = 0;
        r = aos_json_to_string(data, &txt, &n);
        if (r == AOS_OK)
            r = aos_event_set_data(ev, txt, n);
        free(txt);
    }
    if (r != AOS_OK) {
        aos_event_free(ev);
        return r;
    }
    *out = ev;
    return AOS_OK;
}

static aos_result parse_validation(json_object *e, router_event_delivery_t *d, char *errbuf,
                                   size_t errlen)
{
    json_object *data = NULL;
    const char *code = NULL;
    char why[160];
    if (aos_json_get_object(e, "data", AOS_JSON_REQUIRED, &data, why, sizeof why) != AOS_OK ||
        aos_json_get_string(data, "validationCode", AOS_JSON_REQUIRED, &code, why, sizeof why) !=
            AOS_OK)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "subscription validation event: %s", why);
    if (!code[0] || strlen(code) > 256)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "subscription validation event: validationCode must be 1-256 bytes");
    d->is_validation = true;
    d->validation_code = strdup(code);
    return d->validation_code ? AOS_OK : AOS_ERR_NOMEM;
}

static bool is_eventgrid_item(json_object *e)
{
    json_object *v = NULL;
    return json_object_is_type(e, json_type_object) &&
           json_object_object_get_ex(e, "eventType", &v) &&
           !json_object_object_get_ex(e, "specversion", &v);
}

static aos_result parse_eventgrid(json_object *arr, router_event_delivery_t *d, char *errbuf,
                                  size_t errlen)
{
    size_t n = json_object_array_length(arr);
    d->schema = ROUTER_SCHEMA_EVENTGRID;
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(arr, i);
        const char *type = NULL;
        if (!is_eventgrid_item(e))
            return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                            "events[%zu]: not an Event Grid event (mixed schemas?)", i);
        aos_json_get_string(e, "eventType", AOS_JSON_OPTIONAL, &type, NULL, 0);
        if (type && strcmp(type, ROUTER_EVENTGRID_VALIDATION_TYPE) == 0) {
            if (n != 1)
                return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                                "a subscription validation event must come alone");
            return parse_validation(e, d, errbuf, errlen);
        }
        aos_event_t *ev = NULL;
        AOS_RETURN_IF_FAILED(from_eventgrid(e, i, &ev, errbuf, errlen));
        AOS_RETURN_IF_FAILED(add_event(d, ev, i, errbuf, errlen));
    }
    return AOS_OK;
}

/* CloudEvents JSON: re-serialize each element and hand it to the envelope decoder, so the
 * CloudEvents rules live in one place (aos/envelope.h). */
static aos_result parse_ce_item(json_object *e, size_t idx, router_event_delivery_t *d,
                                char *errbuf, size_t errlen)
{
    char *txt = NULL;
    size_t n = 0;
    AOS_RETURN_IF_FAILED(aos_json_to_string(e, &txt, &n));
    aos_event_t *ev = NULL;
    char why[200];
    aos_result r = aos_event_from_json(txt, n, &ev, why, sizeof why);
    free(txt);
    if (r != AOS_OK)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "events[%zu]: %s", idx, why);
    return add_event(d, ev, idx, errbuf, errlen);
}

static aos_result parse_value(const char *ct, json_object *v, router_event_delivery_t *d,
                              char *errbuf, size_t errlen)
{
    bool is_arr = json_object_is_type(v, json_type_array);
    if (ct_is(ct, "application/cloudevents+json") && is_arr)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "application/cloudevents+json carries one event; use "
                        "application/cloudevents-batch+json for an array");
    if (ct_is(ct, "application/cloudevents-batch+json") && !is_arr)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "application/cloudevents-batch+json must be a JSON array");
    if (!is_arr && !json_object_is_type(v, json_type_object))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                        "expected a CloudEvent object or an array of events");
    size_t n = is_arr ? json_object_array_length(v) : 1;
    if (n > ROUTER_EVENTS_MAX_BATCH)
        return aos_fail(AOS_ERR_TOO_LARGE, errbuf, errlen, "%zu events in one delivery (limit %d)",
                        n, ROUTER_EVENTS_MAX_BATCH);
    d->events = calloc(n ? n : 1, sizeof *d->events);
    if (!d->events)
        return AOS_ERR_NOMEM;
    if (!is_arr)
        return parse_ce_item(v, 0, d, errbuf, errlen);
    if (n > 0 && !ct_is(ct, "application/cloudevents-batch+json") &&
        is_eventgrid_item(json_object_array_get_idx(v, 0)))
        return parse_eventgrid(v, d, errbuf, errlen);
    for (size_t i = 0; i < n; i++)
        AOS_RETURN_IF_FAILED(parse_ce_item(json_object_array_get_idx(v, i), i, d, errbuf, errlen));
    return AOS_OK;
}

aos_result router_events_parse(const char *content_type, const char *body, size_t len,
                               router_event_delivery_t **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    if (content_type && !ct_is(content_type, "application/json") &&
        !ct_is(content_type, "application/cloudevents+json") &&
        !ct_is(content_type, "application/cloudevents-batch+json"))
        return aos_fail(AOS_ERR_UNSUPPORTED, errbuf, errlen,
                        "Content-Type %.80s not supported (application/json, "
                        "application/cloudevents+json, application/cloudevents-batch+json)",
                        content_type);
    json_object *v = NULL;
    AOS_RETURN_IF_FAILED(aos_json_parse(body, len, len + 1, 64, &v, errbuf, errlen));
    router_event_delivery_t *d = calloc(1, sizeof *d);
    aos_result r = d ? parse_value(content_type, v, d, errbuf, errlen) : AOS_ERR_NOMEM;
    json_object_put(v);
    if (r != AOS_OK) {
        router_event_delivery_free(d);
        return r;
    }
    *out = d;
    return AOS_OK;
}

void router_event_delivery_free(router_event_delivery_t *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->count; i++)
        aos_event_free(d->events[i]);
    free(d->events);
    free(d->validation_code);
    free(d);
}

aos_result router_events_validation_response(const char *code, char **out_json)
{
    json_object *o = json_object_new_object();
    if (!o)
        return AOS_ERR_NOMEM;
    aos_result r = aos_json_add_string(o, "validationResponse", code);
    if (r == AOS_OK)
        r = aos_json_to_string(o, out_json, NULL);
    json_object_put(o);
    return r;
}

bool router_webhook_origin_valid(const char *origin)
{
    if (!origin || !origin[0] || strlen(origin) > 255)
        return false;
    for (const char *p = origin; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == ':'))
            return false;
    }
    return true;
}
