/* aos/bus_dlq.h: reading the dead letters of a queue by receiving them (docs/bus.md "Dead
 * letters"): what `aosctl dlq list|replay` and the router's console dead-letter routes share.
 *
 * A collector subscribes a bus to the dead-letter queue of one logical queue and holds what
 * arrives, each dead letter once: a second copy of one it holds (a released dead letter comes
 * straight back) is released at once, never held twice. Collecting ends when max are held, the
 * wanted one (by event id) is held, nothing new came for quiet_ms, or *stop turned true; from
 * then on whatever still arrives is released untouched. The caller then acts on what it holds
 * (prints, replays, accepts) and gives back the rest with aos_bus_dlq_release.
 *
 * Threads: the collector's delivery callback runs on the bus's I/O thread; every aos_bus_dlq_*
 * call is for one caller thread (not a bus callback: collecting blocks).
 * Lifetime: settle or release what it holds before aos_bus_free(bus) (a delivery must not
 * outlive its bus), and free the collector only after aos_bus_free(bus): until then late dead
 * letters still reach it (to be released).
 */
#ifndef AOS_BUS_DLQ_H
#define AOS_BUS_DLQ_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "aos/bus.h"
#include "aos/result.h"

typedef struct aos_bus_dlq aos_bus_dlq_t;

/* The dead-letter address of a logical queue under the bus's profile: RabbitMQ
 * "/amq/queue/<queue>.dlq", Service Bus "<queue>/$deadletterqueue"; AOS_ERR_INVALID for a bad
 * queue name, AOS_ERR_UNSUPPORTED for a dead-letter queue itself. Thread-safe. */
aos_result aos_bus_dead_letter_address(const aos_bus_t *bus, const char *queue, char *out,
                                       size_t outlen);

/* A collector for up to max (at least 1) dead letters; AOS_ERR_INVALID for 0, AOS_ERR_NOMEM.
 * It grants the dead-letter queue at most 256 credits at a time. Free with aos_bus_dlq_free. */
aos_result aos_bus_dlq_new(size_t max, aos_bus_dlq_t **out);

/* Subscribe bus to the dead letters of queue and collect (see above) until max are held, the
 * one with event id want_id is held (NULL: no such one), quiet_ms pass without a new one, or
 * *stop is true (stop may be NULL). Collecting is over when this returns, also on failure
 * (the error of aos_bus_dead_letter_address or aos_bus_subscribe_address). Call it once. */
aos_result aos_bus_dlq_collect(aos_bus_dlq_t *c, aos_bus_t *bus, const char *queue, int quiet_ms,
                               const char *want_id, const atomic_bool *stop);

/* How many dead letters were collected (taken ones included). */
size_t aos_bus_dlq_count(const aos_bus_dlq_t *c);

/* The i-th dead letter held (borrowed; NULL when i is out of range or it was taken). */
aos_bus_delivery_t *aos_bus_dlq_get(const aos_bus_dlq_t *c, size_t i);

/* Take the i-th dead letter out of the collector: the caller settles it (exactly once). */
aos_bus_delivery_t *aos_bus_dlq_take(aos_bus_dlq_t *c, size_t i);

/* The index of the dead letter held whose event id is id, or aos_bus_dlq_count when none. */
size_t aos_bus_dlq_find(const aos_bus_dlq_t *c, const char *id);

/* Release every dead letter still held (they stay in the dead-letter queue). */
void aos_bus_dlq_release(aos_bus_dlq_t *c);

/* Free the collector, after aos_bus_free of its bus (what it still held was released before:
 * it touches no delivery). NULL is a no-op. */
void aos_bus_dlq_free(aos_bus_dlq_t *c);

#endif
