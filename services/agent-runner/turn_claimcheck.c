/* The claim check on the runner's own hops (docs/bus.md "Message size"): a turn that arrives
 * by reference is resolved before the loop sees it; a reply or event whose data is over the
 * threshold is stored as a claim first and sent as a reference. The storage hops (turn.claim
 * carrying the user message, turn.complete carrying the answer, and their replies) go by
 * reference inside the storage client (aos/storage_client.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/claim_check.h"
#include "aos/event_publisher.h"
#include "aos/log.h"
#include "runner_internal.h"

/* ---- arrival (bus thread) ---- */

typedef struct arrival {
    turn_t *t;
    runner_loop_fn arrive;
} arrival_t;

static void on_turn_resolved(void *ctx, aos_result r, aos_event_t *ev, const char *errmsg)
{
    arrival_t *a = ctx;
    turn_t *t = a->t;
    t->request = ev; /* restored, or as it came when r says why not */
    t->claim_rc = r;
    if (r != AOS_OK)
        snprintf(t->claim_err, sizeof t->claim_err, "%s", errmsg ? errmsg : aos_result_str(r));
    if (runner_loop_post(t->r->loop, a->arrive, t) != AOS_OK)
        a->arrive(t, true);
    free(a);
}

void runner_claim_arrive(turn_t *t, runner_loop_fn arrive)
{
    const char *ref = aos_event_get_ext(t->request, AOS_CLAIM_EXT);
    arrival_t *a = ref ? malloc(sizeof *a) : NULL;
    if (a && !(t->claim = strdup(ref))) {
        free(a);
        a = NULL;
    }
    if (a) {
        *a = (arrival_t){t, arrive};
        aos_event_t *ev = t->request;
        t->request = NULL;
        if (aos_storage_claim_resolve_async(t->r->storage, ev, AOS_CLAIM_MAX, on_turn_resolved,
                                            a) == AOS_OK)
            return;
        t->request = ev;
        free(a);
        t->claim_rc = AOS_ERR_UNAVAILABLE;
        snprintf(t->claim_err, sizeof t->claim_err, "the turn's data could not be fetched");
    } else if (ref) {
        t->claim_rc = AOS_ERR_NOMEM;
        snprintf(t->claim_err, sizeof t->claim_err, "out of memory");
    }
    if (runner_loop_post(t->r->loop, arrive, t) != AOS_OK)
        arrive(t, true);
}

bool runner_claim_arrival_failed(turn_t *t)
{
    if (t->claim_rc == AOS_OK)
        return false;
    char why[400];
    snprintf(why, sizeof why, "the turn's data by reference (%s/%s): %s", AOS_CLAIM_CONTAINER,
             t->claim ? t->claim : "?", t->claim_err);
    if (aos_result_is_transient(t->claim_rc) && t->claim_rc != AOS_ERR_NOMEM) {
        /* storage is away: the delivery comes back (and dead-letters after the bus's limit) */
        aos_log(AOS_LOG_WARN, "turn released for redelivery", "message_id",
                t->request && t->request->id ? t->request->id : "", "reason", why, NULL);
        runner_turn_end(t, TURN_END_RELEASED, NULL, NULL);
    } else {
        /* the claim is gone (past its retention) or unreadable: no redelivery brings it back */
        turn_poison(t, AOS_ERR_INVALID, why);
    }
    return true;
}

void runner_claim_settled(turn_t *t)
{
    if (t->claim) /* read once by the one runner that answered: nothing needs it any more */
        aos_storage_claim_delete_async(t->r->storage, t->claim);
}

/* ---- sending (loop thread; the continuation on the bus thread) ---- */

typedef struct sending {
    turn_t *t;
    bool reply;
    aos_bus_send_cb done;
    void *ctx;
} sending_t;

static aos_result send_now(turn_t *t, const aos_event_t *ev, bool reply, aos_bus_send_cb done,
                           void *ctx)
{
    return reply ? aos_bus_reply(t->r->bus, t->request, ev, done, ctx)
                 : aos_bus_publish(t->r->bus, "aos.events", ev, done, ctx);
}

static void on_offloaded(void *ctx, aos_result r, aos_event_t *ev, const char *errmsg)
{
    sending_t *s = ctx;
    char why[400] = "";
    if (r == AOS_OK) {
        r = send_now(s->t, ev, s->reply, s->done, s->ctx);
        if (r != AOS_OK)
            snprintf(why, sizeof why, "bus: %s", aos_result_str(r));
    } else {
        snprintf(why, sizeof why, "could not be stored by reference: %s",
                 errmsg ? errmsg : aos_result_str(r));
        /* retrying the turn cannot help (the answer is stored; each attempt would fail the
         * same way): after_send answers aos.error and dead-letters it */
        s->t->claim_send_failed = true;
    }
    if (r != AOS_OK)
        s->done(s->ctx, r, why);
    aos_event_free(ev);
    free(s);
}

aos_result runner_claim_send(turn_t *t, aos_event_t *ev, bool reply, aos_bus_send_cb done,
                             void *ctx)
{
    if (!reply && t->r->cfg.external_events) /* Event Grid / Kafka take the data inline */
        aos_event_publish(t->r->cfg.external_events, ev);
    size_t threshold = aos_storage_client_claim_threshold(t->r->storage);
    if (ev->data_len <= threshold) {
        aos_result r = send_now(t, ev, reply, done, ctx);
        aos_event_free(ev);
        return r;
    }
    sending_t *s = malloc(sizeof *s);
    if (!s) {
        aos_event_free(ev);
        return AOS_ERR_NOMEM;
    }
    *s = (sending_t){t, reply, done, ctx};
    aos_result r = aos_storage_claim_offload_async(t->r->storage, ev, threshold, on_offloaded, s);
    if (r != AOS_OK) {
        free(s);
        aos_event_free(ev);
    }
    return r;
}
