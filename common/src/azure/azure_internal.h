/* Internal to aos_azure: a tiny XML tree, the request machinery (buffers: aos/buf.h). */
#ifndef AOS_AZURE_INTERNAL_H
#define AOS_AZURE_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

#include "aos/azure_storage.h"
#include "aos/buf.h"
#include "aos/utf8.h"

aos_result aos_azure_url_encode(aos_buf_t *b, const char *s, bool keep_slash);

/* ---- XML: a small DOM for the service's listing/error documents ---- */

typedef struct aos_xml_node {
    char *name;
    char *text; /* concatenated, entity-decoded character data (never NULL) */
    struct aos_xml_node *first_child;
    struct aos_xml_node *next;
} aos_xml_node_t;

/* Parse a document (elements, attributes skipped, text, the five entities and numeric
 * references, comments, <?...?>, CDATA). Depth and node count are bounded. */
aos_result aos_xml_parse(const char *xml, size_t len, aos_xml_node_t **out_root, char *errbuf,
                         size_t errlen);
void aos_xml_free(aos_xml_node_t *n);
aos_xml_node_t *aos_xml_child(const aos_xml_node_t *n, const char *name);
const char *aos_xml_child_text(const aos_xml_node_t *n, const char *name);

/* ---- HTTP request machinery (http.c) ---- */

typedef struct aos_azure_request {
    aos_azure_service svc;
    const char *verb;
    /* path after the service endpoint, already encoded, starting with '/' (may be "/") */
    const char *path;
    /* query string without '?', already encoded (may be NULL) */
    const char *query;
    const aos_azure_header_t *headers; /* extra headers (x-ms-date/version/auth are added) */
    size_t nheaders;
    const void *body;
    size_t body_len;
    /* response body: into resp (if non-NULL), else streamed to sink (if non-NULL), else dropped;
     * sink only receives 2xx bodies */
    aos_buf_t *resp;
    aos_azure_sink_fn sink;
    void *sink_ctx;
    /* response headers wanted back: names (lower-case) and buffers */
    const char *const *want_headers;
    char **want_values; /* each a buffer of want_len bytes, set to "" first */
    size_t nwant;
    size_t want_len;
    /* x-ms-meta-* response headers as "name=value\n" lines (may be NULL) */
    char *meta;
    size_t meta_len;
} aos_azure_request_t;

/* Sign and perform the request. Returns AOS_OK on 2xx, else the mapped error with the detail
 * recorded in the client. *out_status (may be NULL) gets the HTTP status. */
aos_result aos_azure_perform(aos_azure_client_t *c, const aos_azure_request_t *req,
                             long *out_status);
/* No CR, LF or other control characters (header injection). */
bool aos_azure_header_value_ok(const char *v);
void aos_azure_set_error(aos_azure_client_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
const char *aos_azure_last_error_code(const aos_azure_client_t *c);
/* "/<table>(PartitionKey='..',RowKey='..')", keys validated, quotes doubled, encoded. */
aos_result aos_azure_entity_path(aos_azure_client_t *c, const char *table, const char *pk,
                                 const char *rk, aos_buf_t *out);

/* Response parsers, exposed for the fuzz targets (tests/fuzz/fuzz_azure_responses.c):
 * the service's message from a JSON (Table) or XML (Blob/Queue) error body; a Table JSON
 * answer of the wanted type (else AOS_ERR_PROTOCOL); a batch's multipart answer. */
void aos_azure_error_message_(const aos_buf_t *body, char *out, size_t outlen);
aos_result aos_azure_parse_json_body_(aos_azure_client_t *c, const aos_buf_t *body, json_type want,
                                      json_object **out);
aos_result aos_azure_batch_outcome_(aos_azure_client_t *c, const aos_buf_t *resp, size_t count);

/* http.c: one response header line into r (error code, x-ms-meta-*, wanted headers). Pure;
 * fuzzed. */
void aos_azure_header_line_(const char *data, size_t n, char *error_code, size_t eclen,
                            const aos_azure_request_t *r);

#endif
