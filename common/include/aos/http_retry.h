/* aos/http_retry.h: the retry loop around HTTP calls, in one place.
 *
 * Every caller that retries an HTTP request (model calls, Azure ML's ARM API) follows the
 * same rules, decided here:
 *   - 408, 429, every 5xx and transient transport errors (timeout, refused, reset) are
 *     retried; any other answer (2xx, other 4xx) is final;
 *   - the delay is what the server asked for (retry-after-ms, else retry-after in seconds or
 *     an HTTP date; capped by max_server_delay_ms), else exponential backoff with full
 *     jitter (aos/resilience.h);
 *   - with a deadline, an attempt's timeout is cut to the time left and no retry starts that
 *     could not finish before it (the call ends with AOS_ERR_TIMEOUT instead).
 * aos_http_retry_next() is that decision as a pure function (the asynchronous model caller,
 * aos/model_call.h, schedules its retries with it); aos_http_client_do_retry() is the
 * synchronous loop for worker threads.
 *
 * Thread-safety: both may be called from any thread; aos_http_client_do_retry blocks, so
 * never on an HTTP client's thread or an event loop.
 */
#ifndef AOS_HTTP_RETRY_H
#define AOS_HTTP_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "aos/http_client.h"
#include "aos/resilience.h"
#include "aos/result.h"

/* Wait ms milliseconds between attempts. Return false to stop retrying now (shutting down). */
typedef bool (*aos_http_sleep_fn)(void *ctx, uint64_t ms);

typedef struct aos_http_retry {
    aos_retry_policy_t policy; /* zero fields: the defaults of aos/resilience.h */
    int64_t deadline_ms;       /* aos_clock_monotonic_ms() deadline of the whole call; 0: none */
    /* Optional breaker (borrowed): asked once before the first attempt (open: no attempt,
     * AOS_ERR_UNAVAILABLE) and told once how the call ended. */
    aos_circuit_t *breaker;
    aos_http_sleep_fn sleep; /* NULL: nanosleep */
    void *sleep_ctx;
} aos_http_retry_t;

/* The smallest attempt worth starting before a deadline, in ms. */
#define AOS_HTTP_RETRY_MIN_ATTEMPT_MS 100u

typedef enum aos_http_retry_verdict {
    AOS_HTTP_RETRY_FINAL = 0, /* this answer is the call's answer (success or not retryable) */
    AOS_HTTP_RETRY_AGAIN,     /* retry after *out_delay_ms */
    AOS_HTTP_RETRY_EXHAUSTED, /* retryable, but the policy's attempts are used up */
    AOS_HTTP_RETRY_DEADLINE,  /* retryable, but no time is left for another attempt */
} aos_http_retry_verdict;

/* What follows attempt number `attempt` (1 for the first) that ended with result (the
 * transport result) and, when result is AOS_OK, HTTP status with the response's
 * retry-after-ms / retry-after values (may be NULL). time_left_ms: until the deadline
 * (UINT64_MAX: none). *out_delay_ms is set for AOS_HTTP_RETRY_AGAIN. Pure. */
aos_http_retry_verdict aos_http_retry_next(const aos_retry_policy_t *policy, uint32_t attempt,
                                           aos_result result, int status,
                                           const char *retry_after_ms, const char *retry_after,
                                           uint64_t time_left_ms, uint64_t *out_delay_ms);

/* True when (result, status) is worth another attempt: a transient transport error, or a
 * response with 408, 429 or 5xx. */
bool aos_http_retry_retryable(aos_result result, int status);

/* Send req (borrowed) until it gets a final answer, following the rules above (retry NULL:
 * the default policy, no deadline, no breaker). Returns the last attempt's transport result:
 * AOS_OK when a response arrived, whatever its status (the caller judges 4xx/5xx; a
 * retryable status whose retries ran out is returned as it is); AOS_ERR_UNAVAILABLE when the
 * breaker is open (no attempt made); AOS_ERR_TIMEOUT when the deadline ended the call;
 * AOS_ERR_CANCELLED when the sleep function said stop before any response. *out_resp (the
 * last response, or NULL when none) is the caller's: aos_http_response_free().
 * *out_attempts (may be NULL) = attempts made. errbuf: detail of the last failure. */
aos_result aos_http_client_do_retry(aos_http_client_t *client, const aos_http_client_request_t *req,
                                    const aos_http_retry_t *retry, aos_http_response_t **out_resp,
                                    uint32_t *out_attempts, char *errbuf, size_t errlen);

#endif
