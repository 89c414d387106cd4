#include "aos/resilience.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

int64_t aos_clock_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t aos_clock_realtime_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct timespec aos_clock_deadline(clockid_t clock, int64_t ms)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    if (ms < 0)
        ms = 0;
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

uint64_t aos_rng_default(void *ctx)
{
    (void)ctx;
    static _Thread_local uint64_t state;
    static _Thread_local bool seeded;
    if (!seeded) {
        if (getrandom(&state, sizeof state, GRND_NONBLOCK) != (ssize_t)sizeof state)
            state = (uint64_t)aos_clock_monotonic_ms() ^ (uint64_t)(uintptr_t)&state;
        seeded = true;
    }
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void aos_retry_policy_default(aos_retry_policy_t *p)
{
    p->max_attempts = AOS_RETRY_DEFAULT_MAX_ATTEMPTS;
    p->base_delay_ms = AOS_RETRY_DEFAULT_BASE_MS;
    p->max_delay_ms = AOS_RETRY_DEFAULT_MAX_MS;
    p->max_server_delay_ms = AOS_RETRY_DEFAULT_MAX_SERVER_MS;
}

static aos_retry_policy_t effective(const aos_retry_policy_t *p)
{
    aos_retry_policy_t e;
    aos_retry_policy_default(&e);
    if (p) {
        if (p->max_attempts)
            e.max_attempts = p->max_attempts;
        if (p->base_delay_ms)
            e.base_delay_ms = p->base_delay_ms;
        if (p->max_delay_ms)
            e.max_delay_ms = p->max_delay_ms;
        if (p->max_server_delay_ms)
            e.max_server_delay_ms = p->max_server_delay_ms;
    }
    return e;
}

bool aos_retry_may_retry(const aos_retry_policy_t *p, uint32_t attempts_made)
{
    return attempts_made < effective(p).max_attempts;
}

uint64_t aos_retry_backoff_ms(const aos_retry_policy_t *p, uint32_t attempts_made, aos_rng_fn rng,
                              void *rng_ctx)
{
    aos_retry_policy_t e = effective(p);
    uint32_t shift = attempts_made ? attempts_made - 1 : 0;
    uint64_t ceiling = e.max_delay_ms;
    /* base * 2^shift without overflow */
    if (shift < 64 && e.base_delay_ms <= (UINT64_MAX >> shift) &&
        (e.base_delay_ms << shift) < ceiling)
        ceiling = e.base_delay_ms << shift;
    uint64_t r = (rng ? rng : aos_rng_default)(rng_ctx);
    if (ceiling == UINT64_MAX)
        return r;
    return r % (ceiling + 1);
}

/* Non-negative decimal integer, optional surrounding blanks, saturating. */
static bool parse_uint(const char *s, uint64_t *out)
{
    while (*s == ' ' || *s == '\t')
        s++;
    if (!isdigit((unsigned char)*s))
        return false;
    uint64_t v = 0;
    for (; isdigit((unsigned char)*s); s++) {
        unsigned d = (unsigned)(*s - '0');
        v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
    }
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s)
        return false;
    *out = v;
    return true;
}

/* IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 §5.6.7). */
static bool parse_http_date(const char *s, int64_t *out_unix_ms)
{
    static const char *MONTHS[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    static const char *DAYS[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    while (*s == ' ')
        s++;
    if (strlen(s) < 29)
        return false;
    bool day_ok = false;
    for (int i = 0; i < 7; i++)
        day_ok |= strncmp(s, DAYS[i], 3) == 0;
    if (!day_ok || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
        s[19] != ':' || s[22] != ':' || strncmp(s + 25, " GMT", 4) != 0)
        return false;
    for (int i = 29; s[i]; i++)
        if (s[i] != ' ')
            return false;
    const int digit_pos[] = {5, 6, 12, 13, 14, 15, 17, 18, 20, 21, 23, 24};
    for (size_t i = 0; i < sizeof digit_pos / sizeof *digit_pos; i++)
        if (!isdigit((unsigned char)s[digit_pos[i]]))
            return false;
    int mon = -1;
    for (int i = 0; i < 12; i++)
        if (strncmp(s + 8, MONTHS[i], 3) == 0)
            mon = i;
    struct tm tm = {0};
    tm.tm_mday = (s[5] - '0') * 10 + (s[6] - '0');
    tm.tm_year = atoi(s + 12) - 1900;
    tm.tm_hour = (s[17] - '0') * 10 + (s[18] - '0');
    tm.tm_min = (s[20] - '0') * 10 + (s[21] - '0');
    tm.tm_sec = (s[23] - '0') * 10 + (s[24] - '0');
    tm.tm_mon = mon;
    if (mon < 0 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
        tm.tm_sec > 60)
        return false;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return false;
    *out_unix_ms = (int64_t)t * 1000;
    return true;
}

bool aos_retry_parse_hint(const char *retry_after_ms, const char *retry_after, int64_t now_unix_ms,
                          uint64_t *out_delay_ms)
{
    uint64_t v;
    if (retry_after_ms && parse_uint(retry_after_ms, &v)) {
        *out_delay_ms = v;
        return true;
    }
    if (!retry_after)
        return false;
    if (parse_uint(retry_after, &v)) {
        *out_delay_ms = v > UINT64_MAX / 1000 ? UINT64_MAX : v * 1000;
        return true;
    }
    int64_t at;
    if (parse_http_date(retry_after, &at)) {
        *out_delay_ms = at > now_unix_ms ? (uint64_t)(at - now_unix_ms) : 0;
        return true;
    }
    return false;
}

uint64_t aos_retry_next_delay_ms(const aos_retry_policy_t *p, uint32_t attempts_made,
                                 const char *retry_after_ms, const char *retry_after,
                                 int64_t now_unix_ms, aos_rng_fn rng, void *rng_ctx)
{
    uint64_t hint;
    if (aos_retry_parse_hint(retry_after_ms, retry_after, now_unix_ms, &hint)) {
        uint64_t cap = effective(p).max_server_delay_ms;
        return hint < cap ? hint : cap;
    }
    return aos_retry_backoff_ms(p, attempts_made, rng, rng_ctx);
}

bool aos_retry_http_status_retryable(int status)
{
    return status == 408 || status == 429 || (status >= 500 && status <= 599);
}

aos_result aos_result_from_http_status(int status)
{
    if (status >= 200 && status <= 299)
        return AOS_OK;
    switch (status) {
    case 400:
    case 422:
        return AOS_ERR_INVALID;
    case 401:
        return AOS_ERR_AUTH;
    case 403:
        return AOS_ERR_FORBIDDEN;
    case 404:
        return AOS_ERR_NOT_FOUND;
    case 409:
    case 412:
        return AOS_ERR_CONFLICT;
    case 413:
        return AOS_ERR_TOO_LARGE;
    case 408:
    case 504:
        return AOS_ERR_TIMEOUT;
    case 429:
        return AOS_ERR_RATE_LIMITED;
    default:
        break;
    }
    if (status >= 500 && status <= 599)
        return AOS_ERR_UNAVAILABLE;
    if (status >= 400 && status <= 499)
        return AOS_ERR_REJECTED;
    return AOS_ERR_PROTOCOL;
}

/* ---- circuit breaker ---- */

void aos_circuit_init(aos_circuit_t *cb, const aos_circuit_config_t *cfg)
{
    memset(cb, 0, sizeof *cb);
    pthread_mutex_init(&cb->lock, NULL);
    if (cfg)
        cb->cfg = *cfg;
    if (!cb->cfg.failure_threshold)
        cb->cfg.failure_threshold = 5;
    if (!cb->cfg.open_ms)
        cb->cfg.open_ms = 30000;
    if (!cb->cfg.half_open_probes)
        cb->cfg.half_open_probes = 1;
    cb->state = AOS_CIRCUIT_CLOSED;
}

void aos_circuit_destroy(aos_circuit_t *cb)
{
    if (cb)
        pthread_mutex_destroy(&cb->lock);
}

/* Caller holds the lock. */
static void advance(aos_circuit_t *cb, int64_t now_ms)
{
    if (cb->state == AOS_CIRCUIT_OPEN && now_ms - cb->opened_at_ms >= (int64_t)cb->cfg.open_ms) {
        cb->state = AOS_CIRCUIT_HALF_OPEN;
        cb->probes = 0;
    }
}

static void trip(aos_circuit_t *cb, int64_t now_ms)
{
    cb->state = AOS_CIRCUIT_OPEN;
    cb->opened_at_ms = now_ms;
    cb->probes = 0;
    cb->failures = 0;
}

bool aos_circuit_allow(aos_circuit_t *cb, int64_t now_ms)
{
    pthread_mutex_lock(&cb->lock);
    advance(cb, now_ms);
    bool ok = true;
    if (cb->state == AOS_CIRCUIT_OPEN)
        ok = false;
    else if (cb->state == AOS_CIRCUIT_HALF_OPEN) {
        ok = cb->probes < cb->cfg.half_open_probes;
        if (ok)
            cb->probes++;
    }
    pthread_mutex_unlock(&cb->lock);
    return ok;
}

void aos_circuit_record_success(aos_circuit_t *cb, int64_t now_ms)
{
    pthread_mutex_lock(&cb->lock);
    advance(cb, now_ms);
    /* A late success from a call started before the breaker opened does not close it:
     * only a probe's result may. */
    if (cb->state == AOS_CIRCUIT_HALF_OPEN && cb->probes > 0) {
        cb->state = AOS_CIRCUIT_CLOSED;
        cb->probes = 0;
        cb->failures = 0;
    } else if (cb->state == AOS_CIRCUIT_CLOSED) {
        cb->failures = 0;
    }
    pthread_mutex_unlock(&cb->lock);
}

void aos_circuit_record_failure(aos_circuit_t *cb, int64_t now_ms)
{
    pthread_mutex_lock(&cb->lock);
    advance(cb, now_ms);
    if (cb->state == AOS_CIRCUIT_HALF_OPEN && cb->probes > 0) {
        trip(cb, now_ms);
    } else if (cb->state == AOS_CIRCUIT_CLOSED) {
        if (++cb->failures >= cb->cfg.failure_threshold)
            trip(cb, now_ms);
    }
    pthread_mutex_unlock(&cb->lock);
}

void aos_circuit_record_release(aos_circuit_t *cb)
{
    pthread_mutex_lock(&cb->lock);
    if (cb->state == AOS_CIRCUIT_HALF_OPEN && cb->probes > 0)
        cb->probes--;
    pthread_mutex_unlock(&cb->lock);
}

aos_circuit_state aos_circuit_get_state(aos_circuit_t *cb, int64_t now_ms)
{
    pthread_mutex_lock(&cb->lock);
    advance(cb, now_ms);
    aos_circuit_state s = cb->state;
    pthread_mutex_unlock(&cb->lock);
    return s;
}

const char *aos_circuit_state_str(aos_circuit_state s)
{
    switch (s) {
    case AOS_CIRCUIT_CLOSED:
        return "closed";
    case AOS_CIRCUIT_OPEN:
        return "open";
    case AOS_CIRCUIT_HALF_OPEN:
        return "half_open";
    }
    return "unknown";
}
