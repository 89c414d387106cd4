/* The runner's event loop: a locked closure queue woken by an eventfd, plus a timer heap
 * that only the loop thread touches (see loop.h). */
#include "loop.h"

#include "aos/trace.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

typedef struct item {
    runner_loop_fn fn;
    void *arg;
    struct item *next;
} item_t;

typedef struct timer {
    uint64_t due_ms;
    uint64_t seq; /* FIFO among timers due at the same ms */
    runner_loop_fn fn;
    void *arg;
} timer_t_;

struct runner_loop {
    int efd;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    item_t *head, *tail; /* guarded by mu */
    bool stopping;       /* guarded by mu */
    /* loop thread only */
    timer_t_ *heap;
    size_t heap_len, heap_cap;
    uint64_t timer_seq;
};

uint64_t runner_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static bool timer_less(const timer_t_ *a, const timer_t_ *b)
{
    return a->due_ms < b->due_ms || (a->due_ms == b->due_ms && a->seq < b->seq);
}

static void heap_swap(timer_t_ *h, size_t a, size_t b)
{
    timer_t_ t = h[a];
    h[a] = h[b];
    h[b] = t;
}

static void heap_pop(runner_loop_t *l, timer_t_ *out)
{
    timer_t_ *h = l->heap;
    *out = h[0];
    h[0] = h[--l->heap_len];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1, m = i;
        if (c < l->heap_len && timer_less(&h[c], &h[m]))
            m = c;
        if (c + 1 < l->heap_len && timer_less(&h[c + 1], &h[m]))
            m = c + 1;
        if (m == i)
            break;
        heap_swap(h, i, m);
        i = m;
    }
}

aos_result runner_loop_timer(runner_loop_t *l, uint32_t delay_ms, runner_loop_fn fn, void *arg)
{
    if (!l || !fn)
        return AOS_ERR_INVALID;
    if (l->heap_len == l->heap_cap) {
        size_t cap = l->heap_cap ? l->heap_cap * 2 : 64;
        timer_t_ *h = realloc(l->heap, cap * sizeof *h);
        if (!h)
            return AOS_ERR_NOMEM;
        l->heap = h;
        l->heap_cap = cap;
    }
    size_t i = l->heap_len++;
    l->heap[i] = (timer_t_){runner_now_ms() + delay_ms, l->timer_seq++, fn, arg};
    while (i > 0 && timer_less(&l->heap[i], &l->heap[(i - 1) / 2])) {
        heap_swap(l->heap, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    return AOS_OK;
}

aos_result runner_loop_new(runner_loop_t **out_loop)
{
    if (!out_loop)
        return AOS_ERR_INVALID;
    runner_loop_t *l = calloc(1, sizeof *l);
    if (!l)
        return AOS_ERR_NOMEM;
    l->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (l->efd < 0) {
        free(l);
        return AOS_ERR_IO;
    }
    pthread_mutex_init(&l->mu, NULL);
    *out_loop = l;
    return AOS_OK;
}

aos_result runner_loop_post(runner_loop_t *l, runner_loop_fn fn, void *arg)
{
    if (!l || !fn)
        return AOS_ERR_INVALID;
    item_t *it = malloc(sizeof *it);
    if (!it)
        return AOS_ERR_NOMEM;
    *it = (item_t){fn, arg, NULL};
    pthread_mutex_lock(&l->mu);
    if (l->stopping) {
        pthread_mutex_unlock(&l->mu);
        free(it);
        return AOS_ERR_CLOSED;
    }
    if (l->tail)
        l->tail->next = it;
    else
        l->head = it;
    l->tail = it;
    pthread_mutex_unlock(&l->mu);
    uint64_t one = 1;
    ssize_t w = write(l->efd, &one, sizeof one);
    (void)w; /* EAGAIN means the counter is already non-zero: the loop wakes anyway */
    return AOS_OK;
}

static item_t *take_all(runner_loop_t *l, bool *out_stopping)
{
    pthread_mutex_lock(&l->mu);
    item_t *h = l->head;
    l->head = l->tail = NULL;
    *out_stopping = l->stopping;
    pthread_mutex_unlock(&l->mu);
    return h;
}

static void run_due_timers(runner_loop_t *l)
{
    uint64_t now = runner_now_ms();
    while (l->heap_len && l->heap[0].due_ms <= now) {
        timer_t_ t;
        heap_pop(l, &t);
        aos_trace_set(NULL); /* a closure sets its own trace (e.g. a turn's steps) */
        t.fn(t.arg, false);
    }
}

static void *loop_main(void *arg)
{
    runner_loop_t *l = arg;
    for (;;) {
        int timeout = -1;
        if (l->heap_len) {
            uint64_t now = runner_now_ms();
            timeout = l->heap[0].due_ms <= now ? 0 : (int)(l->heap[0].due_ms - now);
        }
        struct pollfd pfd = {.fd = l->efd, .events = POLLIN};
        int n = poll(&pfd, 1, timeout);
        if (n < 0 && errno != EINTR)
            break;
        uint64_t cnt;
        ssize_t r = read(l->efd, &cnt, sizeof cnt);
        (void)r;
        bool stopping;
        item_t *it = take_all(l, &stopping);
        while (it) {
            item_t *next = it->next;
            aos_trace_set(NULL);
            it->fn(it->arg, false);
            free(it);
            it = next;
        }
        run_due_timers(l);
        if (stopping) {
            /* drain what was posted while running the last batch, then leave */
            it = take_all(l, &stopping);
            while (it) {
                item_t *next = it->next;
                aos_trace_set(NULL);
                it->fn(it->arg, false);
                free(it);
                it = next;
            }
            break;
        }
    }
    return NULL;
}

static __thread const runner_loop_t *tls_loop;

static void *loop_thread(void *arg)
{
    tls_loop = arg;
    return loop_main(arg);
}

aos_result runner_loop_start(runner_loop_t *l)
{
    if (!l || l->started)
        return AOS_ERR_INVALID;
    if (pthread_create(&l->thread, NULL, loop_thread, l) != 0)
        return AOS_ERR_IO;
    l->started = true;
    return AOS_OK;
}

bool runner_loop_on_thread(const runner_loop_t *l)
{
    return l && tls_loop == l;
}

void runner_loop_stop(runner_loop_t *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    bool was = l->stopping;
    l->stopping = true;
    pthread_mutex_unlock(&l->mu);
    if (!was) {
        uint64_t one = 1;
        ssize_t w = write(l->efd, &one, sizeof one);
        (void)w;
    }
    if (l->started) {
        pthread_join(l->thread, NULL);
        l->started = false;
    }
}

void runner_loop_free(runner_loop_t *l)
{
    if (!l)
        return;
    runner_loop_stop(l);
    bool stopping;
    item_t *it = take_all(l, &stopping);
    while (it) {
        item_t *next = it->next;
        it->fn(it->arg, true);
        free(it);
        it = next;
    }
    while (l->heap_len) {
        timer_t_ t;
        heap_pop(l, &t);
        t.fn(t.arg, true);
    }
    free(l->heap);
    close(l->efd);
    pthread_mutex_destroy(&l->mu);
    free(l);
}
