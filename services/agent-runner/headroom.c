/* Model endpoint headroom: throttling, concurrency limit, RPM/TPM budgets (headroom.h). */
#include "headroom.h"

#include <stdlib.h>
#include <string.h>

#define THROTTLE_FIRST_MS 1000u
#define THROTTLE_MAX_MS 60000u
#define LIMIT_CEILING 4096u
#define BUSY_POLL_MS 50u

typedef struct bucket {
    double tokens, capacity, per_ms; /* per_ms 0: no budget */
    uint64_t at_ms;
} bucket_t;

typedef struct ep_state {
    char *name;
    uint64_t throttled_until;
    uint64_t backoff_ms; /* next throttle without a hint */
    uint32_t limit;      /* concurrent calls allowed */
    uint32_t inflight;
    bucket_t rpm, tpm;
    struct ep_state *next;
} ep_state_t;

struct runner_headroom {
    ep_state_t *head;
};

aos_result runner_headroom_new(runner_headroom_t **out)
{
    if (!out)
        return AOS_ERR_INVALID;
    *out = calloc(1, sizeof **out);
    return *out ? AOS_OK : AOS_ERR_NOMEM;
}

void runner_headroom_free(runner_headroom_t *h)
{
    if (!h)
        return;
    for (ep_state_t *e = h->head, *n; e; e = n) {
        n = e->next;
        free(e->name);
        free(e);
    }
    free(h);
}

const aos_endpoint_t *runner_headroom_primary(const aos_endpoint_t *chain, size_t count)
{
    for (size_t i = 0; chain && i < count; i++)
        if (chain[i].provider != AOS_PROVIDER_OFFLINE)
            return &chain[i];
    return NULL;
}

static void bucket_init(bucket_t *b, uint32_t per_minute, uint64_t now)
{
    if (!per_minute)
        return;
    b->per_ms = per_minute / 60000.0;
    b->capacity = per_minute / 6.0 < 1.0 ? 1.0 : per_minute / 6.0;
    b->tokens = b->capacity;
    b->at_ms = now;
}

static void bucket_refill(bucket_t *b, uint64_t now)
{
    if (!b->per_ms || now <= b->at_ms)
        return;
    b->tokens += (double)(now - b->at_ms) * b->per_ms;
    if (b->tokens > b->capacity)
        b->tokens = b->capacity;
    b->at_ms = now;
}

/* ms until the bucket holds at least `need` (0: now). */
static uint64_t bucket_wait(bucket_t *b, double need, uint64_t now)
{
    if (!b->per_ms)
        return 0;
    bucket_refill(b, now);
    if (b->tokens >= need)
        return 0;
    return (uint64_t)((need - b->tokens) / b->per_ms) + 1;
}

static ep_state_t *state(runner_headroom_t *h, const aos_endpoint_t *ep, uint64_t now)
{
    const char *name = ep->url ? ep->url : aos_provider_name(ep->provider);
    for (ep_state_t *e = h->head; e; e = e->next)
        if (strcmp(e->name, name) == 0)
            return e;
    ep_state_t *e = calloc(1, sizeof *e);
    if (!e || !(e->name = strdup(name))) {
        free(e);
        return NULL;
    }
    e->limit = RUNNER_HEADROOM_UNLIMITED;
    e->backoff_ms = THROTTLE_FIRST_MS;
    bucket_init(&e->rpm, ep->requests_per_minute, now);
    bucket_init(&e->tpm, ep->tokens_per_minute, now);
    e->next = h->head;
    h->head = e;
    return e;
}

void runner_headroom_answer(runner_headroom_t *h, const aos_endpoint_t *ep, int status,
                            uint64_t retry_after_ms, uint64_t now_ms)
{
    ep_state_t *e = h && ep ? state(h, ep, now_ms) : NULL;
    if (!e)
        return;
    if (status == 429 || (status == 503 && retry_after_ms)) {
        uint64_t wait = retry_after_ms ? retry_after_ms : e->backoff_ms;
        if (wait > THROTTLE_MAX_MS)
            wait = THROTTLE_MAX_MS;
        if (now_ms + wait > e->throttled_until)
            e->throttled_until = now_ms + wait;
        if (!retry_after_ms && e->backoff_ms < THROTTLE_MAX_MS)
            e->backoff_ms *= 2;
        uint32_t base = e->inflight < e->limit ? e->inflight : e->limit;
        uint32_t halved = base / 2 ? base / 2 : 1;
        if (halved < e->limit)
            e->limit = halved;
    } else if (status >= 200 && status < 300) {
        e->backoff_ms = THROTTLE_FIRST_MS;
        if (e->limit != RUNNER_HEADROOM_UNLIMITED && ++e->limit > LIMIT_CEILING)
            e->limit = RUNNER_HEADROOM_UNLIMITED;
    }
}

uint64_t runner_headroom_wait_ms(runner_headroom_t *h, const aos_endpoint_t *ep, uint64_t now_ms,
                                 bool busy)
{
    ep_state_t *e = h && ep ? state(h, ep, now_ms) : NULL;
    if (!e)
        return 0;
    uint64_t wait = e->throttled_until > now_ms ? e->throttled_until - now_ms : 0;
    uint64_t w = bucket_wait(&e->rpm, 1.0, now_ms);
    if (w > wait)
        wait = w;
    w = bucket_wait(&e->tpm, 0.0, now_ms); /* spent past the budget: wait until back at 0 */
    if (w > wait)
        wait = w;
    if (!wait && busy && e->inflight >= e->limit)
        wait = BUSY_POLL_MS;
    return wait;
}

void runner_headroom_start(runner_headroom_t *h, const aos_endpoint_t *ep, uint64_t now_ms)
{
    ep_state_t *e = h && ep ? state(h, ep, now_ms) : NULL;
    if (!e)
        return;
    bucket_refill(&e->rpm, now_ms);
    if (e->rpm.per_ms)
        e->rpm.tokens -= 1.0;
    e->inflight++;
}

void runner_headroom_end(runner_headroom_t *h, const aos_endpoint_t *ep, uint32_t tokens,
                         uint64_t now_ms)
{
    ep_state_t *e = h && ep ? state(h, ep, now_ms) : NULL;
    if (!e)
        return;
    if (e->inflight)
        e->inflight--;
    bucket_refill(&e->tpm, now_ms);
    if (e->tpm.per_ms)
        e->tpm.tokens -= tokens;
}

uint32_t runner_headroom_limit(runner_headroom_t *h, const aos_endpoint_t *ep)
{
    ep_state_t *e = h && ep ? state(h, ep, 0) : NULL;
    return e ? e->limit : RUNNER_HEADROOM_UNLIMITED;
}
