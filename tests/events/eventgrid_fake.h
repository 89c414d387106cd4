/* A fake Azure Event Grid topic for tests, speaking the real publish API on loopback:
 *   POST /api/events?api-version=2018-01-01
 *   aeg-sas-key: <key>                          -> 401 when missing or wrong
 *   Content-Type: application/cloudevents-batch+json[; charset=utf-8] -> 400 otherwise
 *   body: JSON array of CloudEvents 1.0         -> 400 when it does not parse
 *   body over 1 MB (1048576 bytes)              -> 413
 *   one event over 1 MB                          -> 413
 *   answers 200 with an empty body, and records each accepted event in arrival order.
 * Test controls: answer the next N requests with 429 + Retry-After, or hold every request
 * (deferred) until released. Thread-safe.
 */
#ifndef AOS_TEST_EVENTGRID_FAKE_H
#define AOS_TEST_EVENTGRID_FAKE_H

#include <stddef.h>
#include <stdint.h>

#include "aos/envelope.h"

typedef struct eg_fake eg_fake_t;

/* Start on 127.0.0.1 with an ephemeral port. NULL on failure. */
eg_fake_t *eg_fake_start(const char *key);
void eg_fake_free(eg_fake_t *f);
/* "http://127.0.0.1:<port>/api/events" (owned by the fake). */
const char *eg_fake_endpoint(eg_fake_t *f);

/* The next n requests get 429 with "Retry-After: <retry_after>". */
void eg_fake_fail_next(eg_fake_t *f, int n, const char *retry_after);
/* The next n requests get status (a 5xx, e.g. 503); n = 0 stops failing. */
void eg_fake_fail_next_status(eg_fake_t *f, int n, int status);
/* Hold (defer) requests from now on until eg_fake_release(). */
void eg_fake_hold(eg_fake_t *f);
void eg_fake_release(eg_fake_t *f);

/* Counters. */
size_t eg_fake_requests(eg_fake_t *f); /* every request seen */
size_t eg_fake_status_count(eg_fake_t *f, int status);
size_t eg_fake_event_count(eg_fake_t *f);
/* Copy of the id of accepted event i ("" past the end), into buf. */
void eg_fake_event_id(eg_fake_t *f, size_t i, char *buf, size_t len);
/* The data length of event i as it arrived (0 past the end). */
size_t eg_fake_event_size(eg_fake_t *f, size_t i);
/* Wait until pred holds: requests >= n (events = false) or accepted events >= n (true).
 * Returns 0, or -1 after timeout_ms. */
int eg_fake_wait(eg_fake_t *f, size_t n, int events, int timeout_ms);

#endif
