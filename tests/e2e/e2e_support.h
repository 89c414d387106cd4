/* tests/e2e/e2e_support.h: the real AOS stack for end-to-end tests (header-only).
 *
 * Starts aos-storage, aos-agent-runner and aos-router from $AOS_BIN_DIR as child processes
 * against the ctest "rabbitmq" fixture, each with its own log file under a private temp dir,
 * and talks HTTP to the router with libcurl. Nothing here fakes an AOS component.
 */
#ifndef AOS_E2E_SUPPORT_H
#define AOS_E2E_SUPPORT_H

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"

extern char **environ;

#define E2E_SKIP 77

typedef struct e2e_proc {
    char name[64];
    pid_t pid;
    char log[512];
} e2e_proc_t;

static inline void e2e_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static inline long long e2e_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A free TCP port on 127.0.0.1 (bound and released; good enough for a test). */
static inline int e2e_free_port(void)
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

/* Start bin_dir/name with extra "K=V" entries (NULL-terminated) added to the environment;
 * stdout+stderr go to dir/name.log. */
static inline int e2e_start(e2e_proc_t *p, const char *bin_dir, const char *name, const char *dir,
                            const char *const *extra_env)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", bin_dir, name);
    snprintf(p->name, sizeof p->name, "%.63s", name);
    snprintf(p->log, sizeof p->log, "%.400s/%.63s.log", dir, name);
    size_t n = 0, m = 0;
    while (environ[n])
        n++;
    while (extra_env && extra_env[m])
        m++;
    char **env = calloc(n + m + 1, sizeof *env);
    for (size_t i = 0; i < m; i++)
        env[i] = (char *)extra_env[i];
    for (size_t i = 0; i < n; i++)
        env[m + i] = environ[i]; /* earlier entries win in getenv */
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, p->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    char *argv[] = {path, NULL};
    int rc = posix_spawn(&p->pid, path, &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    free(env);
    if (rc != 0) {
        fprintf(stderr, "spawn %s: %s\n", path, strerror(rc));
        p->pid = 0;
        return -1;
    }
    return 0;
}

/* SIGTERM, wait up to grace_ms, then SIGKILL. Returns the exit status (or -1). */
static inline int e2e_stop(e2e_proc_t *p, int grace_ms)
{
    if (p->pid <= 0)
        return -1;
    kill(p->pid, SIGTERM);
    int status = 0;
    long long deadline = e2e_now_ms() + grace_ms;
    while (e2e_now_ms() < deadline) {
        pid_t w = waitpid(p->pid, &status, WNOHANG);
        if (w == p->pid) {
            p->pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        e2e_sleep_ms(20);
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, &status, 0);
    p->pid = 0;
    return -1;
}

static inline bool e2e_alive(e2e_proc_t *p)
{
    int status;
    return p->pid > 0 && waitpid(p->pid, &status, WNOHANG) == 0;
}

static inline void e2e_dump_log(const e2e_proc_t *p, int last_lines)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "echo '--- %s (last %d lines)'; tail -n %d '%s' 1>&2", p->name,
             last_lines, last_lines, p->log);
    if (system(cmd) != 0)
        fprintf(stderr, "(no log for %s)\n", p->name);
}

/* ---- HTTP ---- */

typedef struct e2e_resp {
    long status;
    char *body;
    size_t len;
    char headers[8192];
    size_t hlen;
} e2e_resp_t;

static inline size_t e2e_body_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
    e2e_resp_t *r = ud;
    size_t n = size * nmemb;
    char *b = realloc(r->body, r->len + n + 1);
    if (!b)
        return 0;
    memcpy(b + r->len, ptr, n);
    r->body = b;
    r->len += n;
    r->body[r->len] = '\0';
    return n;
}

static inline size_t e2e_header_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
    e2e_resp_t *r = ud;
    size_t n = size * nmemb;
    if (r->hlen + n < sizeof r->headers) {
        memcpy(r->headers + r->hlen, ptr, n);
        r->hlen += n;
        r->headers[r->hlen] = '\0';
    }
    return n;
}

/* One request. headers: NULL-terminated "Name: value" list. Returns 0 when a response came. */
static inline int e2e_http(const char *method, const char *url, const char *const *headers,
                           const char *body, size_t body_len, long timeout_ms, e2e_resp_t *out)
{
    memset(out, 0, sizeof *out);
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    for (size_t i = 0; headers && headers[i]; i++)
        h = curl_slist_append(h, headers[i]);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body_len);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, e2e_body_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, e2e_header_cb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (!out->body)
        out->body = calloc(1, 1);
    return rc == CURLE_OK ? 0 : -1;
}

static inline void e2e_resp_free(e2e_resp_t *r)
{
    free(r->body);
    r->body = NULL;
}

/* Value of a response header (case-insensitive name) copied into out; false if absent. */
static inline bool e2e_header(const e2e_resp_t *r, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    for (const char *p = r->headers; p && *p;) {
        const char *eol = strstr(p, "\r\n");
        if (!eol)
            break;
        if ((size_t)(eol - p) > nl + 1 && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            snprintf(out, outlen, "%.*s", (int)(eol - v), v);
            return true;
        }
        p = eol + 2;
    }
    return false;
}

#endif
