/* http_check.h: the server's pure request checks (internal to aos_http): framing and header
 * limits over the received header fields, media types, and the body accumulator with its
 * per-request and server-wide limits. No I/O; fuzzed by tests/http/fuzz_http_check.c and
 * exercised over real sockets by tests/http/test_http_hardening.c. */
#ifndef AOS_HTTP_CHECK_H
#define AOS_HTTP_CHECK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "http_parse.h"

/* The verdict of a check: status 0 = fine, else the answer (code and message static). */
typedef struct http_verdict {
    int status;
    const char *code;
    const char *message;
} http_verdict;

/* Header block checks: size (request line + fields, with their ": " and CRLF) over
 * max_header -> 431; Content-Length not a plain decimal, or several with different values ->
 * 400; Content-Length together with Transfer-Encoding -> 400; more than one Authorization
 * -> 400. *out_has_body tells whether a body follows (Content-Length > 0 or
 * Transfer-Encoding); *out_content_length gets the declared length (0 when none). */
http_verdict http_headers_check(const char *method, const char *uri, const http_kv *h, size_t n,
                                size_t max_header, bool *out_has_body,
                                unsigned long long *out_content_length);

/* application/json or application/<anything>+json, case-insensitive, parameters allowed. */
bool http_media_type_is_json(const char *content_type);

/* A request body being received. cap bytes are reserved in *buffered (the server's total). */
typedef struct http_body {
    char *buf; /* NUL-terminated */
    size_t len, cap;
} http_body;

/* Append data: 0 on success; 413 when the body would pass max_body; 503 when growing it
 * would pass max_buffered bytes held over all bodies (*buffered, shared). On an error the
 * body is released (http_body_free) and nothing past the limit is kept. */
int http_body_append(http_body *b, const char *data, size_t n, size_t max_body,
                     _Atomic size_t *buffered, size_t max_buffered);
void http_body_free(http_body *b, _Atomic size_t *buffered);

#endif
