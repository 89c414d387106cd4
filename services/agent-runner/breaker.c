/* Per-endpoint circuit breakers and retry delays (see breaker.h). */
#include "breaker.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loop.h"

typedef enum { BR_CLOSED, BR_OPEN, BR_HALF_OPEN } br_state;

struct runner_breaker {
    char *name;
    br_state state;
    uint32_t failures;
    uint64_t opened_ms;
    bool probe_out;
    uint32_t threshold, open_ms;
    struct runner_breaker *next;
};

struct runner_breakers {
    uint32_t threshold, open_ms;
    runner_breaker_t *head;
};

aos_result runner_breakers_new(uint32_t failure_threshold, uint32_t open_ms,
                               runner_breakers_t **out)
{
    if (!out)
        return AOS_ERR_INVALID;
    runner_breakers_t *b = calloc(1, sizeof *b);
    if (!b)
        return AOS_ERR_NOMEM;
    b->threshold = failure_threshold ? failure_threshold : 5;
    b->open_ms = open_ms ? open_ms : 30000;
    *out = b;
    return AOS_OK;
}

void runner_breakers_free(runner_breakers_t *b)
{
    if (!b)
        return;
    for (runner_breaker_t *br = b->head, *next; br; br = next) {
        next = br->next;
        free(br->name);
        free(br);
    }
    free(b);
}

runner_breaker_t *runner_breakers_get(runner_breakers_t *b, const char *name)
{
    if (!b || !name)
        return NULL;
    for (runner_breaker_t *br = b->head; br; br = br->next)
        if (strcmp(br->name, name) == 0)
            return br;
    runner_breaker_t *br = calloc(1, sizeof *br);
    if (!br || !(br->name = strdup(name))) {
        free(br);
        return NULL;
    }
    br->threshold = b->threshold;
    br->open_ms = b->open_ms;
    br->next = b->head;
    b->head = br;
    return br;
}

bool runner_breaker_allow(runner_breaker_t *br)
{
    if (!br || br->state == BR_CLOSED)
        return true;
    if (br->state == BR_OPEN) {
        if (runner_now_ms() - br->opened_ms < br->open_ms)
            return false;
        br->state = BR_HALF_OPEN;
        br->probe_out = false;
    }
    if (br->probe_out)
        return false;
    br->probe_out = true;
    return true;
}

void runner_breaker_success(runner_breaker_t *br)
{
    if (!br)
        return;
    br->state = BR_CLOSED;
    br->failures = 0;
    br->probe_out = false;
}

void runner_breaker_failure(runner_breaker_t *br)
{
    if (!br)
        return;
    br->failures++;
    if (br->state == BR_HALF_OPEN || br->failures >= br->threshold) {
        br->state = BR_OPEN;
        br->opened_ms = runner_now_ms();
        br->probe_out = false;
    }
}

const char *runner_breaker_state(const runner_breaker_t *br)
{
    if (!br || br->state == BR_CLOSED)
        return "closed";
    return br->state == BR_OPEN ? "open" : "half-open";
}

static uint32_t rand_below(uint32_t n)
{
    static _Thread_local unsigned seed;
    if (!seed)
        seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)&seed;
    return n ? (uint32_t)(rand_r(&seed) % (n + 1u)) : 0;
}

uint32_t runner_backoff_ms(uint32_t base_ms, uint32_t max_ms, uint32_t attempt,
                           uint32_t retry_after_ms)
{
    uint64_t cap = base_ms;
    for (uint32_t i = 1; i < attempt && cap < max_ms; i++)
        cap *= 2;
    if (cap > max_ms)
        cap = max_ms;
    uint32_t d = rand_below((uint32_t)cap);
    if (d < retry_after_ms)
        d = retry_after_ms;
    return d > max_ms ? max_ms : d;
}

bool runner_retry_after_parse(const char *retry_after_ms, const char *retry_after,
                              uint32_t *out_ms)
{
    char *end;
    if (retry_after_ms && *retry_after_ms) {
        double v = strtod(retry_after_ms, &end);
        if (end != retry_after_ms && *end == '\0' && v >= 0 && isfinite(v)) {
            *out_ms = v > 86400000.0 ? 86400000u : (uint32_t)ceil(v);
            return true;
        }
    }
    if (!retry_after || !*retry_after)
        return false;
    long s = strtol(retry_after, &end, 10);
    if (end != retry_after && *end == '\0' && s >= 0) {
        *out_ms = s > 86400 ? 86400000u : (uint32_t)s * 1000u;
        return true;
    }
    struct tm tm = {0};
    const char *p = strptime(retry_after, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!p || *p)
        return false;
    time_t when = timegm(&tm), now = time(NULL);
    *out_ms = when <= now ? 0 : (when - now > 86400 ? 86400000u : (uint32_t)(when - now) * 1000u);
    return true;
}
