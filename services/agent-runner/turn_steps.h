/* services/agent-runner/turn_steps.h: what the two halves of the turn state machine share:
 * turn.c (the model call, completing, replying, endings) and turn_lease.c (the turn's place in
 * its conversation: the accept's lease or a claim, waiting for earlier turns, renewals).
 * Loop thread only, as everything in runner_internal.h. */
#ifndef RUNNER_TURN_STEPS_H
#define RUNNER_TURN_STEPS_H

#include <stdbool.h>

#include "runner_internal.h"

/* A storage (or bus) callback on its way from the bus thread to the loop: the reply copied,
 * then next(t, h) runs on the loop thread. */
typedef struct hop hop_t;
typedef void (*hop_fn)(turn_t *t, hop_t *h);

struct hop {
    turn_t *t;
    hop_fn next;
    aos_result rc;
    char err[200];
    char *data; /* a raw storage reply's data */
};

/* A hop for a call about to be sent (NULL: out of memory); one whose send failed is abandoned. */
hop_t *turn_hop_new(turn_t *t, hop_fn next);
void turn_hop_abandon(hop_t *h);
/* The storage callback of a hop (aos_storage_call's ctx is the hop). */
void turn_on_raw(void *ctx, aos_result r, const char *data_json, const char *errmsg);

/* Endings: back to the queue for redelivery; a storage step that failed (a timeout is sent
 * again via t->redo a few times, a refusal of our data is poison, the rest is released). */
void turn_release(turn_t *t, const char *why);
void turn_storage_failed(turn_t *t, const char *step, hop_t *h);

/* turn.c: the steps after the lease is the turn's. */
void turn_load_knowledge(turn_t *t);             /* then the prompt and the model */
void turn_store_answer(turn_t *t);               /* turn.complete with the answer in hand */
void turn_respond(turn_t *t, bool from_storage); /* reply, events, settle */

/* turn_lease.c: claim the turn's place (also after a complete lost the lease). */
void turn_claim(turn_t *t);

#endif
