/* services/agent-runner/runner_internal.h: state shared by runner.c (setup, deliveries,
 * per-conversation queues, heartbeats, shutdown) and turn.c (the turn state machine).
 * Everything here is touched on the loop thread only, except where a field says otherwise.
 */
#ifndef RUNNER_INTERNAL_H
#define RUNNER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "adapter_route.h"
#include "aos/metrics.h"
#include "knowledge.h"
#include "loop.h"
#include "model.h"
#include "runner.h"
#include "turn_msg.h"

typedef struct served_agent {
    struct runner *runner;
    const aos_agent_def_t *def;
    char queue[96];       /* "aos.agent.<name>" */
    uint32_t share;       /* max unsettled deliveries on its subscription */
    atomic_uint inflight; /* unsettled deliveries of this agent (bus and loop threads) */
    aos_metric_counter_t *m_answered, *m_from_storage, *m_released, *m_dead, *m_tokens_prompt,
        *m_tokens_completion;
    aos_metric_histogram_t *m_duration;
    uint32_t credit;     /* link credit granted now (share, less without model headroom) */
    uint32_t wait_share; /* its share of max_waiting */
    uint32_t parked;     /* turns held that wait for an earlier turn of their conversation */
    uint32_t limit;      /* the credit limit the bus has: credit + parked (up to wait_share) */
    aos_metric_gauge_t *m_credit;
    aos_metric_counter_t *m_credit_lowered;
} served_agent_t;

typedef struct turn turn_t;
struct hop; /* a storage/bus callback on its way to the loop (turn.c) */

/* Turns of one conversation, in arrival order; only the head runs. */
typedef struct conv {
    char *id;
    turn_t *head, *tail;
    struct conv *next; /* hash chain */
} conv_t;

#define RUNNER_CONV_BUCKETS 4096
#define RUNNER_STORAGE_RETRIES 3 /* timed-out storage requests sent again per turn */

struct runner {
    runner_config_t cfg;
    const aos_agents_config_t *agents;
    aos_bus_t *bus;
    aos_storage_client_t *storage;
    aos_http_client_t *http;
    runner_loop_t *loop;
    runner_model_t *model;
    runner_knowledge_t *knowledge;
    struct runner_sched *sched;  /* schedule.h; NULL when no served agent has a schedule */
    runner_adapters_t *adapters; /* adapter_route.h; NULL when no agent has an adapter */
    served_agent_t *served;
    size_t served_count;
    char source[160]; /* CloudEvents source of what the runner sends */
    conv_t *convs[RUNNER_CONV_BUCKETS];
    /* shared with other threads */
    atomic_bool started; /* set by runner_start; read by /readyz on the admin server's thread */
    atomic_bool stopping;
    atomic_uint inflight;
    atomic_ullong answered, answered_from_storage, released, dead_lettered;
    pthread_mutex_t drain_mu;
    pthread_cond_t drain_cv;
    aos_metric_gauge_t *m_inflight;
    bool credit_timer; /* a re-check of the agents' credit is scheduled */
};

/* One turn: a delivery being worked on. */
struct turn {
    runner_t *r;
    served_agent_t *agent;
    conv_t *conv;
    turn_t *next_in_conv;
    aos_bus_delivery_t *delivery; /* NULL once settled */
    aos_event_t *request;         /* a copy of the delivered event (for the reply) */
    runner_turn_req_t req;
    char reply_id[129];
    uint64_t started_ms;
    uint64_t busy_since_ms; /* when it first found the conversation busy (0: never) */
    uint32_t relists;       /* lease conflicts seen */
    int64_t seq, token;     /* place in the conversation's order, lease fencing token */
    bool running;           /* holds the conversation lease (renewed on a timer) */
    bool parked;            /* waits for an earlier turn of its conversation (no capacity) */
    bool lease_lost;        /* a renewal found another holder */
    bool failure_recorded;  /* the failure marker went to storage with turn.complete */
    char *complete_json;    /* the turn.complete request being sent (kept for a resend) */
    /* the conversation as last read: newest first */
    aos_storage_message_page_t page;
    int64_t user_seq; /* seq of the stored user message (0: not stored yet) */
    runner_prompt_t prompt;
    runner_turn_outcome_t outcome;
    runner_adapter_choice_t adapter; /* the registry version the model call uses */
    uint64_t model_started_ms;
    aos_model_completion_t completion;
    void *outcome_owner; /* json_object behind outcome strings read from storage */
    char *result_json;
    int sends_pending;
    bool send_failed;
    bool from_storage; /* answered with the stored reply of an earlier delivery */
    int ops_pending;   /* storage calls, knowledge and model calls whose callback is due */
    /* the storage step in progress, to send again after a timeout */
    void (*redo)(turn_t *t);
    uint32_t storage_retries;
    int64_t complete_sent_ms; /* wall clock, the last turn.complete sent */
    void (*pending_next)(turn_t *t, struct hop *h);
    bool ended; /* settled; freed when ops_pending drops to 0 */
    /* claim check (turn_claimcheck.c) */
    char *claim;         /* the blob the turn arrived by reference in (NULL: inline) */
    aos_result claim_rc; /* resolving it failed: why */
    char claim_err[300];
    bool claim_send_failed; /* a reply or event could not be stored by reference */
};

/* runner.c: settle the turn's delivery and finish it (start the next turn of the
 * conversation, free the turn). outcome: what the metrics count. */
typedef enum turn_end {
    TURN_END_ANSWERED,
    TURN_END_FROM_STORAGE,
    TURN_END_RELEASED,
    TURN_END_DEAD_LETTERED,
} turn_end;

void runner_turn_end(turn_t *t, turn_end how, const char *reason, const char *description);

/* runner.c: the turn waits for an earlier turn of its conversation (parked) or no longer
 * does; a parked turn holds its delivery without using the agent's capacity: the agent's
 * link credit grows by the parked turns, up to its share of max_waiting. */
void runner_turn_park(turn_t *t, bool parked);

/* turn.c: run a turn (it is the head of its conversation). */
void turn_run(turn_t *t);

/* turn.c: the JSON of a turn request could not be used: reject + error reply. */
void turn_poison(turn_t *t, aos_result code, const char *why);

/* turn.c: free an ended turn once no callback is due any more. */
void turn_maybe_free(turn_t *t);

/* turn_claimcheck.c (docs/bus.md "Message size"). Bus thread: post arrive(t) to the loop,
 * after resolving t->request when it came by reference. */
void runner_claim_arrive(turn_t *t, runner_loop_fn arrive);
/* Loop thread, first thing on arrival: true when the turn's data could not be resolved (the
 * turn is then released or dead-lettered). */
bool runner_claim_arrival_failed(turn_t *t);
/* Loop thread: the turn is answered; its claim can go. */
void runner_claim_settled(turn_t *t);
/* Loop thread: send a reply (reply=true) or an aos.events event, by reference when over the
 * threshold; Event Grid / Kafka get it inline. Takes ev. done runs once when it returns
 * AOS_OK (bus thread). */
aos_result runner_claim_send(turn_t *t, aos_event_t *ev, bool reply, aos_bus_send_cb done,
                             void *ctx);

#endif
