/* services/storage/dispatch.h: one storage request event in, one outcome out.
 *
 * storage_dispatch() is the whole service logic without the bus: parse and validate the
 * request (request.h), run it on a backend instance, and say what to do with the delivery:
 *   AOS_STORAGE_REPLY          send reply_type + data_json, then accept
 *   AOS_STORAGE_REPLY_ERROR    send an aos.error reply with (result, message), then accept
 *   AOS_STORAGE_RELEASE        the backend is unavailable (transient): send nothing and
 *                              release the request for redelivery
 * Bad input never reaches the backend, so it writes nothing.
 *
 * Thread-safety: reentrant; the backend instance must be this thread's.
 */
#ifndef AOS_STORAGE_DISPATCH_H
#define AOS_STORAGE_DISPATCH_H

#include "aos/envelope.h"
#include "backend.h"
#include "request.h"

typedef enum storage_action {
    AOS_STORAGE_REPLY = 0,
    AOS_STORAGE_REPLY_ERROR,
    AOS_STORAGE_RELEASE,
} storage_action;

typedef struct storage_outcome {
    storage_action action;
    aos_result result; /* AOS_OK for REPLY, the error otherwise */
    storage_op op;     /* valid when op_known */
    bool op_known;
    char reply_type[96]; /* request type + ".result" (REPLY) */
    char *data_json;     /* owned reply data (REPLY) */
    char message[512];   /* error detail (REPLY_ERROR / RELEASE) */
} storage_outcome_t;

/* Handle req (its type, data and id) on be. out must be zeroed; clear it afterwards. */
void storage_dispatch(storage_backend_t *be, const storage_limits_t *limits, const aos_event_t *req,
                      storage_outcome_t *out);

/* Same, from raw parts (for tests and fuzzing without an event). */
void storage_dispatch_raw(storage_backend_t *be, const storage_limits_t *limits, const char *type,
                          const char *event_id, const char *data, size_t len,
                          storage_outcome_t *out);

void storage_outcome_clear(storage_outcome_t *out);

#endif
