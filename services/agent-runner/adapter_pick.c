/* Which adapter version answers a turn (adapter_pick.h). */
#include "adapter_pick.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "aos/json.h"

static int64_t jint(const json_object *o, const char *k)
{
    json_object *v;
    if (!o || !json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_int))
        return 0;
    return json_object_get_int64(v);
}

/* The deployment of version v: its entry's "deployment", else "<name>-v<v>" (docs/ml.md). */
static aos_result served_name(const json_object *rec, const char *name, int64_t v, char *out,
                              char *errbuf, size_t errlen)
{
    json_object *arr = NULL;
    if (json_object_object_get_ex(rec, "versions", &arr) &&
        json_object_is_type(arr, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(arr); i++) {
            json_object *e = json_object_array_get_idx(arr, i), *d = NULL;
            if (jint(e, "version") != v || !json_object_object_get_ex(e, "deployment", &d) ||
                !json_object_is_type(d, json_type_string))
                continue;
            const char *s = json_object_get_string(d);
            if (!s[0] || strlen(s) >= RUNNER_ADAPTER_SERVED_MAX || !aos_storage_valid_id(s))
                return aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                                "version %" PRId64 ": unusable deployment name", v);
            snprintf(out, RUNNER_ADAPTER_SERVED_MAX, "%s", s);
            return AOS_OK;
        }
    }
    snprintf(out, RUNNER_ADAPTER_SERVED_MAX, "%s-v%" PRId64, name, v);
    return AOS_OK;
}

aos_result runner_adapter_state_parse(const char *json, size_t len, runner_adapter_state_t *out,
                                      char *errbuf, size_t errlen)
{
    memset(out, 0, sizeof *out);
    json_object *o = NULL, *canary = NULL;
    AOS_RETURN_IF_FAILED(aos_json_parse_object(json, len, 1u << 20, 16, &o, errbuf, errlen));
    const char *name = NULL, *status = NULL;
    int64_t share = 0;
    aos_result r = aos_json_get_string(o, "name", AOS_JSON_REQUIRED, &name, errbuf, errlen);
    if (r == AOS_OK &&
        (strlen(name) + 12 >= RUNNER_ADAPTER_NAME_MAX || !aos_storage_valid_id(name)))
        r = aos_fail(AOS_ERR_INVALID, errbuf, errlen, "field 'name' is not an adapter name");
    if (r == AOS_OK)
        r = aos_json_get_string(o, "status", AOS_JSON_OPTIONAL, &status, errbuf, errlen);
    if (r == AOS_OK)
        r = aos_json_get_int(o, "revision", AOS_JSON_OPTIONAL, &out->revision, NULL, errbuf,
                             errlen);
    if (r == AOS_OK)
        r = aos_json_get_int(o, "stable_version", AOS_JSON_OPTIONAL, &out->stable_version, NULL,
                             errbuf, errlen);
    if (r == AOS_OK && out->stable_version < 0)
        r = aos_fail(AOS_ERR_INVALID, errbuf, errlen, "stable_version must be >= 0");
    if (r == AOS_OK)
        r = aos_json_get_object(o, "canary", AOS_JSON_OPTIONAL, &canary, errbuf, errlen);
    if (r == AOS_OK && canary)
        r = aos_json_get_int(canary, "version", AOS_JSON_REQUIRED, &out->canary_version, NULL,
                             errbuf, errlen);
    if (r == AOS_OK && canary)
        r = aos_json_get_int(canary, "share", AOS_JSON_REQUIRED, &share, NULL, errbuf, errlen);
    if (r == AOS_OK && canary && (share < 0 || share > 100 || out->canary_version <= 0))
        r = aos_fail(AOS_ERR_INVALID, errbuf, errlen, "canary: share 0..100, version > 0");
    if (r == AOS_OK) {
        snprintf(out->name, sizeof out->name, "%s", name);
        out->canary_share = (uint32_t)share;
        out->serving = out->stable_version > 0 || (status && strcmp(status, "ready") == 0);
    }
    if (r == AOS_OK && out->stable_version > 0)
        r = served_name(o, name, out->stable_version, out->stable_served, errbuf, errlen);
    else if (r == AOS_OK && out->serving)
        snprintf(out->stable_served, sizeof out->stable_served, "%s", name); /* before versions */
    if (r == AOS_OK && out->canary_version > 0)
        r = served_name(o, name, out->canary_version, out->canary_served, errbuf, errlen);
    if (r == AOS_OK && out->canary_version > 0 && out->stable_version <= 0)
        out->canary_version = 0; /* a canary needs a stable version to compare with */
    json_object_put(o);
    if (r != AOS_OK)
        memset(out, 0, sizeof *out);
    return r;
}

uint32_t runner_adapter_bucket(const char *conversation_id, int64_t canary_version)
{
    char key[300];
    snprintf(key, sizeof key, "%s#%" PRId64, conversation_id ? conversation_id : "",
             canary_version);
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 16777619u;
    /* murmur3's finalizer: without it, ids that differ only in the last byte (the canary
     * version) land a fixed distance apart, so successive canaries would draw related sets */
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h % 10000u;
}

int64_t runner_adapter_history_version(const aos_storage_message_page_t *page, const char *name)
{
    for (size_t i = 0; page && name && name[0] && i < page->count; i++) {
        const aos_storage_message_t *m = &page->items[i];
        if (!m->role || (strcmp(m->role, "assistant") != 0 && strcmp(m->role, "error") != 0) ||
            !m->metadata_json || !strstr(m->metadata_json, "adapter_version"))
            continue;
        json_object *o = NULL, *a = NULL;
        int64_t v = 0;
        if (aos_json_parse_object(m->metadata_json, strlen(m->metadata_json), 0, 0, &o, NULL, 0) ==
                AOS_OK &&
            json_object_object_get_ex(o, "adapter", &a) &&
            strcmp(json_object_get_string(a), name) == 0)
            v = jint(o, "adapter_version");
        json_object_put(o);
        if (v > 0)
            return v;
    }
    return 0;
}

void runner_adapter_decide(const runner_adapter_state_t *st, const char *conversation_id,
                           int64_t history_version, runner_adapter_choice_t *out)
{
    memset(out, 0, sizeof *out);
    if (!st || !st->serving)
        return;
    snprintf(out->name, sizeof out->name, "%s", st->name);
    bool canary = false;
    if (st->canary_version > 0 && history_version == st->canary_version)
        canary = true; /* it started on the canary: it stays there */
    else if (st->canary_version > 0 && history_version == st->stable_version && history_version)
        canary = false; /* it started on the stable version: it stays there */
    else if (st->canary_version > 0)
        canary =
            runner_adapter_bucket(conversation_id, st->canary_version) < st->canary_share * 100u;
    out->canary = canary;
    out->version = canary ? st->canary_version : st->stable_version;
    snprintf(out->served, sizeof out->served, "%s", canary ? st->canary_served : st->stable_served);
}
