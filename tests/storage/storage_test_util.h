/* Helpers for the aos-storage integration tests (header-only): a bus on the rabbitmq fixture,
 * running the aos-storage binary as a child process, and probing its admin port. */
#ifndef AOS_STORAGE_TEST_UTIL_H
#define AOS_STORAGE_TEST_UTIL_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "aos/bus.h"
#include "aos/storage_client.h"
#include "fixture.h"
#include "temp_db.h"

static inline void st_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static inline aos_bus_t *st_bus(const char *tag)
{
    char url[512], inst[128];
    if (aos_test_fixture_read("rabbitmq", "url", url, sizeof url) != 0)
        return NULL;
    snprintf(inst, sizeof inst, "st-%s-%d-%ld", tag, (int)getpid(), (long)(random() % 100000));
    aos_bus_config_t cfg = {.url = url,
                            .profile = AOS_BUS_PROFILE_RABBITMQ,
                            .instance_id = inst,
                            .reconnect_min_ms = 100,
                            .reconnect_max_ms = 1000};
    aos_bus_t *bus = NULL;
    char err[256];
    if (aos_bus_new(&cfg, &bus, err, sizeof err) != AOS_OK) {
        fprintf(stderr, "aos_bus_new: %s\n", err);
        return NULL;
    }
    if (aos_bus_start(bus) != AOS_OK || aos_bus_wait_connected(bus, 30000) != AOS_OK) {
        fprintf(stderr, "bus did not connect to %s\n", url);
        aos_bus_free(bus);
        return NULL;
    }
    return bus;
}

static inline aos_storage_client_t *st_client(aos_bus_t *bus, const char *queue, int timeout_ms)
{
    aos_storage_client_config_t cfg = {.bus = bus, .queue = queue, .timeout_ms = timeout_ms};
    aos_storage_client_t *c = NULL;
    char err[256];
    if (aos_storage_client_new(&cfg, &c, err, sizeof err) != AOS_OK)
        fprintf(stderr, "aos_storage_client_new: %s\n", err);
    return c;
}

/* Children still running, so a failed test can clean up after itself (st_kill_all). */
static pid_t st_children[16];

static inline void st_track(pid_t pid, bool add)
{
    for (int i = 0; i < 16; i++)
        if (add ? st_children[i] == 0 : st_children[i] == pid) {
            st_children[i] = add ? pid : 0;
            return;
        }
}

static inline void st_kill_all(void)
{
    for (int i = 0; i < 16; i++)
        if (st_children[i] > 0) {
            kill(st_children[i], SIGKILL);
            waitpid(st_children[i], NULL, 0);
            st_children[i] = 0;
        }
}

/* A running aos-storage child. */
typedef struct st_proc {
    pid_t pid;
    char log[300];
    int admin_port;
} st_proc_t;

/* Start build/bin/aos-storage on queue with the sqlite file db; stdout to a log file. Waits
 * until its admin port is known (from the "aos-storage started" log line). */
static inline int st_start(st_proc_t *p, const char *queue, const char *db, const char *busy)
{
    char url[512], bin[512];
    if (aos_test_fixture_read("rabbitmq", "url", url, sizeof url) != 0)
        return -1;
    const char *dir = getenv("AOS_BIN_DIR");
    snprintf(bin, sizeof bin, "%s/aos-storage", dir ? dir : "bin");
    static int seq;
    snprintf(p->log, sizeof p->log, "%.240s.%d.log", db, ++seq);
    p->admin_port = 0;
    FILE *trunc = fopen(p->log, "w"); /* only this run's lines */
    if (trunc)
        fclose(trunc);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        FILE *f = freopen(p->log, "a", stdout);
        (void)f;
        setenv("AOS_BUS_URL", url, 1);
        setenv("AOS_BUS_PROFILE", "rabbitmq", 1);
        setenv("AOS_DEV_MODE", "1", 1); /* guest bus account (issue 9 item 7) */
        setenv("AOS_STORAGE_QUEUE", queue, 1);
        setenv("AOS_STORAGE_BACKEND", "sqlite", 1);
        setenv("AOS_SQLITE_PATH", db, 1);
        setenv("AOS_ADMIN_ADDR", "127.0.0.1:0", 1);
        setenv("AOS_STORAGE_WORKERS", "2", 1);
        setenv("AOS_LOG_LEVEL", "info", 1);
        setenv("AOS_SHUTDOWN_GRACE", "5s", 1);
        if (busy)
            setenv("AOS_SQLITE_BUSY_TIMEOUT", busy, 1);
        unsetenv("AOS_CONFIG");
        execl(bin, bin, (char *)NULL);
        _exit(127);
    }
    p->pid = pid;
    st_track(pid, true);
    for (int i = 0; i < 600 && p->admin_port == 0; i++) {
        st_sleep_ms(50);
        FILE *f = fopen(p->log, "r");
        char line[4096];
        while (f && fgets(line, sizeof line, f)) {
            const char *k = strstr(line, "\"admin_port\":\"");
            if (strstr(line, "aos-storage started") && k)
                p->admin_port = atoi(k + strlen("\"admin_port\":\""));
        }
        if (f)
            fclose(f);
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            fprintf(stderr, "aos-storage exited early (status %d); log %s\n", status, p->log);
            st_track(pid, false);
            p->pid = 0;
            return -1;
        }
    }
    return p->admin_port ? 0 : -1;
}

/* HTTP GET on the admin port; returns the status code (-1 on failure); body into buf. */
static inline int st_http_get(int port, const char *path, char *buf, size_t buflen)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    size_t got = 0;
    ssize_t k;
    while (got + 1 < buflen && (k = read(fd, buf + got, buflen - 1 - got)) > 0)
        got += (size_t)k;
    buf[got] = '\0';
    close(fd);
    int status = -1;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    return status;
}

/* Poll /readyz until it answers want (200/503), up to timeout_ms. */
static inline int st_wait_ready(int port, int want, int timeout_ms)
{
    char buf[4096];
    for (int waited = 0; waited < timeout_ms; waited += 100) {
        if (st_http_get(port, "/readyz", buf, sizeof buf) == want)
            return 0;
        st_sleep_ms(100);
    }
    return -1;
}

/* Send sig and reap; returns the exit status as waitpid gives it. */
static inline int st_kill(st_proc_t *p, int sig)
{
    int status = -1;
    if (p->pid > 0) {
        kill(p->pid, sig);
        waitpid(p->pid, &status, 0);
        st_track(p->pid, false);
        p->pid = 0;
    }
    return status;
}

#endif
