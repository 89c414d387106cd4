/* services/agent-runner/loop.h: the runner's event loop: one thread that owns all turn state.
 *
 * Other threads (the bus I/O thread, the HTTP client thread) never touch a turn: their
 * callbacks post a closure here (runner_loop_post, thread-safe, wakes the loop through an
 * eventfd) and the loop runs it. Timers (retry backoff, waiting for a busy conversation,
 * heartbeats) run on the loop too. So turn code is single-threaded and needs no locks, and
 * thousands of turns in flight cost memory, not threads.
 *
 * Ownership: a posted closure runs exactly once, on the loop thread, or, when the loop is
 * freed before running it, is called with cancelled = true from runner_loop_free (so its
 * argument can be released).
 */
#ifndef RUNNER_LOOP_H
#define RUNNER_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "aos/result.h"

typedef struct runner_loop runner_loop_t;

typedef void (*runner_loop_fn)(void *arg, bool cancelled);

aos_result runner_loop_new(runner_loop_t **out_loop);

/* Start the loop thread. */
aos_result runner_loop_start(runner_loop_t *loop);

/* Ask the loop to stop after the closures already posted; join the thread. Idempotent.
 * Not from the loop thread. */
void runner_loop_stop(runner_loop_t *loop);

/* Stop, then cancel what is left (posted closures and pending timers). NULL is a no-op. */
void runner_loop_free(runner_loop_t *loop);

/* Run fn(arg) on the loop thread. Thread-safe. AOS_ERR_CLOSED after stop (fn not called). */
aos_result runner_loop_post(runner_loop_t *loop, runner_loop_fn fn, void *arg);

/* Run fn(arg) on the loop thread after delay_ms. LOOP THREAD ONLY. */
aos_result runner_loop_timer(runner_loop_t *loop, uint32_t delay_ms, runner_loop_fn fn, void *arg);

/* True when called on the loop thread. */
bool runner_loop_on_thread(const runner_loop_t *loop);

/* Monotonic milliseconds. */
uint64_t runner_now_ms(void);

#endif
