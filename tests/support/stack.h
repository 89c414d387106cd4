/* tests/support/stack.h: start the real binaries for integration tests (header-only):
 * aos-storage (SQLite, on a private storage queue) and aos-agent-runner instances, each as
 * a child process with its log in a temp dir; plus readiness polling of admin ports.
 * stack_services.h starts the AOS services of a test stack with this; stack_bus.h is the
 * test's own bus side. */
#ifndef RUNNER_TEST_STACK_H
#define RUNNER_TEST_STACK_H

#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STACK_STORAGE_QUEUE "aos.test.rtstorage"

typedef struct proc {
    pid_t pid;
    int admin_port;
    char log[256];
} proc_t;

static inline void stack_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A loopback port that was free a moment ago. */
static inline int stack_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

static inline size_t stack_discard(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return size * n;
}

static inline long stack_http_status(int port, const char *path)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    CURL *h = curl_easy_init();
    long status = 0;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, stack_discard);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 2000L);
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    return status;
}

/* Start bin with extra environment entries (NAME=value, NULL-terminated) and wait for its
 * /readyz. 0 on success; on failure the log is printed. */
static inline int stack_start(proc_t *p, const char *bin, const char *logdir, const char *name,
                              char *const extra_env[])
{
    memset(p, 0, sizeof *p);
    p->admin_port = stack_free_port();
    snprintf(p->log, sizeof p->log, "%s/%s.log", logdir, name);
    p->pid = fork();
    if (p->pid == 0) {
        int fd = open(p->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        char admin[64];
        snprintf(admin, sizeof admin, "AOS_ADMIN_ADDR=127.0.0.1:%d", p->admin_port);
        putenv(admin);
        /* the fixture's guest account is no bus credential: development mode (issue 9 #7) */
        putenv("AOS_DEV_MODE=1");
        for (size_t i = 0; extra_env && extra_env[i]; i++)
            putenv(extra_env[i]);
        execl(bin, bin, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 300; i++) { /* up to 30 s */
        if (stack_http_status(p->admin_port, "/readyz") == 200)
            return 0;
        int st;
        if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
            p->pid = 0;
            break;
        }
        stack_sleep_ms(100);
    }
    fprintf(stderr, "%s did not become ready; its log (%s):\n", name, p->log);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "tail -n 30 %s >&2", p->log);
    if (system(cmd) != 0)
        fprintf(stderr, "(no log)\n");
    return -1;
}

/* SIGTERM (graceful) or SIGKILL, then reap. Returns the exit status (-1 if killed). */
static inline int stack_stop(proc_t *p, int sig)
{
    if (p->pid <= 0)
        return 0;
    kill(p->pid, sig);
    int st = 0;
    waitpid(p->pid, &st, 0);
    p->pid = 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#endif
