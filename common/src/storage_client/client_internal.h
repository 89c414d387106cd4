/* Private to the storage client (storage_client.c, storage_client_blob.c). */
#ifndef AOS_STORAGE_CLIENT_INTERNAL_H
#define AOS_STORAGE_CLIENT_INTERNAL_H

#include <json-c/json.h>

#include "aos/storage_client.h"

struct aos_storage_client {
    aos_bus_t *bus;
    char *queue;
    char *source;
    int timeout_ms;
    size_t chunk_size;
    size_t claim_threshold; /* request data over it travels by reference (claim check) */
};

/* Async call whose callback (bus thread) gets the parsed reply object (borrowed) or the error.
 * Never offloads the request nor resolves the reply: the claim check's own transport. */
typedef void (*sc_json_cb)(void *ctx, aos_result r, json_object *reply, const char *msg);
aos_result sc_call_json(aos_storage_client_t *c, const char *op, json_object *data, sc_json_cb cb,
                        void *ctx);

/* Operations whose payloads may travel by reference: all but the blob transfer itself. */
bool sc_op_claimable(const char *op);

/* Blocking call of "aos.storage.<op>" with data (ownership taken, also on failure).
 * *out_reply is the parsed reply data object (json_object_put it). */
aos_result sc_call_sync(aos_storage_client_t *c, const char *op, json_object *data,
                        json_object **out_reply, char *errbuf, size_t errlen);

/* Read a member object of the reply (AOS_ERR_PROTOCOL when missing). */
aos_result sc_member(json_object *reply, const char *key, json_object **out, char *errbuf,
                     size_t errlen);

#endif
