/* The retry loop around HTTP calls (aos/http_retry.h). */
#include "aos/http_retry.h"

#include <stdio.h>
#include <time.h>

bool aos_http_retry_retryable(aos_result result, int status)
{
    return result != AOS_OK ? aos_result_is_transient(result)
                            : aos_retry_http_status_retryable(status);
}

aos_http_retry_verdict aos_http_retry_next(const aos_retry_policy_t *policy, uint32_t attempt,
                                           aos_result result, int status,
                                           const char *retry_after_ms, const char *retry_after,
                                           uint64_t time_left_ms, uint64_t *out_delay_ms)
{
    if (!aos_http_retry_retryable(result, status))
        return AOS_HTTP_RETRY_FINAL;
    if (!aos_retry_may_retry(policy, attempt))
        return AOS_HTTP_RETRY_EXHAUSTED;
    uint64_t delay = aos_retry_next_delay_ms(policy, attempt, retry_after_ms, retry_after,
                                             aos_clock_realtime_ms(), NULL, NULL);
    if (time_left_ms != UINT64_MAX && delay + AOS_HTTP_RETRY_MIN_ATTEMPT_MS >= time_left_ms)
        return AOS_HTTP_RETRY_DEADLINE;
    if (out_delay_ms)
        *out_delay_ms = delay;
    return AOS_HTTP_RETRY_AGAIN;
}

static bool plain_sleep(void *ctx, uint64_t ms)
{
    (void)ctx;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
    return true;
}

static uint64_t time_left(int64_t deadline_ms)
{
    if (!deadline_ms)
        return UINT64_MAX;
    int64_t now = aos_clock_monotonic_ms();
    return now < deadline_ms ? (uint64_t)(deadline_ms - now) : 0;
}

/* Tell the breaker how the call ended (once per allowed call). */
static void breaker_verdict(aos_circuit_t *cb, aos_result result, int status, bool released)
{
    if (!cb)
        return;
    if (released)
        aos_circuit_record_release(cb);
    else if (aos_http_retry_retryable(result, status))
        aos_circuit_record_failure(cb, aos_clock_monotonic_ms());
    else
        aos_circuit_record_success(cb, aos_clock_monotonic_ms());
}

aos_result aos_http_client_do_retry(aos_http_client_t *client, const aos_http_client_request_t *req,
                                    const aos_http_retry_t *retry, aos_http_response_t **out_resp,
                                    uint32_t *out_attempts, char *errbuf, size_t errlen)
{
    aos_http_retry_t dflt = {0};
    const aos_http_retry_t *r = retry ? retry : &dflt;
    aos_http_sleep_fn sleep_fn = r->sleep ? r->sleep : plain_sleep;
    if (out_resp)
        *out_resp = NULL;
    if (out_attempts)
        *out_attempts = 0;
    if (!client || !req || !out_resp)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "null argument");
    if (r->breaker && !aos_circuit_allow(r->breaker, aos_clock_monotonic_ms()))
        return aos_fail(AOS_ERR_UNAVAILABLE, errbuf, errlen,
                        "circuit open after repeated failures");
    aos_http_client_request_t one = *req;
    uint32_t base_timeout = req->timeout_ms ? req->timeout_ms : 30000;
    for (uint32_t attempt = 1;; attempt++) {
        uint64_t left = time_left(r->deadline_ms);
        if (left < AOS_HTTP_RETRY_MIN_ATTEMPT_MS) {
            breaker_verdict(r->breaker, AOS_ERR_TIMEOUT, 0, false);
            return aos_fail(AOS_ERR_TIMEOUT, errbuf, errlen, "deadline exceeded");
        }
        one.timeout_ms = left < base_timeout ? (uint32_t)left : base_timeout;
        aos_http_response_t *resp = NULL;
        char terr[256] = "";
        aos_result rc = aos_http_client_do(client, &one, &resp, terr, sizeof terr);
        if (out_attempts)
            *out_attempts = attempt;
        int status = resp && rc == AOS_OK ? resp->status : 0;
        uint64_t delay = 0;
        aos_http_retry_verdict v =
            aos_http_retry_next(&r->policy, attempt, rc, status,
                                resp ? aos_http_response_get_header(resp, "retry-after-ms") : NULL,
                                resp ? aos_http_response_get_header(resp, "retry-after") : NULL,
                                time_left(r->deadline_ms), &delay);
        if (v != AOS_HTTP_RETRY_AGAIN) {
            breaker_verdict(r->breaker, rc, status, rc == AOS_ERR_CANCELLED);
            *out_resp = resp;
            if (rc != AOS_OK)
                aos_fail(rc, errbuf, errlen, "%s", terr);
            if (v == AOS_HTTP_RETRY_DEADLINE)
                return aos_fail(AOS_ERR_TIMEOUT, errbuf, errlen,
                                "deadline exceeded; last attempt: %s",
                                rc != AOS_OK ? terr : "retryable HTTP status");
            return rc;
        }
        if (!sleep_fn(r->sleep_ctx, delay)) { /* stopping: the last answer stands */
            breaker_verdict(r->breaker, rc, status, true);
            *out_resp = resp;
            if (rc != AOS_OK)
                aos_fail(rc, errbuf, errlen, "%s", terr);
            return rc;
        }
        aos_http_response_free(resp);
    }
}
