/* aos/resilience.h: retry with exponential backoff and full jitter, server retry hints, HTTP
 * status classification, and a circuit breaker.
 *
 * Everything takes time as a number passed in (now_ms) and randomness from an injectable
 * generator, so the logic is deterministic under test.
 *
 * Thread-safety: the retry functions are pure and thread-safe (the default generator keeps
 * per-thread state). An aos_circuit_t is INTERNALLY LOCKED: any thread may call any aos_circuit_*
 * function on a shared breaker between aos_circuit_init and aos_circuit_destroy.
 */
#ifndef AOS_RESILIENCE_H
#define AOS_RESILIENCE_H

#include <pthread.h>
#include <time.h>
#include <stdbool.h>
#include <stdint.h>

#include "aos/result.h"

/* ---- clocks ---- */

/* Milliseconds of CLOCK_MONOTONIC (for deadlines and breakers). */
int64_t aos_clock_monotonic_ms(void);
/* Milliseconds since the Unix epoch (for HTTP dates). */
int64_t aos_clock_realtime_ms(void);
/* The absolute time ms from now on clock (the clock of the condition variable waited on:
 * CLOCK_REALTIME by default, CLOCK_MONOTONIC when set with pthread_condattr_setclock), for
 * pthread_cond_timedwait; a negative ms counts as 0. Thread-safe. */
struct timespec aos_clock_deadline(clockid_t clock, int64_t ms);

/* ---- randomness ---- */

/* Returns 64 uniformly random bits. ctx is whatever the caller registered. */
typedef uint64_t (*aos_rng_fn)(void *ctx);

/* The default generator: a per-thread splitmix64 seeded from the kernel CSPRNG. Good for
 * jitter, not for secrets. ctx is ignored. */
uint64_t aos_rng_default(void *ctx);

/* ---- retry policy ---- */

typedef struct aos_retry_policy {
    uint32_t max_attempts;        /* total tries including the first; 0 = default 4 */
    uint64_t base_delay_ms;       /* first backoff ceiling; 0 = default 200 */
    uint64_t max_delay_ms;        /* ceiling for computed backoff; 0 = default 10000 */
    uint64_t max_server_delay_ms; /* ceiling for retry-after hints; 0 = default 60000 */
} aos_retry_policy_t;

#define AOS_RETRY_DEFAULT_MAX_ATTEMPTS 4u
#define AOS_RETRY_DEFAULT_BASE_MS 200u
#define AOS_RETRY_DEFAULT_MAX_MS 10000u
#define AOS_RETRY_DEFAULT_MAX_SERVER_MS 60000u

/* Fill with the defaults above. */
void aos_retry_policy_default(aos_retry_policy_t *out_policy);

/* True if another try is allowed after attempts_made tries (1 after the first failure). */
bool aos_retry_may_retry(const aos_retry_policy_t *p, uint32_t attempts_made);

/* Full jitter: a uniform random delay in [0, min(max_delay, base * 2^(attempts_made-1))].
 * attempts_made >= 1. rng NULL = aos_rng_default. */
uint64_t aos_retry_backoff_ms(const aos_retry_policy_t *p, uint32_t attempts_made, aos_rng_fn rng,
                              void *rng_ctx);

/* Parse server hints. retry_after_ms is the value of a "retry-after-ms" header (integer
 * milliseconds); retry_after is the value of "Retry-After" (delta-seconds or an HTTP-date,
 * which is taken relative to now_unix_ms). Either may be NULL. retry-after-ms wins when both
 * are valid. A date in the past means 0. Returns true and sets *out_delay_ms (uncapped) when
 * a valid hint was found; malformed values are ignored. */
bool aos_retry_parse_hint(const char *retry_after_ms, const char *retry_after, int64_t now_unix_ms,
                          uint64_t *out_delay_ms);

/* The delay before the next try: the server hint capped at max_server_delay_ms when present,
 * otherwise aos_retry_backoff_ms. */
uint64_t aos_retry_next_delay_ms(const aos_retry_policy_t *p, uint32_t attempts_made,
                                 const char *retry_after_ms, const char *retry_after,
                                 int64_t now_unix_ms, aos_rng_fn rng, void *rng_ctx);

/* 408, 429 and every 5xx are worth retrying; everything else (incl. other 4xx) is not. */
bool aos_retry_http_status_retryable(int status);

/* Map an HTTP response status to a result: 2xx OK, 400/422 INVALID, 401 AUTH, 403 FORBIDDEN,
 * 404 NOT_FOUND, 409/412 CONFLICT, 413 TOO_LARGE, 408/504 TIMEOUT, 429 RATE_LIMITED,
 * other 5xx UNAVAILABLE, other 4xx REJECTED, anything else PROTOCOL. */
aos_result aos_result_from_http_status(int status);

/* ---- circuit breaker ---- */

typedef enum aos_circuit_state {
    AOS_CIRCUIT_CLOSED = 0, /* calls flow; consecutive failures are counted */
    AOS_CIRCUIT_OPEN,       /* calls are refused until open_ms has passed */
    AOS_CIRCUIT_HALF_OPEN,  /* up to half_open_probes trial calls; a success closes */
} aos_circuit_state;

typedef struct aos_circuit_config {
    uint32_t failure_threshold; /* consecutive failures that open it; 0 = default 5 */
    uint64_t open_ms;           /* how long it stays open; 0 = default 30000 */
    uint32_t half_open_probes;  /* concurrent trial calls when half-open; 0 = default 1 */
} aos_circuit_config_t;

/* Embed in your own struct; fields are private. */
typedef struct aos_circuit {
    pthread_mutex_t lock;
    aos_circuit_config_t cfg;
    aos_circuit_state state;
    uint32_t failures;
    uint32_t probes;
    int64_t opened_at_ms;
} aos_circuit_t;

/* cfg NULL = defaults. */
void aos_circuit_init(aos_circuit_t *cb, const aos_circuit_config_t *cfg);
void aos_circuit_destroy(aos_circuit_t *cb);

/* May a call start now? Moves OPEN -> HALF_OPEN when open_ms has passed, and in HALF_OPEN
 * takes one probe slot. Every call that was allowed must end with exactly one of
 * aos_circuit_record_success / _failure / _release. */
bool aos_circuit_allow(aos_circuit_t *cb, int64_t now_ms);

/* The endpoint answered (any answer that shows it is healthy, including 4xx). */
void aos_circuit_record_success(aos_circuit_t *cb, int64_t now_ms);
/* Transport error, timeout, 408/429/5xx. */
void aos_circuit_record_failure(aos_circuit_t *cb, int64_t now_ms);
/* The call ended without saying anything about health (cancelled): frees a probe slot. */
void aos_circuit_record_release(aos_circuit_t *cb);

/* Current state as of now_ms (an expired OPEN reads as HALF_OPEN). */
aos_circuit_state aos_circuit_get_state(aos_circuit_t *cb, int64_t now_ms);
/* "closed" | "open" | "half_open" */
const char *aos_circuit_state_str(aos_circuit_state s);

#endif
