/* aos/http_header.h: one name for a response header on both sides of HTTP, included by
 * aos/http_server.h and aos/http_client.h.
 *
 * aos_http_response_header(x, ...) picks by argument type: on a server request
 * (aos_http_request_t *) it adds a response header (aos_http_response_add_header, before the
 * answer; thread rules of aos/http_server.h); on a client response (aos_http_response_t *) it
 * looks one up (aos_http_response_get_header: case-insensitive, the first; borrowed from
 * resp). */
#ifndef AOS_HTTP_HEADER_H
#define AOS_HTTP_HEADER_H

#include "aos/result.h"

typedef struct aos_http_request aos_http_request_t;
typedef struct aos_http_response aos_http_response_t;
aos_result aos_http_response_add_header(aos_http_request_t *req, const char *name,
                                        const char *value);
const char *aos_http_response_get_header(const aos_http_response_t *resp, const char *name);
#define aos_http_response_header(x, ...)                                                           \
    _Generic((x), aos_http_request_t *: aos_http_response_add_header,                             \
             aos_http_response_t *: aos_http_response_get_header,                                 \
             const aos_http_response_t *: aos_http_response_get_header)((x), __VA_ARGS__)

#endif
