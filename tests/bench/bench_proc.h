/* Benchmarks: what a process costs, read from /proc (Linux).
 *   bench_cpu_ms(pid)  user + system CPU time so far, in ms (-1: no such process)
 *   bench_rss_kb(pid)  resident set size now, in KiB (-1: no such process)
 * Figures are CPU per operation (a difference of bench_cpu_ms over the operations done), which
 * a shared machine distorts much less than wall time. */
#ifndef AOS_BENCH_PROC_H
#define AOS_BENCH_PROC_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static inline double bench_cpu_ms(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* the command name may hold spaces and parentheses: fields start after the last ')' */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long long utime = 0, stime = 0;
    /* fields 3 (state) .. 13 skipped, 14 utime, 15 stime */
    if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) !=
        2)
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    return (double)(utime + stime) * 1000.0 / (double)(hz > 0 ? hz : 100);
}

static inline long bench_rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

/* The private broker of the benchmark (tests/bench/broker.sh exports its pid), or 0. */
static inline pid_t bench_broker_pid(void)
{
    const char *s = getenv("AOS_BENCH_BROKER_PID");
    return s && *s ? (pid_t)atoi(s) : 0;
}

#endif
