/* tests/bench/bench_alloc.h: allocations and thread CPU for the in-process micro benchmarks
 * (bench_bus_msg, bench_storage_turn). Include it in exactly one file of a bench binary: it
 * replaces malloc, calloc and realloc of the whole process (the libraries' too) by counting
 * ones over glibc's own (__libc_*). */
#ifndef AOS_BENCH_ALLOC_H
#define AOS_BENCH_ALLOC_H

#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

static atomic_long g_bench_allocs;
void *__libc_malloc(size_t n);
void *__libc_calloc(size_t a, size_t b);
void *__libc_realloc(void *p, size_t n);

void *malloc(size_t n)
{
    atomic_fetch_add_explicit(&g_bench_allocs, 1, memory_order_relaxed);
    return __libc_malloc(n);
}

void *calloc(size_t a, size_t b)
{
    atomic_fetch_add_explicit(&g_bench_allocs, 1, memory_order_relaxed);
    return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
    atomic_fetch_add_explicit(&g_bench_allocs, 1, memory_order_relaxed);
    return __libc_realloc(p, n);
}

/* Allocations so far in the process. */
static inline long bench_allocs(void)
{
    return atomic_load(&g_bench_allocs);
}

/* CPU time of the calling thread, in ns. */
static inline double bench_thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

#endif
