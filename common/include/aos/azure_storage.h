/* aos/azure_storage.h: Azure Storage REST client (Blob, Queue, Table) with SharedKey auth.
 *
 * Pieces:
 *   - aos_azure_conn_t: a parsed AZURE_STORAGE_CONNECTION_STRING (pure, fuzzed).
 *   - signing: the SharedKey string-to-sign for Blob/Queue and for Table, HMAC-SHA256 (pure).
 *   - aos_odata_filter_t: a builder for Table $filter expressions that quotes every value
 *     (single quotes doubled) and validates property names, so no caller text can change
 *     the shape of the expression.
 *   - aos_azure_client_t: a synchronous client over libcurl. It owns one CURL easy handle that
 *     is reused between requests (keep-alive connection reuse).
 *
 * Threads: a client is NOT thread-safe; use one client per thread. Parsing and signing
 * functions are pure and thread-safe. aos_azure_global_init() must run once before the first
 * client is created while the process is still single-threaded (it calls curl_global_init);
 * aos_azure_client_new calls it too, which is enough for single-threaded programs.
 *
 * Errors: every client call returns an aos_result and records a human detail (HTTP status,
 * the service's x-ms-error-code and message, or the curl error) that aos_azure_client_error()
 * returns until the next call. Mapping: transport failure and 5xx -> AOS_ERR_UNAVAILABLE,
 * timeout -> AOS_ERR_TIMEOUT, 404 -> AOS_ERR_NOT_FOUND, 409 and 412 -> AOS_ERR_CONFLICT,
 * 401/403 -> AOS_ERR_AUTH, 429/503 ServerBusy -> AOS_ERR_RATE_LIMITED, 413 -> AOS_ERR_TOO_LARGE,
 * other 4xx -> AOS_ERR_INVALID. The account key never appears in a detail or a log line.
 */
#ifndef AOS_AZURE_STORAGE_H
#define AOS_AZURE_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aos/result.h"

struct json_object; /* json-c */

#define AOS_AZURE_API_VERSION "2021-08-06"

typedef enum aos_azure_service {
    AOS_AZURE_BLOB = 0,
    AOS_AZURE_QUEUE,
    AOS_AZURE_TABLE,
    AOS_AZURE_SERVICE_COUNT_
} aos_azure_service;

/* ---- connection string ---- */

typedef struct aos_azure_conn {
    char *account_name;
    unsigned char *account_key; /* decoded from base64 */
    size_t account_key_len;
    /* Base URL per service without a trailing '/', e.g. "https://acct.blob.core.windows.net"
     * or, path-style (emulator), "http://127.0.0.1:10000/devstoreaccount1". */
    char *endpoint[AOS_AZURE_SERVICE_COUNT_];
} aos_azure_conn_t;

/* The Azurite development account (UseDevelopmentStorage=true). */
#define AOS_AZURE_DEV_ACCOUNT "devstoreaccount1"
#define AOS_AZURE_DEV_KEY                                                                          \
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

/* Parse a connection string: ';'-separated Key=Value pairs (keys case-insensitive, values may
 * contain '='). Understands DefaultEndpointsProtocol, AccountName, AccountKey, EndpointSuffix
 * (default core.windows.net), BlobEndpoint, QueueEndpoint, TableEndpoint and
 * UseDevelopmentStorage=true (the Azurite account on 127.0.0.1:10000/10001/10002, path-style;
 * explicit *Endpoint keys override those). Unknown keys are ignored; a missing account name
 * or key, a key that is not base64, or an endpoint that is not http(s) is AOS_ERR_INVALID.
 * *out_conn is the caller's; free with aos_azure_conn_free. */
aos_result aos_azure_conn_parse(const char *conn_string, aos_azure_conn_t **out_conn, char *errbuf,
                                size_t errlen);
void aos_azure_conn_free(aos_azure_conn_t *conn);

/* ---- signing (pure) ---- */

typedef struct aos_azure_header {
    const char *name;
    const char *value;
} aos_azure_header_t;

/* The SharedKey string-to-sign for a request. url is the full URL as sent (path encoded,
 * query encoded); headers are the request headers (case-insensitive names; x-ms-* ones are
 * canonicalized, for Blob/Queue also the standard ones; Content-Length "0" counts as empty).
 * Table uses its own shorter form (VERB, Content-MD5, Content-Type, Date or x-ms-date,
 * CanonicalizedResource with only ?comp). *out is malloc'd. */
aos_result aos_azure_string_to_sign(aos_azure_service svc, const char *account, const char *verb,
                                    const char *url, const aos_azure_header_t *headers,
                                    size_t nheaders, char **out);

/* "SharedKey <account>:<base64 HMAC-SHA256(key, string_to_sign)>" into out. */
aos_result aos_azure_authorization(const aos_azure_conn_t *conn, const char *string_to_sign,
                                   char *out, size_t outlen);

/* RFC 1123 date of t (e.g. "Tue, 24 Nov 2026 01:19:18 GMT"); out >= 30 bytes. */
void aos_azure_http_date(int64_t unix_seconds, char out[30]);
/* Inverse of aos_azure_http_date; false when s is not such a date. */
bool aos_azure_http_date_parse(const char *s, int64_t *out_unix_seconds);

/* ---- OData $filter builder ---- */

typedef struct aos_odata_filter aos_odata_filter_t;

typedef enum aos_odata_op {
    AOS_ODATA_EQ = 0,
    AOS_ODATA_NE,
    AOS_ODATA_GT,
    AOS_ODATA_GE,
    AOS_ODATA_LT,
    AOS_ODATA_LE
} aos_odata_op;

/* Clauses added to one builder are joined by "and" (or "or" with aos_odata_filter_new_or);
 * each clause is "<Property> <op> <literal>". A property name must match
 * [A-Za-z_][A-Za-z0-9_]{0,254}; strings must be valid UTF-8 without NUL. After the first
 * failed add the builder stays failed and aos_odata_filter_str returns NULL. */
aos_result aos_odata_filter_new(aos_odata_filter_t **out_filter);
aos_result aos_odata_filter_new_or(aos_odata_filter_t **out_filter);
void aos_odata_filter_free(aos_odata_filter_t *f);
aos_result aos_odata_filter_string(aos_odata_filter_t *f, const char *prop, aos_odata_op op,
                                   const char *value);
aos_result aos_odata_filter_int64(aos_odata_filter_t *f, const char *prop, aos_odata_op op,
                                  int64_t value); /* Edm.Int64 literal: 5L */
aos_result aos_odata_filter_int32(aos_odata_filter_t *f, const char *prop, aos_odata_op op,
                                  int32_t value);
aos_result aos_odata_filter_bool(aos_odata_filter_t *f, const char *prop, aos_odata_op op,
                                 bool value);
/* Add another builder's expression as one parenthesized clause (for a or b inside and). */
aos_result aos_odata_filter_group(aos_odata_filter_t *f, const aos_odata_filter_t *inner);
/* The expression ("" when empty), or NULL if an add failed. Borrowed until the next add/free. */
const char *aos_odata_filter_str(const aos_odata_filter_t *f);

/* True if s is a valid PartitionKey/RowKey (<= 1024 bytes UTF-8, no '/', '\\', '#', '?',
 * no control characters). */
bool aos_azure_key_valid(const char *s);
/* Valid table name: [A-Za-z][A-Za-z0-9]{2,62}. */
bool aos_azure_table_name_valid(const char *s);
/* Valid container / queue name: [a-z0-9-]{3,63}, starts and ends alphanumeric, no "--". */
bool aos_azure_container_name_valid(const char *s);
/* Valid blob name: 1..1024 bytes of UTF-8 without control characters. */
bool aos_azure_blob_name_valid(const char *s);

/* ---- XML listings (pure, fuzzed) ---- */

typedef struct aos_azure_blob_item {
    char *name;
    int64_t content_length;
    char *content_type; /* may be NULL */
    char *content_md5;  /* base64, may be NULL */
    char *etag;         /* may be NULL */
    char *last_modified;
    /* user metadata (x-ms-meta-*), when the listing asked for it: names lower-case */
    char **meta_names;
    char **meta_values;
    size_t meta_count;
} aos_azure_blob_item_t;

typedef struct aos_azure_blob_list {
    aos_azure_blob_item_t *items;
    size_t count;
    char *next_marker; /* NULL when this was the last page */
} aos_azure_blob_list_t;

/* Parse a List Blobs response (EnumerationResults). */
aos_result aos_azure_blob_list_parse(const char *xml, size_t len, aos_azure_blob_list_t **out,
                                     char *errbuf, size_t errlen);
void aos_azure_blob_list_free(aos_azure_blob_list_t *list);

typedef struct aos_azure_queue_msg {
    char *message_id;
    char *pop_receipt; /* NULL for peeked messages */
    char *insertion_time;
    char *time_next_visible;
    int64_t dequeue_count;
    /* MessageText decoded from base64, NUL-terminated for convenience; NULL (data_len 0) when
     * the text is not base64 (a raw message, @azure/storage-queue's default encoding) */
    unsigned char *data;
    size_t data_len;
    char *text; /* MessageText as sent (XML entities resolved) */
} aos_azure_queue_msg_t;

typedef struct aos_azure_queue_msgs {
    aos_azure_queue_msg_t *items;
    size_t count;
} aos_azure_queue_msgs_t;

/* Parse a Get/Peek Messages response (QueueMessagesList). */
aos_result aos_azure_queue_msgs_parse(const char *xml, size_t len, aos_azure_queue_msgs_t **out,
                                      char *errbuf, size_t errlen);
void aos_azure_queue_msgs_free(aos_azure_queue_msgs_t *msgs);

/* ---- client ---- */

typedef struct aos_azure_client aos_azure_client_t;

aos_result aos_azure_global_init(void);

/* conn is copied. Default request timeout 30 s. */
aos_result aos_azure_client_new(const aos_azure_conn_t *conn, aos_azure_client_t **out_client,
                                char *errbuf, size_t errlen);
/* Convenience: parse conn_string and create a client. */
aos_result aos_azure_client_new_from_string(const char *conn_string,
                                            aos_azure_client_t **out_client, char *errbuf,
                                            size_t errlen);
void aos_azure_client_free(aos_azure_client_t *c);
void aos_azure_client_set_timeout_ms(aos_azure_client_t *c, long timeout_ms);
const aos_azure_conn_t *aos_azure_client_conn(const aos_azure_client_t *c);
/* Detail of the last failed call ("" after a success). Borrowed until the next call. */
const char *aos_azure_client_error(const aos_azure_client_t *c);
/* HTTP status of the last response (0 if none). */
long aos_azure_client_status(const aos_azure_client_t *c);
/* How many connections the client opened so far (requests reuse a kept-alive one). */
uint64_t aos_azure_client_connections(const aos_azure_client_t *c);

/* ---- tables ---- (entities are json-c objects holding PartitionKey, RowKey and properties;
 * typed values follow the JSON format, e.g. "N": "5", "N@odata.type": "Edm.Int64") */

/* Create; an existing table is success. */
aos_result aos_azure_table_create(aos_azure_client_t *c, const char *table);
aos_result aos_azure_table_delete(aos_azure_client_t *c, const char *table);

/* Insert a new entity; AOS_ERR_CONFLICT if the keys exist. out_etag (may be NULL) receives
 * the new ETag. */
aos_result aos_azure_entity_insert(aos_azure_client_t *c, const char *table,
                                   struct json_object *entity, char *out_etag, size_t etaglen);

typedef enum aos_azure_write_mode {
    AOS_AZURE_REPLACE = 0, /* PUT: the entity becomes exactly these properties */
    AOS_AZURE_MERGE        /* MERGE: listed properties are set, others kept */
} aos_azure_write_mode;

/* Write an entity. if_match NULL: upsert (insert or replace/merge); "*": must exist;
 * an ETag: must exist unchanged (412 -> AOS_ERR_CONFLICT). */
aos_result aos_azure_entity_put(aos_azure_client_t *c, const char *table,
                                struct json_object *entity, aos_azure_write_mode mode,
                                const char *if_match, char *out_etag, size_t etaglen);

/* Entity property helpers. Int64 values travel as strings with an "@odata.type" annotation.
 * Long strings: one string property holds at most 64 KiB (UTF-16), so text over 30000 bytes
 * is split at UTF-8 boundaries into <name>, <name>_1, <name>_2, ... with <name>_parts (Int32)
 * giving the count when there is more than one part. */
aos_result aos_azure_entity_set_int64(struct json_object *entity, const char *name, int64_t v);
/* Accepts a JSON integer or a decimal string; false when absent or malformed. */
bool aos_azure_entity_get_int64(struct json_object *entity, const char *name, int64_t *out);
aos_result aos_azure_entity_set_text(struct json_object *entity, const char *name,
                                     const char *text);
/* Reassembles a (possibly split) text property; *out is malloc'd. AOS_ERR_NOT_FOUND when
 * absent, AOS_ERR_PROTOCOL when parts are missing. */
aos_result aos_azure_entity_get_text(struct json_object *entity, const char *name, char **out);
/* Borrowed string property or NULL. */
const char *aos_azure_entity_get_string(struct json_object *entity, const char *name);

/* Get one entity; *out_entity is the caller's (json_object_put). */
aos_result aos_azure_entity_get(aos_azure_client_t *c, const char *table, const char *pk,
                                const char *rk, struct json_object **out_entity, char *out_etag,
                                size_t etaglen);

/* Delete; if_match NULL means "*". */
aos_result aos_azure_entity_delete(aos_azure_client_t *c, const char *table, const char *pk,
                                   const char *rk, const char *if_match);

typedef enum aos_azure_batch_kind {
    AOS_AZURE_BATCH_INSERT = 0,
    AOS_AZURE_BATCH_REPLACE, /* if_match NULL: insert or replace */
    AOS_AZURE_BATCH_MERGE,   /* if_match NULL: insert or merge */
    AOS_AZURE_BATCH_DELETE   /* if_match NULL: "*"; only the entity's keys are used */
} aos_azure_batch_kind;

typedef struct aos_azure_batch_op {
    aos_azure_batch_kind kind;
    struct json_object *entity; /* borrowed */
    const char *if_match;
} aos_azure_batch_op_t;

/* Entity group transaction: 1..100 operations on entities of ONE partition of one table,
 * applied all or nothing. A failing operation fails the whole batch with its mapped error
 * (e.g. 409 on an insert of existing keys, 412 on a stale ETag -> AOS_ERR_CONFLICT). */
aos_result aos_azure_table_batch(aos_azure_client_t *c, const char *table,
                                 const aos_azure_batch_op_t *ops, size_t count);

#define AOS_AZURE_TOKEN_MAX 2048

/* Paging position: empty strings = start / no more pages. */
typedef struct aos_azure_continuation {
    char next_pk[AOS_AZURE_TOKEN_MAX];
    char next_rk[AOS_AZURE_TOKEN_MAX];
} aos_azure_continuation_t;

/* Query one page. filter may be NULL (all entities); top 0 = service default (1000).
 * cont (may be NULL) is the position to start from and receives the next one: after the
 * call cont->next_pk[0] == '\0' means no more pages. *out_entities is a json array; it is
 * fetched with odata=minimalmetadata, so each entity carries "odata.etag" and
 * "<prop>@odata.type" annotations for non-string types. */
aos_result aos_azure_entity_query(aos_azure_client_t *c, const char *table, const char *filter,
                                  int top, aos_azure_continuation_t *cont,
                                  struct json_object **out_entities);

/* Called per entity of a query; a non-OK result stops the query and is returned. */
typedef aos_result (*aos_azure_entity_fn)(void *ctx, struct json_object *entity);

/* Run a query page after page until `max` entities were handed to fn or the results end.
 * *out_more (may be NULL) is true when it stopped at max. Entities are borrowed during fn. */
aos_result aos_azure_entity_query_each(aos_azure_client_t *c, const char *table, const char *filter,
                                       size_t max, aos_azure_entity_fn fn, void *ctx,
                                       bool *out_more);

/* Delete every entity of a partition (transactions of up to 100). */
aos_result aos_azure_table_delete_partition(aos_azure_client_t *c, const char *table,
                                            const char *pk);

/* ---- blobs ---- */

aos_result aos_azure_container_create(aos_azure_client_t *c, const char *container);
aos_result aos_azure_container_delete(aos_azure_client_t *c, const char *container);

/* Put a whole blob in one request (for small blobs). content_type NULL =
 * application/octet-stream. The service checks the data against its MD5, which becomes the
 * blob's Content-MD5. */
aos_result aos_azure_blob_put(aos_azure_client_t *c, const char *container, const char *blob,
                              const void *data, size_t len, const char *content_type);

/* Block id for index i: base64 of a fixed-width string, so all ids of a blob have equal
 * length as the service requires. out >= 32 bytes. */
void aos_azure_block_id(uint32_t index, char out[32]);

/* Stage one block (<= 100 MiB, typically a few MiB). */
aos_result aos_azure_blob_put_block(aos_azure_client_t *c, const char *container, const char *blob,
                                    const char *block_id, const void *data, size_t len);

/* Commit staged blocks in order. content_md5_b64 (may be NULL) is stored as the blob's
 * Content-MD5 property; metadata (may be NULL) are name/value pairs stored as x-ms-meta-<name>
 * (names: [a-z][a-z0-9_]*, values printable ASCII). */
aos_result aos_azure_blob_put_block_list(aos_azure_client_t *c, const char *container,
                                         const char *blob, const char *const *block_ids,
                                         size_t count, const char *content_type,
                                         const char *content_md5_b64,
                                         const aos_azure_header_t *metadata, size_t nmeta);

typedef struct aos_azure_blob_props {
    int64_t content_length;
    char content_type[256];
    char content_md5[64]; /* base64, "" when the blob has none */
    char etag[128];
    char last_modified[64];
    /* user metadata as "name=value\n" lines (names lower-case); see aos_azure_blob_props_meta */
    char metadata[1024];
} aos_azure_blob_props_t;

/* Copy metadata value `name` into out; false if absent. */
bool aos_azure_blob_props_meta(const aos_azure_blob_props_t *props, const char *name, char *out,
                               size_t outlen);

/* Receives the body in pieces as it arrives; return AOS_OK to continue. */
typedef aos_result (*aos_azure_sink_fn)(void *ctx, const void *data, size_t len);

/* Read [offset, offset+length) (length 0 = to the end) into sink, streaming. if_match (may be
 * NULL): the blob's ETag must still be this (else AOS_ERR_CONFLICT). props (may be NULL)
 * receives the blob's properties (content_length is the whole blob's size). A range that
 * starts past the end is AOS_ERR_INVALID with status 416. */
aos_result aos_azure_blob_get(aos_azure_client_t *c, const char *container, const char *blob,
                              int64_t offset, int64_t length, const char *if_match,
                              aos_azure_sink_fn sink, void *ctx, aos_azure_blob_props_t *props);

aos_result aos_azure_blob_properties(aos_azure_client_t *c, const char *container, const char *blob,
                                     aos_azure_blob_props_t *out_props);

aos_result aos_azure_blob_delete(aos_azure_client_t *c, const char *container, const char *blob);

/* Delete every blob whose name starts with prefix (best effort: stops at the first failure,
 * returning it). */
aos_result aos_azure_blob_delete_prefix(aos_azure_client_t *c, const char *container,
                                        const char *prefix);

/* One page of a listing. prefix and marker may be NULL; max_results 0 = service default;
 * with_metadata fills each item's metadata. */
aos_result aos_azure_blob_list(aos_azure_client_t *c, const char *container, const char *prefix,
                               const char *marker, int max_results, bool with_metadata,
                               aos_azure_blob_list_t **out_list);

/* ---- staged uploads ----
 * A blob uploaded in numbered chunks that may arrive at different processes (replicas), then
 * committed atomically. State lives in the account: a row per upload in store->table
 * (PartitionKey = upload id, RowKey "upload": Container, Name, ContentType, State) and each
 * chunk as the blob "<upload id>/<index, 6 digits>" in store->staging (both must exist).
 * Commit copies the chunks in order into blocks of the target (one chunk in memory at a time)
 * while computing the SHA-256; with the right checksum, Put Block List replaces the content
 * with content type and metadata aossha256 (lowercase hex) and aosupload (the upload id).
 * Upload ids must be valid keys without '/'. Layout: docs/azure-storage-layout.md. */
typedef struct aos_azure_upload_store {
    const char *table;
    const char *staging;
} aos_azure_upload_store_t;

/* Start an upload (creates the container if needed). The same begin again is AOS_OK; the
 * same id for another blob is AOS_ERR_CONFLICT. */
aos_result aos_azure_upload_begin(aos_azure_client_t *c, const aos_azure_upload_store_t *store,
                                  const char *upload_id, const char *container, const char *blob,
                                  const char *content_type);
/* Stage chunk `index` (staging it again replaces it). Unknown upload: AOS_ERR_NOT_FOUND. */
aos_result aos_azure_upload_chunk(aos_azure_client_t *c, const aos_azure_upload_store_t *store,
                                  const char *upload_id, const char *container, const char *blob,
                                  uint32_t index, const void *data, size_t len);
/* Commit chunks 0..count-1. A missing chunk or a SHA-256 other than expected_sha256 (may be
 * NULL) is AOS_ERR_INVALID and changes nothing. Committing a committed upload is AOS_OK. */
aos_result aos_azure_upload_commit(aos_azure_client_t *c, const aos_azure_upload_store_t *store,
                                   const char *upload_id, const char *container, const char *blob,
                                   uint32_t count, const char *expected_sha256);
/* Drop the staged chunks and the upload row; an unknown upload is AOS_OK. */
aos_result aos_azure_upload_abort(aos_azure_client_t *c, const aos_azure_upload_store_t *store,
                                  const char *upload_id, const char *container, const char *blob);

/* ---- queues ---- */

aos_result aos_azure_queue_create(aos_azure_client_t *c, const char *queue);
aos_result aos_azure_queue_delete(aos_azure_client_t *c, const char *queue);
/* Enqueue data (base64-encoded on the wire). ttl_s 0 = service default (7 days). */
aos_result aos_azure_queue_put(aos_azure_client_t *c, const char *queue, const void *data,
                               size_t len, int visibility_timeout_s, int ttl_s);
/* Enqueue text as it is (XML-escaped on the wire): what @azure/storage-queue sends by
 * default. text must be valid UTF-8 without control characters but tab/CR/LF. */
aos_result aos_azure_queue_put_text(aos_azure_client_t *c, const char *queue, const char *text,
                                    int visibility_timeout_s, int ttl_s);
/* Dequeue up to max (1..32) messages, hiding them for visibility_timeout_s. */
aos_result aos_azure_queue_get(aos_azure_client_t *c, const char *queue, int max,
                               int visibility_timeout_s, aos_azure_queue_msgs_t **out_msgs);
aos_result aos_azure_queue_peek(aos_azure_client_t *c, const char *queue, int max,
                                aos_azure_queue_msgs_t **out_msgs);
aos_result aos_azure_queue_delete_message(aos_azure_client_t *c, const char *queue,
                                          const char *message_id, const char *pop_receipt);

#endif
