/* The record operations (adapters, jobs) of the dispatcher. */
#include "dispatch_records.h"

#include "aos/json.h"
#include "aos/storage_wire.h"

aos_result storage_x_record_get(AOS_STORAGE_EXEC_PARAMS)
{
    (void)lim;
    aos_storage_record_t rec = {0};
    aos_result r = be->ops->record_get(be, rq->kind, rq->key, &rec, errbuf, errlen);
    if (r == AOS_OK) {
        json_object *o = aos_storage_record_to_json(&rec);
        r = o ? aos_json_add(reply, "record", o) : AOS_ERR_NOMEM;
    }
    aos_storage_record_clear(&rec);
    return r;
}

aos_result storage_x_record_put(AOS_STORAGE_EXEC_PARAMS)
{
    (void)lim;
    aos_storage_record_t rec = {0};
    /* The request's event id makes a redelivered write recognisable (request.h). */
    const char *op_id = rq->derived_id[0] ? rq->derived_id : NULL;
    aos_result r = be->ops->record_put(be, rq->kind, rq->key, rq->data_json, rq->if_match, op_id,
                                       &rec, errbuf, errlen);
    if (r == AOS_OK) {
        json_object *o = aos_storage_record_to_json(&rec);
        r = o ? aos_json_add(reply, "record", o) : AOS_ERR_NOMEM;
    }
    aos_storage_record_clear(&rec);
    return r;
}

static json_object *record_json(const void *items, size_t i)
{
    return aos_storage_record_to_json((const aos_storage_record_t *)items + i);
}

aos_result storage_x_record_list(AOS_STORAGE_EXEC_PARAMS)
{
    (void)lim;
    aos_storage_record_page_t page = {0};
    aos_result r = be->ops->record_list(be, rq->kind, rq->prefix, rq->cursor, rq->limit, &page,
                                        errbuf, errlen);
    if (r == AOS_OK)
        r = storage_reply_items(reply, "records", page.items, page.count, record_json, 0, NULL);
    if (r == AOS_OK)
        r = storage_reply_null_ok(reply, "next_cursor", page.next_cursor);
    aos_storage_record_page_clear(&page);
    return r;
}

aos_result storage_x_record_delete(AOS_STORAGE_EXEC_PARAMS)
{
    (void)lim;
    bool existed = false;
    aos_result r =
        be->ops->record_delete(be, rq->kind, rq->key, rq->if_match, &existed, errbuf, errlen);
    if (r == AOS_OK)
        r = aos_json_add_bool(reply, "deleted", existed);
    return r;
}
