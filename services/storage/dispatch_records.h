/* Private to dispatch.c: the record operations (dispatch_records.c). Each runs one validated
 * request on the backend and adds its result fields to reply; the helpers that build a reply
 * (dispatch.c) serve both files. */
#ifndef AOS_STORAGE_DISPATCH_RECORDS_H
#define AOS_STORAGE_DISPATCH_RECORDS_H

#include <json-c/json.h>

#include "backend.h"
#include "request.h"

#define AOS_STORAGE_EXEC_PARAMS                                                                    \
    storage_backend_t *be, const storage_request_t *rq, const storage_limits_t *lim,               \
        json_object *reply, char *errbuf, size_t errlen

/* reply[key] = s, or null when s is NULL. */
aos_result storage_reply_null_ok(json_object *reply, const char *key, const char *s);

/* The JSON of items[i] (NULL = out of memory). */
typedef json_object *(*storage_item_json_fn)(const void *items, size_t i);

/* reply[key] = an array of the count items (item_json builds each). With budget > 0 the array
 * ends before the first item (never the very first) that would take its JSON past budget
 * bytes; *out_added (may be NULL) = how many went in. Nothing is added on error. */
aos_result storage_reply_items(json_object *reply, const char *key, const void *items, size_t count,
                               storage_item_json_fn item_json, size_t budget, size_t *out_added);

aos_result storage_x_record_get(AOS_STORAGE_EXEC_PARAMS);
aos_result storage_x_record_put(AOS_STORAGE_EXEC_PARAMS);
aos_result storage_x_record_list(AOS_STORAGE_EXEC_PARAMS);
aos_result storage_x_record_delete(AOS_STORAGE_EXEC_PARAMS);

#endif
