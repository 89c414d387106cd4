/* services/storage/dispatch_turns.h: the turn ledger, the per-conversation order and the
 * conversation lease (docs/turn-order.md), as composite storage operations built on the
 * backend's record and message operations, so every backend has them:
 *
 *   aos.storage.turn.accept    (router) give a turn its place in its conversation; an
 *                              Idempotency-Key maps to the turn it first named
 *   aos.storage.turn.claim     (runner) answered already? -> the stored reply; else its turn
 *                              in the order? -> the lease (fencing token), the user message
 *                              appended and the newest messages; else wait
 *   aos.storage.turn.renew     (runner) extend the lease during a long model call
 *   aos.storage.turn.complete  (runner) append the answer (or failure marker), record it in
 *                              the ledger, move the conversation on, drop the lease
 *   aos.storage.turn.fail      (runner) quarantine a poison turn: failure marker, ledger
 *                              "failed", the turn no longer holds the conversation's order
 *
 * Each backend step is atomic; the composite is safe against concurrent callers through the
 * records' optimistic versions (compare-and-swap, retried) and the fencing token.
 * Thread-safety: as storage_dispatch (the backend instance must be this thread's). */
#ifndef AOS_STORAGE_DISPATCH_TURNS_H
#define AOS_STORAGE_DISPATCH_TURNS_H

#include <stdbool.h>

#include "dispatch.h"

/* True for the types above. */
bool storage_turn_op(const char *type);

/* When this replica last became reachable on the bus (wall-clock ms, aos_bus_connected_since_ms;
 * 0: unknown). Until a lease time after that, every lease counts as live: while nobody could
 * reach storage its holder could neither renew it nor complete, and a redelivery of its turn
 * (the broker requeues it on reconnect) must not take it over and pay the model again
 * (docs/turn-order.md "Broker outages"). Any thread. */
void storage_turns_reachable_since(int64_t ms);

/* Run one of them; out as storage_dispatch_raw's. */
void storage_turn_dispatch(storage_backend_t *be, const char *type, const char *data, size_t len,
                           storage_outcome_t *out);

#endif
