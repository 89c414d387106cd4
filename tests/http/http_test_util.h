/* Test helpers: blocking HTTP requests with libcurl's easy API and raw-socket exchanges,
 * to drive the server under test from the outside. */
#ifndef AOS_HTTP_TEST_UTIL_H
#define AOS_HTTP_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

typedef struct th_resp {
    long status;
    char *body; /* malloc'd, NUL-terminated */
    size_t body_len;
    char *headers; /* raw header block, malloc'd */
} th_resp;

/* headers: NULL-terminated array of "Name: value" lines (may be NULL). Returns 0 if an
 * HTTP response arrived, -1 otherwise. */
int th_request(uint16_t port, const char *method, const char *path, const char *const *headers,
               const char *body, size_t body_len, th_resp *out);
void th_resp_free(th_resp *r);

/* Send bytes on a fresh connection, read until the peer closes or 5 s pass. Returns the
 * number of bytes read into out (NUL-terminated). */
size_t th_raw(uint16_t port, const char *bytes, size_t len, char *out, size_t outlen);

/* Sleep for ms milliseconds. */
void th_sleep_ms(int ms);

#endif
