/* Claim check: large event data by reference. See aos/claim_check.h. */
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/claim_check.h"
#include "aos/json.h"

/* Blob names take [A-Za-z0-9._-] per segment; event ids may hold more (":" in "<id>:reply"). */
static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

aos_result aos_claim_check_name(const aos_event_t *ev, char *out, size_t len)
{
    /* the name follows the event id: a retried send stores the same blob */
    const char *id = ev ? ev->id : NULL;
    size_t n = id ? strlen(id) : 0;
    if (!n || n > 200 || len < n + 4 + 18 || strstr(id, ".."))
        return AOS_ERR_INVALID;
    bool clean = true;
    for (size_t i = 0; i < n; i++)
        clean = clean && name_char(id[i]);
    if (clean) {
        snprintf(out, len, "bus/%s", id);
        return AOS_OK;
    }
    /* other characters become '_', and a hash of the id keeps distinct ids apart (FNV-1a) */
    uint64_t h = 1469598103934665603ULL;
    memcpy(out, "bus/", 4);
    for (size_t i = 0; i < n; i++) {
        h = (h ^ (unsigned char)id[i]) * 1099511628211ULL;
        out[4 + i] = name_char(id[i]) ? id[i] : '_';
    }
    snprintf(out + 4 + n, len - 4 - n, "-%016llx", (unsigned long long)h);
    return AOS_OK;
}

aos_result aos_claim_check_reference(aos_event_t *ev, const char *name)
{
    if (!ev || !name)
        return AOS_ERR_INVALID;
    json_object *claim = json_object_new_object(), *root = json_object_new_object();
    if (!claim || !root) {
        json_object_put(claim);
        json_object_put(root);
        return AOS_ERR_NOMEM;
    }
    /* results checked once: a failed add makes aos_json_to_string fail (aos/json.h) */
    aos_json_add_string(claim, "container", AOS_CLAIM_CONTAINER);
    aos_json_add_string(claim, "name", name);
    aos_json_add_int(claim, "size", (int64_t)ev->data_len);
    aos_json_add_string(claim, "datacontenttype",
                        ev->datacontenttype ? ev->datacontenttype : "application/json");
    aos_json_add(root, "aos_claim", claim);
    char *text = NULL;
    aos_result r = aos_json_to_string(root, &text, NULL);
    json_object_put(root);
    if (r != AOS_OK)
        return r;
    char *orig_type = ev->datacontenttype ? strdup(ev->datacontenttype) : NULL;
    r = aos_event_set_ext(ev, AOS_CLAIM_EXT, name);
    if (r == AOS_OK) {
        char *old = ev->data;
        size_t old_len = ev->data_len;
        ev->data = NULL;
        ev->data_len = 0;
        r = aos_event_set_data(ev, text, strlen(text));
        if (r == AOS_OK)
            r = aos_event_set(&ev->datacontenttype, "application/json");
        if (r != AOS_OK) { /* put it back as it was */
            free(ev->data);
            ev->data = old;
            ev->data_len = old_len;
            if (orig_type)
                (void)aos_event_set(&ev->datacontenttype, orig_type);
            (void)aos_event_set_ext(ev, AOS_CLAIM_EXT, NULL);
        } else {
            free(old);
        }
    }
    free(orig_type);
    free(text);
    return r;
}

aos_result aos_claim_check_offload(const aos_claim_store_t *store, aos_event_t *ev,
                                   size_t threshold, bool *out_moved, char *errbuf, size_t errlen)
{
    *out_moved = false;
    if (!store || !store->put || !ev || !ev->id)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "claim check: no store or event");
    if (ev->data_len <= threshold || aos_event_get_ext(ev, AOS_CLAIM_EXT))
        return AOS_OK;
    char name[300];
    if (aos_claim_check_name(ev, name, sizeof name) != AOS_OK)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "claim check: unusable event id");
    AOS_RETURN_IF_FAILED(store->put(store->ctx, name, ev->data, ev->data_len, errbuf, errlen));
    aos_result r = aos_claim_check_reference(ev, name);
    *out_moved = r == AOS_OK;
    return r;
}

aos_result aos_claim_check_resolve(const aos_claim_store_t *store, aos_event_t *ev, size_t max_len,
                                   char *errbuf, size_t errlen)
{
    if (!ev)
        return AOS_ERR_INVALID;
    const char *ref = aos_event_get_ext(ev, AOS_CLAIM_EXT);
    if (!ref)
        return AOS_OK;
    if (!store || !store->get)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "claim check: no store");
    /* the reference in the data says what the content type was */
    json_object *root = NULL, *claim = NULL, *ct = NULL;
    char perr[128];
    char type[128] = "application/json";
    if (ev->data &&
        aos_json_parse_object(ev->data, ev->data_len, 0, 0, &root, perr, sizeof perr) == AOS_OK &&
        json_object_object_get_ex(root, "aos_claim", &claim) &&
        json_object_object_get_ex(claim, "datacontenttype", &ct) &&
        json_object_is_type(ct, json_type_string))
        snprintf(type, sizeof type, "%s", json_object_get_string(ct));
    json_object_put(root);
    void *data = NULL;
    size_t len = 0;
    aos_result r = store->get(store->ctx, ref, max_len, &data, &len, errbuf, errlen);
    if (r != AOS_OK)
        return r;
    char *old = ev->data;
    size_t old_len = ev->data_len;
    ev->data = NULL;
    ev->data_len = 0;
    r = aos_event_set_data(ev, data, len);
    if (r == AOS_OK)
        r = aos_event_set(&ev->datacontenttype, type);
    if (r == AOS_OK) {
        free(old);
        r = aos_event_set_ext(ev, AOS_CLAIM_EXT, NULL);
    } else {
        free(ev->data);
        ev->data = old;
        ev->data_len = old_len;
    }
    free(data);
    return r;
}
