/* Private to dispatch.c: the record operations (dispatch_records.c). Each runs one validated
 * request on the backend and adds its result fields to reply. */
#ifndef AOS_STORAGE_DISPATCH_RECORDS_H
#define AOS_STORAGE_DISPATCH_RECORDS_H

#include <json-c/json.h>

#include "backend.h"
#include "request.h"

#define AOS_STORAGE_EXEC_PARAMS                                                                    \
    storage_backend_t *be, const storage_request_t *rq, const storage_limits_t *lim,               \
        json_object *reply, char *errbuf, size_t errlen

aos_result storage_x_record_get(AOS_STORAGE_EXEC_PARAMS);
aos_result storage_x_record_put(AOS_STORAGE_EXEC_PARAMS);
aos_result storage_x_record_list(AOS_STORAGE_EXEC_PARAMS);
aos_result storage_x_record_delete(AOS_STORAGE_EXEC_PARAMS);

#endif
