/* services/storage/request.h: parsing and validation of aos.storage requests.
 *
 * A pure function over the event's type and JSON data: it either yields a fully validated
 * request (every name checked against aos/storage_types.h rules, every size against its
 * limit, base64 chunks decoded) or an error with a message naming the field. Nothing is
 * executed here, so a request that fails here has written nothing. This is the fuzz target
 * for outside bytes (tests/storage/fuzz_storage_request.c).
 *
 * Ownership: the request owns its parsed JSON; string fields borrow from it and are valid
 * until storage_request_clear(). Thread-safe (pure).
 */
#ifndef AOS_STORAGE_REQUEST_H
#define AOS_STORAGE_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "aos/result.h"
#include "aos/storage_types.h"

#define AOS_STORAGE_TYPE_PREFIX "aos.storage."
#define AOS_STORAGE_ETAG_MAX 256

typedef enum storage_op {
    AOS_STORAGE_OP_CONVERSATION_CREATE,
    AOS_STORAGE_OP_CONVERSATION_GET,
    AOS_STORAGE_OP_CONVERSATION_LIST,
    AOS_STORAGE_OP_CONVERSATION_DELETE,
    AOS_STORAGE_OP_MESSAGE_APPEND,
    AOS_STORAGE_OP_MESSAGE_LIST,
    AOS_STORAGE_OP_BLOB_PUT_BEGIN,
    AOS_STORAGE_OP_BLOB_PUT_CHUNK,
    AOS_STORAGE_OP_BLOB_PUT_COMMIT,
    AOS_STORAGE_OP_BLOB_PUT_ABORT,
    AOS_STORAGE_OP_BLOB_HEAD,
    AOS_STORAGE_OP_BLOB_GET,
    AOS_STORAGE_OP_BLOB_LIST,
    AOS_STORAGE_OP_BLOB_DELETE,
    AOS_STORAGE_OP_RECORD_GET,
    AOS_STORAGE_OP_RECORD_PUT,
    AOS_STORAGE_OP_RECORD_LIST,
    AOS_STORAGE_OP_RECORD_DELETE,
    /* composite turn operations (dispatch_turns.h); named here for the metrics only */
    AOS_STORAGE_OP_TURN_ACCEPT,
    AOS_STORAGE_OP_TURN_CLAIM,
    AOS_STORAGE_OP_TURN_RENEW,
    AOS_STORAGE_OP_TURN_COMPLETE,
    AOS_STORAGE_OP_TURN_FAIL,
    AOS_STORAGE_OP_COUNT
} storage_op;

typedef struct storage_limits {
    size_t max_chunk; /* decoded bytes of one blob chunk; 0: AOS_STORAGE_CHUNK_DEFAULT */
} storage_limits_t;

typedef struct storage_request {
    storage_op op;
    const char *op_name; /* "message.append", … (static) */
    json_object *root;

    const char *conversation_id;
    const char *message_id;
    const char *agent;
    const char *role;
    const char *content;
    const char *cursor;
    const char *container;
    const char *name;
    const char *content_type;
    const char *upload_id;
    const char *sha256;
    const char *etag;
    const char *kind;
    const char *key;
    const char *prefix;
    const char *if_match;
    char *metadata_json; /* owned, compact JSON object text */
    char *data_json;     /* owned, compact JSON object text (record.put) */

    int64_t expected_version; /* -1: none */
    size_t limit;             /* page size, 1..AOS_STORAGE_PAGE_MAX */
    bool reverse;
    uint32_t index;
    uint32_t chunk_count;
    uint64_t offset;
    size_t length;

    unsigned char *chunk; /* owned, decoded blob chunk */
    size_t chunk_len;

    /* Ids derived from the request event id, so a redelivered request derives the same id:
     * conversation.create "c-<id>" and blob.put.begin "u-<id>" when the caller gave none,
     * record.put the op id "<id>". Empty when the event id does not make a valid id. */
    char derived_id[AOS_STORAGE_ID_MAX + 1];
} storage_request_t;

/* Largest request data accepted for these limits (a chunk's base64 plus headroom). */
size_t storage_request_max_bytes(const storage_limits_t *limits);

/* The effective chunk limit. */
size_t storage_limits_chunk(const storage_limits_t *limits);

/* Parse the request of event type `type` (must start with "aos.storage."), with JSON data
 * data[0..len) (NULL/empty = {}), and event id event_id (for derived ids; may be NULL).
 * Errors: AOS_ERR_UNSUPPORTED (unknown operation), AOS_ERR_INVALID (malformed JSON, missing
 * or bad field, invalid name), AOS_ERR_TOO_LARGE (payload or field over its limit); errbuf
 * names the problem. *out must be zeroed; clear it also after a failure. */
aos_result storage_request_parse(const char *type, const char *data, size_t len,
                                 const char *event_id, const storage_limits_t *limits,
                                 storage_request_t *out, char *errbuf, size_t errlen);

void storage_request_clear(storage_request_t *req);

/* "aos.storage.<op>" name of an op (static). */
const char *storage_op_name(storage_op op);

/* True for operations that change stored data. */
bool storage_op_writes(storage_op op);

#endif
