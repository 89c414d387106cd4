/* Internals of the event publisher: a bounded drop-oldest queue with one worker thread per
 * external sink (Event Grid, Kafka). Not a public API. */
#ifndef AOS_EVENTS_INTERNAL_H
#define AOS_EVENTS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "aos/event_publisher.h"
#include "aos/http_client.h"
#include "aos/kafka.h"

typedef struct ev_sink ev_sink_t;
typedef void *(*ev_worker_fn)(void *arg);

struct ev_sink {
    const char *name; /* "eventgrid" | "kafka" */
    aos_event_publisher_t *pub;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC; signalled on push and on stop */
    aos_event_t **ring;
    size_t cap, head, count;
    bool stopping;
    int64_t deadline_ms; /* when stopping: give up draining at this time */
    pthread_t thread;
    bool running;
    atomic_uint_fast64_t published, failed, dropped;
    aos_metric_counter_t *m_published, *m_failed;
    aos_metric_counter_t *m_drop_full, *m_drop_large, *m_drop_shutdown;
    aos_metric_gauge_t *m_queued;
};

struct aos_event_publisher {
    char *topic;
    aos_bus_t *bus;
    struct bus_track *bus_track;
    pthread_rwlock_t close_lock; /* publish: read; free: write to set closing */
    bool closing;

    uint32_t batch_max, linger_ms, flush_ms, request_timeout_ms;
    size_t max_request_bytes;
    aos_retry_policy_t retry;
    aos_circuit_t circuit;

    char *eg_url; /* endpoint with api-version */
    char *eg_key;
    aos_http_client_t *http;
    ev_sink_t *eg;

    char *kafka_topic;
    aos_kafka_producer_t *kafka;
    ev_sink_t *kf;
};

/* ---- queue (event_queue.c) ---- */
aos_result ev_sink_new(aos_event_publisher_t *pub, const char *name, size_t cap,
                       aos_metrics_t *metrics, ev_sink_t **out);
aos_result ev_sink_start(ev_sink_t *s, ev_worker_fn fn);
/* Takes ownership of ev; drops (and counts) the oldest when full. */
void ev_sink_push(ev_sink_t *s, aos_event_t *ev);
/* Wait for events, then for the batch to fill (up to max) or linger_ms to pass. Returns the
 * number moved into out (caller owns them); 0 = stop the worker. */
size_t ev_sink_take(ev_sink_t *s, aos_event_t **out, size_t max, uint32_t linger_ms);
/* Sleep up to ms; false when the flush deadline has passed (give up). */
bool ev_sink_sleep(ev_sink_t *s, uint64_t ms);
/* True while work may continue (not stopping, or before the flush deadline). */
bool ev_sink_alive(ev_sink_t *s);
/* ms left before the flush deadline, or UINT32_MAX when not stopping. */
uint32_t ev_sink_remaining_ms(ev_sink_t *s);
/* Begin stopping with a deadline, join the worker, drop leftovers (reason shutdown). */
void ev_sink_stop(ev_sink_t *s, uint32_t flush_ms);
void ev_sink_free(ev_sink_t *s);
void ev_sink_count(ev_sink_t *s, bool ok, uint64_t n);
void ev_sink_count_drop(ev_sink_t *s, aos_metric_counter_t *reason, uint64_t n);
void ev_sink_stats(ev_sink_t *s, aos_event_sink_stats_t *out);

/* ---- Event Grid worker (eventgrid.c) ---- */
void *ev_eventgrid_worker(void *arg);
aos_result ev_eventgrid_url(const char *endpoint, char **out_url, char *errbuf, size_t errlen);

#endif
