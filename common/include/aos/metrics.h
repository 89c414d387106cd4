/* aos/metrics.h: counters, gauges and histograms rendered in the Prometheus text
 * exposition format 0.0.4 (served on /metrics by aos/http_server.h).
 *
 * A registry holds metric families (name, help, type, histogram buckets); a family holds one
 * series per distinct set of label values. Looking a series up (aos_metrics_counter(), …)
 * takes a lock and may allocate: do it once and keep the handle. Updating through a handle
 * (inc/add/set/observe) is lock-free (C11 atomics) and thread-safe from any thread.
 *
 * Handles are owned by the registry and stay valid until the registry is freed (for the
 * default registry: for the life of the process). Every update function accepts a NULL
 * handle and does nothing, so a failed lookup never needs a check at the update site.
 *
 * Labels are passed as NULL-terminated name, value, name, value, … pairs (at most
 * AOS_METRICS_MAX_LABELS pairs). A family fixes its label names on first use; a later lookup
 * with other label names, another type or other buckets returns NULL (and logs a warning).
 * Metric and label names must match [a-zA-Z_:][a-zA-Z0-9_:]* (labels: no ':'); label values
 * are arbitrary UTF-8 and are escaped on output.
 *
 *   static aos_metric_counter_t *sent;
 *   sent = aos_metrics_counter(NULL, "aos_bus_sent_total", "Messages sent.", "entity",
 *                              "aos.storage", NULL);
 *   aos_metric_counter_inc(sent);
 */
#ifndef AOS_METRICS_H
#define AOS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "aos/result.h"

#define AOS_METRICS_MAX_LABELS 4
#define AOS_METRICS_MAX_BUCKETS 32

typedef struct aos_metrics aos_metrics_t;
typedef struct aos_metric_counter aos_metric_counter_t;
typedef struct aos_metric_gauge aos_metric_gauge_t;
typedef struct aos_metric_histogram aos_metric_histogram_t;

/* The process-wide registry (created on first use, never freed). Passing NULL as the
 * registry to any function below means this one. */
aos_metrics_t *aos_metrics_default(void);

/* A private registry (tests, or a component that renders its own page). */
aos_result aos_metrics_new(aos_metrics_t **out_registry);
/* Frees the registry and every handle it gave out. NULL is a no-op. */
void aos_metrics_free(aos_metrics_t *registry);

/* Look up or create a series. Returns NULL on a bad name, too many labels, a conflict with
 * the existing family, or out of memory. Strings are copied. */
aos_metric_counter_t *aos_metrics_counter(aos_metrics_t *registry, const char *name,
                                          const char *help, ...) __attribute__((sentinel));
aos_metric_gauge_t *aos_metrics_gauge(aos_metrics_t *registry, const char *name, const char *help,
                                      ...) __attribute__((sentinel));
/* buckets: strictly increasing finite upper bounds (+Inf is implicit), or NULL / 0 for
 * AOS_METRICS_LATENCY_BUCKETS (seconds). */
aos_metric_histogram_t *aos_metrics_histogram(aos_metrics_t *registry, const char *name,
                                              const char *help, const double *buckets,
                                              size_t bucket_count, ...) __attribute__((sentinel));

/* Default latency buckets in seconds: 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 30 60 */
extern const double AOS_METRICS_LATENCY_BUCKETS[];
extern const size_t AOS_METRICS_LATENCY_BUCKET_COUNT;

/* Counters only go up. */
void aos_metric_counter_inc(aos_metric_counter_t *c);
void aos_metric_counter_add(aos_metric_counter_t *c, uint64_t n);
uint64_t aos_metric_counter_value(const aos_metric_counter_t *c);

void aos_metric_gauge_set(aos_metric_gauge_t *g, double v);
void aos_metric_gauge_add(aos_metric_gauge_t *g, double delta); /* negative to decrease */
void aos_metric_gauge_inc(aos_metric_gauge_t *g);
void aos_metric_gauge_dec(aos_metric_gauge_t *g);
double aos_metric_gauge_value(const aos_metric_gauge_t *g);

/* Record one observation (NaN is ignored). */
void aos_metric_histogram_observe(aos_metric_histogram_t *h, double v);
uint64_t aos_metric_histogram_count(const aos_metric_histogram_t *h);

/* Render every family of the registry in text format 0.0.4, families sorted by name and
 * series in creation order:
 *   # HELP name help (with \\ and \n escaped)
 *   # TYPE name counter|gauge|histogram
 *   name{label="value"} 42        (label values with \\, \" and \n escaped)
 *   name_bucket{label="value",le="0.5"} 3 … le="+Inf", name_sum, name_count
 * *out_text is NUL-terminated and owned by the caller (free()). Thread-safe; the values of
 * concurrent updates land in this rendering or the next. */
aos_result aos_metrics_render(aos_metrics_t *registry, char **out_text, size_t *out_len);

/* Content-Type of the rendering. */
#define AOS_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
