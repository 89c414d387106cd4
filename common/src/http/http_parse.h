/* http_parse.h: pure parsing for the HTTP server (internal to aos_http): route patterns,
 * request targets (path segments and query strings with %-decoding), route matching and
 * header lookup. No I/O, no globals; fuzzed by tests/http/fuzz_http_parse.c. */
#ifndef AOS_HTTP_PARSE_H
#define AOS_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "aos/result.h"

#define HTTP_MAX_SEGMENTS 32
#define HTTP_MAX_QUERY 64

typedef struct http_segment {
    const char *text; /* literal text, or the parameter name */
    bool param;
} http_segment;

typedef struct http_pattern {
    char *buf; /* owns the segment strings */
    size_t nseg;
    http_segment seg[HTTP_MAX_SEGMENTS];
} http_pattern;

typedef struct http_kv {
    const char *name;
    const char *value;
} http_kv;

typedef struct http_target {
    char *buf;        /* owns every string below */
    const char *path; /* whole path, %-decoded */
    size_t nseg;
    const char *seg[HTTP_MAX_SEGMENTS]; /* each segment %-decoded on its own */
    size_t nquery;
    http_kv query[HTTP_MAX_QUERY]; /* %-decoded, '+' as space; value "" when no '=' */
} http_target;

/* "/v1/agents/{agent}/act": literals are [A-Za-z0-9-._~!$&'()*+,;=:@%] (no %-escapes
 * needed in patterns), params are {name} with name [A-Za-z0-9_], at most one param per
 * segment and nothing else in it. AOS_ERR_INVALID with detail in errbuf. */
aos_result http_pattern_parse(const char *pattern, http_pattern *out, char *errbuf, size_t errlen);
void http_pattern_free(http_pattern *p);

/* Parse an origin-form request target "/path?query" (raw bytes as received, not
 * NUL-terminated). AOS_ERR_INVALID for a target not starting with '/', a bad %-escape,
 * an encoded NUL, control bytes, too many segments or query parameters. */
aos_result http_target_parse(const char *raw, size_t len, http_target *out, char *errbuf,
                             size_t errlen);
void http_target_free(http_target *t);

/* Match: on success returns a specificity score (> 0; higher is more specific: literal
 * segments further left weigh more) and fills params (room for HTTP_MAX_SEGMENTS) with
 * name/value pointers into p and t; returns 0 when it does not match. */
unsigned http_pattern_match(const http_pattern *p, const http_target *t, http_kv *params,
                            size_t *out_nparams);

/* First query parameter by name, NULL if absent. */
const char *http_target_query(const http_target *t, const char *name);

/* Case-insensitive (ASCII) lookup in a list of headers; first match wins. */
const char *http_kv_find_ci(const http_kv *kv, size_t n, const char *name);

/* One response header line as received ("Name: value\r\n"): on success points name/value
 * into line (not NUL-terminated) with optional whitespace around the value trimmed. False for
 * status lines, blank lines, folded continuations and lines without a valid name. */
bool http_header_line_parse(const char *line, size_t len, const char **out_name,
                            size_t *out_name_len, const char **out_value, size_t *out_value_len);

/* True if s is usable as a header name (RFC 9110 token) / value (no CR, LF or NUL). */
bool http_header_name_valid(const char *s);
bool http_header_value_valid(const char *s);

#endif
