/* Metrics registry: families and series behind a mutex (lookup, render), values as C11
 * atomics (updates never lock). Doubles are stored as their bit pattern in a uint64. */
#include "aos/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/log.h"
#include "aos/buf.h"

typedef enum { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM } metric_kind;

struct series {
    struct series *next;
    char *values[AOS_METRICS_MAX_LABELS];
    _Atomic uint64_t value;    /* counter count, or gauge double bits */
    _Atomic uint64_t sum_bits; /* histogram sum (double bits) */
    _Atomic uint64_t count;    /* histogram count */
    size_t nbuckets;
    const double *bounds;       /* the family's bounds */
    _Atomic uint64_t buckets[]; /* histogram: per-bucket (non-cumulative), nbuckets + 1 (+Inf) */
};

struct aos_metric_counter {
    struct series s;
};
struct aos_metric_gauge {
    struct series s;
};
struct aos_metric_histogram {
    struct series s;
};

struct family {
    struct family *next;
    char *name;
    char *help;
    metric_kind kind;
    size_t nlabels;
    char *labels[AOS_METRICS_MAX_LABELS];
    size_t nbuckets;
    double bounds[AOS_METRICS_MAX_BUCKETS];
    struct series *first, *last;
};

struct aos_metrics {
    pthread_mutex_t lock;
    struct family *families;
};

const double AOS_METRICS_LATENCY_BUCKETS[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                              1,     2.5,  5,     10,   30,  60};
const size_t AOS_METRICS_LATENCY_BUCKET_COUNT =
    sizeof AOS_METRICS_LATENCY_BUCKETS / sizeof AOS_METRICS_LATENCY_BUCKETS[0];

static aos_metrics_t default_registry = {.lock = PTHREAD_MUTEX_INITIALIZER, .families = NULL};

aos_metrics_t *aos_metrics_default(void)
{
    return &default_registry;
}

aos_result aos_metrics_new(aos_metrics_t **out_registry)
{
    if (!out_registry)
        return AOS_ERR_INVALID;
    aos_metrics_t *r = calloc(1, sizeof *r);
    if (!r)
        return AOS_ERR_NOMEM;
    pthread_mutex_init(&r->lock, NULL);
    *out_registry = r;
    return AOS_OK;
}

static void family_free(struct family *f)
{
    struct series *s = f->first;
    while (s) {
        struct series *n = s->next;
        for (size_t i = 0; i < f->nlabels; i++)
            free(s->values[i]);
        free(s);
        s = n;
    }
    for (size_t i = 0; i < f->nlabels; i++)
        free(f->labels[i]);
    free(f->name);
    free(f->help);
    free(f);
}

void aos_metrics_free(aos_metrics_t *registry)
{
    if (!registry || registry == &default_registry)
        return;
    struct family *f = registry->families;
    while (f) {
        struct family *n = f->next;
        family_free(f);
        f = n;
    }
    pthread_mutex_destroy(&registry->lock);
    free(registry);
}

static bool valid_name(const char *s, bool allow_colon)
{
    if (!s || !*s)
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                  (allow_colon && c == ':') || (p != s && c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    return true;
}

typedef struct lookup {
    const char *name;
    const char *help;
    metric_kind kind;
    const double *bounds;
    size_t nbuckets;
    size_t nlabels;
    const char *labels[AOS_METRICS_MAX_LABELS];
    const char *values[AOS_METRICS_MAX_LABELS];
} lookup;

/* Collect the NULL-terminated name/value pairs; false if malformed. */
static bool collect_labels(lookup *lk, va_list ap)
{
    lk->nlabels = 0;
    for (;;) {
        const char *n = va_arg(ap, const char *);
        if (!n)
            return true;
        const char *v = va_arg(ap, const char *);
        if (!v || lk->nlabels == AOS_METRICS_MAX_LABELS || !valid_name(n, false) ||
            strcmp(n, "le") == 0)
            return false;
        for (size_t i = 0; i < lk->nlabels; i++)
            if (strcmp(lk->labels[i], n) == 0)
                return false;
        lk->labels[lk->nlabels] = n;
        lk->values[lk->nlabels++] = v;
    }
}

static bool family_matches(const struct family *f, const lookup *lk)
{
    if (f->kind != lk->kind || f->nlabels != lk->nlabels)
        return false;
    for (size_t i = 0; i < f->nlabels; i++)
        if (strcmp(f->labels[i], lk->labels[i]) != 0)
            return false;
    if (lk->kind == KIND_HISTOGRAM) {
        if (f->nbuckets != lk->nbuckets)
            return false;
        for (size_t i = 0; i < f->nbuckets; i++)
            if (f->bounds[i] != lk->bounds[i])
                return false;
    }
    return true;
}

static struct family *family_new(const lookup *lk)
{
    struct family *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->name = strdup(lk->name);
    f->help = strdup(lk->help ? lk->help : "");
    f->kind = lk->kind;
    f->nbuckets = lk->nbuckets;
    for (size_t i = 0; i < lk->nbuckets; i++)
        f->bounds[i] = lk->bounds[i];
    bool ok = f->name && f->help;
    for (size_t i = 0; i < lk->nlabels; i++) {
        f->labels[i] = strdup(lk->labels[i]);
        f->nlabels++;
        ok = ok && f->labels[i];
    }
    if (!ok) {
        family_free(f);
        return NULL;
    }
    return f;
}

static struct series *series_new(struct family *f, const lookup *lk)
{
    size_t nb = f->kind == KIND_HISTOGRAM ? f->nbuckets + 1 : 0;
    struct series *s = calloc(1, sizeof *s + nb * sizeof(_Atomic uint64_t));
    if (!s)
        return NULL;
    bool ok = true;
    for (size_t i = 0; i < f->nlabels; i++) {
        s->values[i] = strdup(lk->values[i]);
        ok = ok && s->values[i];
    }
    if (!ok) {
        for (size_t i = 0; i < f->nlabels; i++)
            free(s->values[i]);
        free(s);
        return NULL;
    }
    s->nbuckets = f->nbuckets;
    s->bounds = f->bounds;
    if (f->last)
        f->last->next = s;
    else
        f->first = s;
    f->last = s;
    return s;
}

static struct series *find_or_create(aos_metrics_t *reg, lookup *lk)
{
    struct series *found = NULL;
    const char *why = NULL;
    pthread_mutex_lock(&reg->lock);
    struct family *f = reg->families;
    while (f && strcmp(f->name, lk->name) != 0)
        f = f->next;
    if (f && !family_matches(f, lk)) {
        why = "metric exists with another type, labels or buckets";
    } else {
        if (!f && (f = family_new(lk)) != NULL) {
            f->next = reg->families;
            reg->families = f;
        }
        for (struct series *s = f ? f->first : NULL; s && !found; s = s->next) {
            size_t i = 0;
            while (i < f->nlabels && strcmp(s->values[i], lk->values[i]) == 0)
                i++;
            if (i == f->nlabels)
                found = s;
        }
        if (f && !found)
            found = series_new(f, lk);
        if (!found)
            why = "out of memory";
    }
    pthread_mutex_unlock(&reg->lock);
    if (why)
        aos_log(AOS_LOG_WARN, "metric lookup failed", "metric", lk->name, "reason", why, NULL);
    return found;
}

static struct series *lookup_series(aos_metrics_t *reg, lookup *lk, va_list ap)
{
    if (!reg)
        reg = &default_registry;
    if (!valid_name(lk->name, true) || !collect_labels(lk, ap)) {
        aos_log(AOS_LOG_WARN, "metric lookup failed", "metric", lk->name ? lk->name : "(null)",
                "reason", "invalid name or labels", NULL);
        return NULL;
    }
    return find_or_create(reg, lk);
}

aos_metric_counter_t *aos_metrics_counter(aos_metrics_t *registry, const char *name,
                                          const char *help, ...)
{
    lookup lk = {.name = name, .help = help, .kind = KIND_COUNTER};
    va_list ap;
    va_start(ap, help);
    struct series *s = lookup_series(registry, &lk, ap);
    va_end(ap);
    return (aos_metric_counter_t *)s;
}

aos_metric_gauge_t *aos_metrics_gauge(aos_metrics_t *registry, const char *name, const char *help,
                                      ...)
{
    lookup lk = {.name = name, .help = help, .kind = KIND_GAUGE};
    va_list ap;
    va_start(ap, help);
    struct series *s = lookup_series(registry, &lk, ap);
    va_end(ap);
    return (aos_metric_gauge_t *)s;
}

static bool valid_buckets(const double *b, size_t n)
{
    if (n > AOS_METRICS_MAX_BUCKETS)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(b[i]) || (i > 0 && b[i] <= b[i - 1]))
            return false;
    return true;
}

aos_metric_histogram_t *aos_metrics_histogram(aos_metrics_t *registry, const char *name,
                                              const char *help, const double *buckets,
                                              size_t bucket_count, ...)
{
    if (!buckets || bucket_count == 0) {
        buckets = AOS_METRICS_LATENCY_BUCKETS;
        bucket_count = AOS_METRICS_LATENCY_BUCKET_COUNT;
    }
    if (!valid_buckets(buckets, bucket_count)) {
        aos_log(AOS_LOG_WARN, "metric lookup failed", "metric", name ? name : "(null)", "reason",
                "invalid buckets", NULL);
        return NULL;
    }
    lookup lk = {.name = name,
                 .help = help,
                 .kind = KIND_HISTOGRAM,
                 .bounds = buckets,
                 .nbuckets = bucket_count};
    va_list ap;
    va_start(ap, bucket_count);
    struct series *s = lookup_series(registry, &lk, ap);
    va_end(ap);
    return (aos_metric_histogram_t *)s;
}

static uint64_t dbits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static double bitsd(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static void atomic_add_double(_Atomic uint64_t *slot, double delta)
{
    uint64_t old = atomic_load_explicit(slot, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(slot, &old, dbits(bitsd(old) + delta),
                                                  memory_order_relaxed, memory_order_relaxed)) {
    }
}

void aos_metric_counter_inc(aos_metric_counter_t *c)
{
    aos_metric_counter_add(c, 1);
}

void aos_metric_counter_add(aos_metric_counter_t *c, uint64_t n)
{
    if (c)
        atomic_fetch_add_explicit(&c->s.value, n, memory_order_relaxed);
}

uint64_t aos_metric_counter_value(const aos_metric_counter_t *c)
{
    return c ? atomic_load_explicit(&((aos_metric_counter_t *)c)->s.value, memory_order_relaxed)
             : 0;
}

void aos_metric_gauge_set(aos_metric_gauge_t *g, double v)
{
    if (g)
        atomic_store_explicit(&g->s.value, dbits(v), memory_order_relaxed);
}

void aos_metric_gauge_add(aos_metric_gauge_t *g, double delta)
{
    if (g)
        atomic_add_double(&g->s.value, delta);
}

void aos_metric_gauge_inc(aos_metric_gauge_t *g)
{
    aos_metric_gauge_add(g, 1);
}
void aos_metric_gauge_dec(aos_metric_gauge_t *g)
{
    aos_metric_gauge_add(g, -1);
}

double aos_metric_gauge_value(const aos_metric_gauge_t *g)
{
    return g ? bitsd(
                   atomic_load_explicit(&((aos_metric_gauge_t *)g)->s.value, memory_order_relaxed))
             : 0.0;
}

void aos_metric_histogram_observe(aos_metric_histogram_t *h, double v)
{
    if (!h || isnan(v))
        return;
    size_t i = 0;
    while (i < h->s.nbuckets && v > h->s.bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->s.buckets[i], 1, memory_order_relaxed);
    atomic_add_double(&h->s.sum_bits, v);
    atomic_fetch_add_explicit(&h->s.count, 1, memory_order_relaxed);
}

uint64_t aos_metric_histogram_count(const aos_metric_histogram_t *h)
{
    return h ? atomic_load_explicit(&((aos_metric_histogram_t *)h)->s.count, memory_order_relaxed)
             : 0;
}

/* ---- rendering ---- */

/* Shortest decimal that reads back as the same double; Prometheus spellings for specials. */
static void put_double(aos_buf_t *sb, double d)
{
    if (isnan(d)) {
        aos_buf_puts(sb, "NaN");
        return;
    }
    if (isinf(d)) {
        aos_buf_puts(sb, d > 0 ? "+Inf" : "-Inf");
        return;
    }
    char buf[40];
    if (d == floor(d) && fabs(d) < 1e15) {
        snprintf(buf, sizeof buf, "%.0f", d);
        aos_buf_puts(sb, strcmp(buf, "-0") == 0 ? "0" : buf);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    aos_buf_puts(sb, buf);
}

static void put_escaped(aos_buf_t *sb, const char *s, bool quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            aos_buf_puts(sb, "\\\\");
        else if (*s == '\n')
            aos_buf_puts(sb, "\\n");
        else if (quote && *s == '"')
            aos_buf_puts(sb, "\\\"");
        else
            aos_buf_putc(sb, *s);
    }
}

/* name{l1="v1",l2="v2"[,le="x"]} */
static void put_series_name(aos_buf_t *sb, const struct family *f, const char *suffix,
                            const struct series *s, const double *le)
{
    aos_buf_puts(sb, f->name);
    aos_buf_puts(sb, suffix);
    if (f->nlabels == 0 && !le)
        return;
    aos_buf_putc(sb, '{');
    for (size_t i = 0; i < f->nlabels; i++) {
        if (i)
            aos_buf_putc(sb, ',');
        aos_buf_puts(sb, f->labels[i]);
        aos_buf_puts(sb, "=\"");
        put_escaped(sb, s->values[i], true);
        aos_buf_putc(sb, '"');
    }
    if (le) {
        aos_buf_puts(sb, f->nlabels ? ",le=\"" : "le=\"");
        put_double(sb, *le);
        aos_buf_putc(sb, '"');
    }
    aos_buf_putc(sb, '}');
}

static void render_histogram(aos_buf_t *sb, const struct family *f, struct series *s)
{
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= f->nbuckets; i++) {
        cumulative += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
        double le = i < f->nbuckets ? f->bounds[i] : INFINITY;
        put_series_name(sb, f, "_bucket", s, &le);
        aos_buf_printf(sb, " %llu\n", (unsigned long long)cumulative);
    }
    put_series_name(sb, f, "_sum", s, NULL);
    aos_buf_putc(sb, ' ');
    put_double(sb, bitsd(atomic_load_explicit(&s->sum_bits, memory_order_relaxed)));
    aos_buf_putc(sb, '\n');
    /* _count equals the +Inf bucket so a scrape is self-consistent. */
    put_series_name(sb, f, "_count", s, NULL);
    aos_buf_printf(sb, " %llu\n", (unsigned long long)cumulative);
}

static void render_family(aos_buf_t *sb, const struct family *f)
{
    static const char *const TYPES[] = {"counter", "gauge", "histogram"};
    aos_buf_printf(sb, "# HELP %s ", f->name);
    put_escaped(sb, f->help, false);
    aos_buf_printf(sb, "\n# TYPE %s %s\n", f->name, TYPES[f->kind]);
    for (struct series *s = f->first; s; s = s->next) {
        if (f->kind == KIND_HISTOGRAM) {
            render_histogram(sb, f, s);
            continue;
        }
        put_series_name(sb, f, "", s, NULL);
        uint64_t v = atomic_load_explicit(&s->value, memory_order_relaxed);
        if (f->kind == KIND_COUNTER) {
            aos_buf_printf(sb, " %llu\n", (unsigned long long)v);
        } else {
            aos_buf_putc(sb, ' ');
            put_double(sb, bitsd(v));
            aos_buf_putc(sb, '\n');
        }
    }
}

static int cmp_family(const void *a, const void *b)
{
    const struct family *fa = *(const struct family *const *)a;
    const struct family *fb = *(const struct family *const *)b;
    return strcmp(fa->name, fb->name);
}

aos_result aos_metrics_render(aos_metrics_t *registry, char **out_text, size_t *out_len)
{
    if (!out_text)
        return AOS_ERR_INVALID;
    if (!registry)
        registry = &default_registry;
    aos_buf_t sb = {0};
    aos_result rc = AOS_OK;
    pthread_mutex_lock(&registry->lock);
    size_t n = 0;
    for (struct family *f = registry->families; f; f = f->next)
        n++;
    struct family **sorted = calloc(n ? n : 1, sizeof *sorted);
    if (!sorted) {
        rc = AOS_ERR_NOMEM;
    } else {
        size_t i = 0;
        for (struct family *f = registry->families; f; f = f->next)
            sorted[i++] = f;
        qsort(sorted, n, sizeof *sorted, cmp_family);
        aos_buf_append(&sb, "", 0);
        for (i = 0; i < n; i++)
            render_family(&sb, sorted[i]);
    }
    pthread_mutex_unlock(&registry->lock);
    free(sorted);
    if (rc != AOS_OK)
        return rc;
    char *text = aos_buf_take(&sb, out_len);
    if (!text)
        return AOS_ERR_NOMEM;
    *out_text = text;
    return AOS_OK;
}
