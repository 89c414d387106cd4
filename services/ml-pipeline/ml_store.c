/* Job and adapter records over aos-storage, and event publishing (ml_internal.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aos/json.h"
#include "aos/log.h"
#include "aos/resilience.h"
#include "ml_internal.h"

#define ML_UPDATE_TRIES 10

const char *ml_jstr(const json_object *o, const char *key)
{
    json_object *v;
    if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

int64_t ml_jint(const json_object *o, const char *key, int64_t def)
{
    json_object *v;
    if (!o || !json_object_object_get_ex(o, key, &v) ||
        !(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
        return def;
    return json_object_get_int64(v);
}

int64_t ml_now_ms(void)
{
    return aos_clock_realtime_ms();
}

bool ml_state_final(const char *state)
{
    return state && (strcmp(state, "succeeded") == 0 || strcmp(state, "failed") == 0 ||
                     strcmp(state, "cancelled") == 0);
}

static bool transient(aos_result r)
{
    return r == AOS_ERR_TIMEOUT || r == AOS_ERR_UNAVAILABLE;
}

aos_result ml_record_get(ml_service_t *svc, const char *kind, const char *key, json_object **out,
                         char **out_version, char *errbuf, size_t errlen)
{
    aos_result r = AOS_ERR_TIMEOUT;
    aos_storage_record_t rec = {0};
    for (int i = 0; i < 3 && transient(r); i++) {
        aos_storage_record_clear(&rec);
        r = aos_storage_record_get_sync(svc->sc, kind, key, &rec, errbuf, errlen);
    }
    if (r == AOS_OK)
        r = aos_json_parse_object(rec.data_json, strlen(rec.data_json), 0, 0, out, errbuf, errlen);
    if (r == AOS_OK && out_version)
        *out_version = rec.version ? strdup(rec.version) : NULL;
    aos_storage_record_clear(&rec);
    return r;
}

static aos_result put(ml_service_t *svc, const char *kind, const char *key, const json_object *data,
                      const char *if_match, char *errbuf, size_t errlen)
{
    char *text = NULL;
    aos_result r = aos_json_to_string(data, &text, NULL);
    if (r != AOS_OK)
        return r;
    aos_storage_record_t rec = {0};
    r = aos_storage_record_put_sync(svc->sc, kind, key, text, if_match, &rec, errbuf, errlen);
    aos_storage_record_clear(&rec);
    free(text);
    return r;
}

aos_result ml_record_create(ml_service_t *svc, const char *kind, const char *key,
                            const json_object *data, char *errbuf, size_t errlen)
{
    aos_result r = AOS_ERR_TIMEOUT;
    for (int i = 0; i < 3 && transient(r); i++) {
        r = put(svc, kind, key, data, NULL, errbuf, errlen);
        if (transient(r) && i > 0) {
            /* A create that timed out may have happened: check before retrying. */
            json_object *cur = NULL;
            if (ml_record_get(svc, kind, key, &cur, NULL, NULL, 0) == AOS_OK) {
                json_object_put(cur);
                return AOS_OK;
            }
        }
    }
    return r;
}

aos_result ml_record_update(ml_service_t *svc, const char *kind, const char *key, bool create_empty,
                            ml_mutate_fn fn, void *ctx, json_object **out, char *errbuf,
                            size_t errlen)
{
    aos_result r = AOS_ERR_CONFLICT;
    for (int i = 0; i < ML_UPDATE_TRIES && (r == AOS_ERR_CONFLICT || transient(r)); i++) {
        if (i > 0)
            ml_sleep(svc, (int64_t)(aos_rng_default(NULL) % (uint64_t)(20 * i)) + 5);
        json_object *data = NULL;
        char *version = NULL;
        r = ml_record_get(svc, kind, key, &data, &version, errbuf, errlen);
        if (r == AOS_ERR_NOT_FOUND && create_empty) {
            data = json_object_new_object();
            r = AOS_OK;
        }
        if (r == AOS_OK)
            r = fn(data, ctx, errbuf, errlen);
        if (r == AOS_OK)
            r = put(svc, kind, key, data, version, errbuf, errlen);
        if (r == AOS_OK && out)
            *out = json_object_get(data);
        json_object_put(data);
        free(version);
    }
    return r;
}

aos_result ml_record_list(ml_service_t *svc, const char *kind, json_object **out, char *errbuf,
                          size_t errlen)
{
    json_object *arr = json_object_new_array();
    char *cursor = NULL;
    aos_result r = AOS_OK;
    do {
        aos_storage_record_page_t page = {0};
        r = aos_storage_record_list_sync(svc->sc, kind, NULL, cursor, AOS_STORAGE_PAGE_DEFAULT,
                                         &page, errbuf, errlen);
        free(cursor);
        cursor = NULL;
        for (size_t i = 0; r == AOS_OK && i < page.count; i++) {
            json_object *o = NULL;
            const char *t = page.items[i].data_json;
            if (aos_json_parse_object(t, strlen(t), 0, 0, &o, NULL, 0) == AOS_OK)
                json_object_array_add(arr, o);
        }
        if (r == AOS_OK && page.next_cursor)
            cursor = strdup(page.next_cursor);
        aos_storage_record_page_clear(&page);
    } while (r == AOS_OK && cursor);
    if (r != AOS_OK) {
        json_object_put(arr);
        return r;
    }
    *out = arr;
    return AOS_OK;
}

void ml_publish(ml_service_t *svc, const char *what, const char *state, const json_object *data)
{
    char type[96], *text = NULL;
    snprintf(type, sizeof type, "aos.ml.%s.%s", what, state ? state : "unknown");
    if (aos_json_to_string(data, &text, NULL) != AOS_OK)
        return;
    aos_event_t *ev = NULL;
    if (aos_event_create(type, "/aos/ml-pipeline", text, &ev) == AOS_OK) {
        const char *id = ml_jstr(data, what[0] == 'j' ? "job_id" : "agent");
        if (id)
            aos_event_set(&ev->subject, id);
        if (aos_bus_publish(svc->cfg.bus, "aos.events", ev, NULL, NULL) != AOS_OK)
            aos_log(AOS_LOG_WARN, "cannot publish event", "type", type, NULL);
    }
    aos_event_free(ev);
    free(text);
}

void ml_sleep(ml_service_t *svc, int64_t ms)
{
    int64_t end = aos_clock_monotonic_ms() + ms;
    while (!atomic_load(&svc->stopping)) {
        int64_t left = end - aos_clock_monotonic_ms();
        if (left <= 0)
            break;
        if (left > 50)
            left = 50;
        struct timespec ts = {0, (long)left * 1000000L};
        nanosleep(&ts, NULL);
    }
}

bool ml_sleep_fn(void *svc, uint64_t ms)
{
    ml_service_t *s = svc;
    if (atomic_load(&s->stopping))
        return false;
    ml_sleep(s, (int64_t)ms);
    return !atomic_load(&s->stopping);
}
