/* services/storage/service.h: the aos-storage service core (bus consumer + worker pool).
 *
 * The service consumes the "aos.storage" queue as a competing consumer and answers each
 * request through storage_dispatch() on a small worker pool; each worker owns one backend
 * instance (one SQLite connection / one Azure client). Bus callbacks only enqueue.
 *
 * Delivery handling (at-least-once, docs/design.md §2):
 *   - reply / error reply: the delivery is accepted once the broker confirmed the reply
 *     (effects are durable before the reply is sent);
 *   - backend unavailable: the request is released for redelivery, the service reports
 *     not-ready and pauses its workers until a health probe succeeds, so held requests are
 *     not burnt through their delivery limit during an outage.
 * Credit: max_inflight = worker count, so a burst waits in the broker, not in memory.
 *
 * Threads: new/start/stop/free from one controlling thread; storage_service_ready() and
 * the stats from any thread.
 */
#ifndef AOS_STORAGE_SERVICE_H
#define AOS_STORAGE_SERVICE_H

#include <stdbool.h>
#include <stddef.h>

#include "aos/bus.h"
#include "aos/metrics.h"
#include "backend.h"

typedef struct storage_service storage_service_t;

typedef struct storage_service_config {
    storage_backend_config_t backend; /* strings borrowed until _free */
    aos_bus_t *bus;                   /* borrowed; started by the caller */
    const char *queue;                /* NULL: "aos.storage" */
    unsigned workers;                 /* 0: 16 */
    size_t max_chunk;                 /* 0: AOS_STORAGE_CHUNK_DEFAULT */
    const char *source;               /* reply source; NULL: "/aos/storage" */
    int health_interval_ms;           /* 0: 2000 (250 while the backend is down) */
    aos_metrics_t *metrics;           /* NULL: the default registry */
    size_t claim_threshold;           /* replies over it by reference; 0: the default */
    int64_t claim_retention_ms;       /* claims older are swept; 0: 24 h */
} storage_service_config_t;

aos_result storage_service_new(const storage_service_config_t *cfg, storage_service_t **out_svc,
                               char *errbuf, size_t errlen);

/* Start workers and the health prober, and subscribe. A backend that cannot be opened yet
 * is not an error: the service starts not-ready and keeps probing. */
aos_result storage_service_start(storage_service_t *svc, char *errbuf, size_t errlen);

/* Ready = bus connected, backend healthy, not stopping. Thread-safe, non-blocking. */
bool storage_service_ready(storage_service_t *svc, char *reason, size_t reason_len);

/* Stop taking work: deliveries not yet started are released, running ones finish (up to
 * grace_ms), workers are joined. Then stop the bus (the caller's) to flush settlements. */
void storage_service_stop(storage_service_t *svc, int grace_ms);

/* Stop (if needed) and free. NULL is a no-op. */
void storage_service_free(storage_service_t *svc);

typedef struct storage_service_stats {
    unsigned long long handled;  /* requests answered (result or error) */
    unsigned long long released; /* requests released for redelivery */
} storage_service_stats_t;

void storage_service_stats(storage_service_t *svc, storage_service_stats_t *out);

#endif
