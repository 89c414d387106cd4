/* aos/storage_types.h: the data model of aos-storage, shared by the service's backends
 * (services/storage/backend.h) and the typed bus client (aos/storage_client.h).
 *
 * Every struct owns the strings it points to; the matching _clear() frees them and zeroes
 * the struct (clearing a zeroed struct is a no-op). Page structs own their item arrays.
 * Validators are pure and thread-safe.
 *
 * Names and limits (checked by the service before anything reaches a backend):
 *   id (conversation, message, record key, upload id): 1..128 chars of [A-Za-z0-9._:-]
 *     (safe as an Azure Table PartitionKey/RowKey and in OData literals)
 *   container: Azure container rules: 3..63 chars, lowercase letters, digits and '-',
 *     starting and ending with a letter or digit, no "--"
 *   blob name: 1..1024 chars of [A-Za-z0-9._/-], no leading '/', no "//", no "." or ".."
 *     path segment
 *   record kind: "adapter" | "job" | "schedule"
 *   role: 1..32 chars of [a-z_]
 *   agent: 1..64 chars of [A-Za-z0-9._-]
 *   JSON texts (metadata, record data) are JSON objects
 */
#ifndef AOS_STORAGE_TYPES_H
#define AOS_STORAGE_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aos/result.h"

#define AOS_STORAGE_ID_MAX 128
#define AOS_STORAGE_AGENT_MAX 64
#define AOS_STORAGE_ROLE_MAX 32
#define AOS_STORAGE_BLOB_NAME_MAX 1024
#define AOS_STORAGE_CONTENT_TYPE_MAX 255
#define AOS_STORAGE_CURSOR_MAX 1024
#define AOS_STORAGE_CONTENT_MAX (256u * 1024u)     /* message content, UTF-8 bytes */
#define AOS_STORAGE_METADATA_MAX (16u * 1024u)     /* conversation / message metadata JSON */
#define AOS_STORAGE_RECORD_DATA_MAX (256u * 1024u) /* record data JSON */
#define AOS_STORAGE_CHUNK_MAX (4u * 1024u * 1024u) /* hard upper bound of one blob chunk */
#define AOS_STORAGE_CHUNK_DEFAULT (128u * 1024u)   /* default chunk limit (fits Service Bus) */
#define AOS_STORAGE_MAX_CHUNKS 50000               /* Azure's block count limit */
#define AOS_STORAGE_PAGE_MAX 1000                  /* largest page a list returns */
/* Serialized messages in one list reply: a page stops early (with next_cursor) rather than
 * exceed it, so a reply stays under Service Bus Standard's 256 KiB message limit with room
 * for the envelope; at least one message is always returned. */
#define AOS_STORAGE_REPLY_BUDGET (192u * 1024u)
/* Serialized messages in a turn's context (turn.claim): the newest messages the runner asked
 * for up to this; over the claim threshold the reply travels by reference (claim check,
 * docs/bus.md "Message size"), so the largest messages still reach the model's prompt. */
#define AOS_STORAGE_CONTEXT_BUDGET (1024u * 1024u)
#define AOS_STORAGE_PAGE_DEFAULT 100

typedef struct aos_storage_conversation {
    char *id;
    char *agent;
    char *metadata_json; /* JSON object text, "{}" when none */
    /* Starts at 0 and increases by one with every appended message (= message count). */
    int64_t version;
    int64_t created_ms; /* Unix epoch milliseconds, assigned by the backend */
    int64_t updated_ms;
} aos_storage_conversation_t;

typedef struct aos_storage_message {
    char *conversation_id;
    char *id;
    int64_t seq; /* 1-based dense position in the conversation, assigned by the backend */
    char *role;
    char *content;
    char *metadata_json; /* JSON object text, "{}" when none */
    int64_t created_ms;
} aos_storage_message_t;

typedef struct aos_storage_blob_info {
    char *container;
    char *name;
    char *content_type;
    uint64_t size;
    /* lowercase hex SHA-256 of the whole content; "" when unknown: a blob written by another
     * tool (portal, azcopy, an SDK) carries no aossha256 (docs/storage.md, "Blobs written by
     * others") */
    char sha256[65];
    /* base64 MD5 of the whole content as the blob service reports it (Content-MD5); "" when
     * the blob has none. Readers verify it when sha256 is unknown. */
    char content_md5[25];
    char *etag; /* opaque; changes with every commit */
    int64_t updated_ms;
} aos_storage_blob_info_t;

typedef struct aos_storage_record {
    char *kind; /* "adapter" | "job" | "schedule" | "health" */
    char *key;
    char *data_json; /* JSON object text */
    char *version;   /* opaque (SQLite: decimal counter; Azure: the entity ETag) */
    int64_t updated_ms;
} aos_storage_record_t;

/* A page of results: items[0..count), next_cursor NULL on the last page. */
typedef struct aos_storage_conversation_page {
    aos_storage_conversation_t *items;
    size_t count;
    char *next_cursor;
} aos_storage_conversation_page_t;

typedef struct aos_storage_message_page {
    aos_storage_message_t *items;
    size_t count;
    char *next_cursor;
} aos_storage_message_page_t;

typedef struct aos_storage_blob_page {
    aos_storage_blob_info_t *items;
    size_t count;
    char *next_cursor;
} aos_storage_blob_page_t;

typedef struct aos_storage_record_page {
    aos_storage_record_t *items;
    size_t count;
    char *next_cursor;
} aos_storage_record_page_t;

void aos_storage_conversation_clear(aos_storage_conversation_t *c);
void aos_storage_message_clear(aos_storage_message_t *m);
void aos_storage_blob_info_clear(aos_storage_blob_info_t *b);
void aos_storage_record_clear(aos_storage_record_t *r);
void aos_storage_conversation_page_clear(aos_storage_conversation_page_t *p);
void aos_storage_message_page_clear(aos_storage_message_page_t *p);
void aos_storage_blob_page_clear(aos_storage_blob_page_t *p);
void aos_storage_record_page_clear(aos_storage_record_page_t *p);

/* Deep copies into a zeroed *out (AOS_ERR_NOMEM leaves *out cleared). */
aos_result aos_storage_conversation_copy(const aos_storage_conversation_t *in,
                                         aos_storage_conversation_t *out);
aos_result aos_storage_message_copy(const aos_storage_message_t *in, aos_storage_message_t *out);
aos_result aos_storage_blob_info_copy(const aos_storage_blob_info_t *in,
                                      aos_storage_blob_info_t *out);
aos_result aos_storage_record_copy(const aos_storage_record_t *in, aos_storage_record_t *out);

/* Validators: true when the name follows the rules at the top of this header. */
bool aos_storage_valid_id(const char *s);
bool aos_storage_valid_container(const char *s);
bool aos_storage_valid_blob_name(const char *s);
/* Names AOS reads but does not write: what other tools (portal, azcopy, SDKs) may have used,
 * i.e. any UTF-8 without control characters or '\\', same length and segment rules. */
bool aos_storage_valid_blob_name_read(const char *s);
bool aos_storage_valid_kind(const char *s);
bool aos_storage_valid_role(const char *s);
bool aos_storage_valid_agent(const char *s);
/* Printable ASCII without spaces, 1..AOS_STORAGE_CURSOR_MAX. */
bool aos_storage_valid_cursor(const char *s);
/* type/subtype[;params], printable ASCII, 1..AOS_STORAGE_CONTENT_TYPE_MAX. */
bool aos_storage_valid_content_type(const char *s);
/* 64 lowercase hex digits. */
bool aos_storage_valid_sha256(const char *s);

/* SHA-256 over a stream (the blob checksum): init, update any number of times, final
 * writes 64 lowercase hex digits + NUL and releases the context. _free after a failure
 * (or instead of final) releases it; after final it is a no-op. */
typedef struct aos_storage_sha256 {
    void *ctx; /* EVP_MD_CTX */
} aos_storage_sha256_t;
aos_result aos_storage_sha256_init(aos_storage_sha256_t *h);
aos_result aos_storage_sha256_update(aos_storage_sha256_t *h, const void *data, size_t len);
aos_result aos_storage_sha256_final(aos_storage_sha256_t *h, char out_hex[65]);
void aos_storage_sha256_free(aos_storage_sha256_t *h);

/* MD5 over a stream, for blobs that only carry a Content-MD5: the same life cycle as the
 * SHA-256 above; final writes the base64 form (24 chars + NUL) Content-MD5 uses. */
typedef struct aos_storage_md5 {
    void *ctx; /* EVP_MD_CTX */
} aos_storage_md5_t;
aos_result aos_storage_md5_init(aos_storage_md5_t *h);
aos_result aos_storage_md5_update(aos_storage_md5_t *h, const void *data, size_t len);
aos_result aos_storage_md5_final_b64(aos_storage_md5_t *h, char out_b64[25]);
void aos_storage_md5_free(aos_storage_md5_t *h);
/* 24 chars of base64 that decode to 16 bytes (an MD5 as Content-MD5 carries it). */
bool aos_storage_valid_md5_b64(const char *s);

/* malloc'd copy of s (NULL gives NULL). */
char *aos_storage_strdup(const char *s);

#endif
