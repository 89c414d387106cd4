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
#include "stack.h" /* stack_sleep_ms, stack_free_port */

extern char **environ;

/* What a suite returns when a binary it needs is not built or node is missing: a failure, not
 * a skip, so a broken build cannot pass as "skipped" (issue 13 item 4). */
#define E2E_MISSING 1

typedef struct e2e_proc {
    char name[64];
    pid_t pid;
    char log[512];
} e2e_proc_t;

static inline long long e2e_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
        stack_sleep_ms(20);
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

/* ---- the stack ---- */

typedef struct e2e_stack {
    char bin[512], dir[256], config[300], bus_url[512];
    char api[64], admin[64];
    e2e_proc_t storage, runner, router;
    int runner_generation;
} e2e_stack_t;

static inline int e2e_start_service(e2e_stack_t *s, e2e_proc_t *p, const char *name,
                                    const char *http_addr, const char *admin_addr,
                                    const char *const *extra)
{
    char env[9][700];
    snprintf(env[0], sizeof env[0], "AOS_BUS_URL=%s", s->bus_url);
    snprintf(env[1], sizeof env[1], "AOS_BUS_PROFILE=rabbitmq");
    snprintf(env[2], sizeof env[2], "AOS_CONFIG=%s", s->config);
    snprintf(env[3], sizeof env[3], "AOS_SQLITE_PATH=%s/aos.db", s->dir);
    const char *level = getenv("AOS_E2E_LOG_LEVEL"); /* a test may want debug lines */
    snprintf(env[4], sizeof env[4], "AOS_LOG_LEVEL=%s", level ? level : "info");
    snprintf(env[5], sizeof env[5], "AOS_HTTP_ADDR=%s", http_addr);
    snprintf(env[6], sizeof env[6], "AOS_ADMIN_ADDR=%s", admin_addr);
    snprintf(env[7], sizeof env[7], "AOS_INSTANCE_ID=e2e-%s-%d-%d", name, (int)getpid(),
             s->runner_generation);
    /* no bus credentials (the fixture's guest account): development mode (issue 9 item 7) */
    snprintf(env[8], sizeof env[8], "AOS_DEV_MODE=1");
    const char *e[24];
    size_t n = 0;
    for (size_t i = 0; i < 9; i++)
        e[n++] = env[i];
    for (size_t i = 0; extra && extra[i] && n < 23; i++)
        e[n++] = extra[i];
    e[n] = NULL;
    return e2e_start(p, s->bin, name, s->dir, e);
}

static inline int e2e_start_runner(e2e_stack_t *s, const char *const *extra)
{
    char h[64], a[64];
    snprintf(h, sizeof h, "127.0.0.1:%d", stack_free_port());
    snprintf(a, sizeof a, "127.0.0.1:%d", stack_free_port());
    s->runner_generation++;
    return e2e_start_service(s, &s->runner, "aos-agent-runner", h, a, extra);
}

/* True when the router, runner and storage binaries are built (and node is installed, when
 * need_node); otherwise says what is missing on stderr (the caller fails with E2E_MISSING). */
static inline bool e2e_have_stack(bool need_node)
{
    const char *bin = getenv("AOS_BIN_DIR");
    const char *need[] = {"aos-router", "aos-agent-runner", "aos-storage"};
    for (size_t i = 0; i < 3; i++) {
        char p[600];
        snprintf(p, sizeof p, "%s/%s", bin ? bin : "build/bin", need[i]);
        if (access(p, X_OK) != 0) {
            fprintf(stderr, "%s is not built: cannot run\n", p);
            return false;
        }
    }
    if (need_node && system("node --version >/dev/null 2>&1") != 0) {
        fprintf(stderr, "node is not installed: cannot run\n");
        return false;
    }
    return true;
}

/* Start the OpenAI-compatible fake model server (tests/fakes/openai/server.js, node) on a
 * free port; *out_pid its process, out_url its base URL. -1 when node or the script is
 * missing. */
static inline int e2e_fake_start(pid_t *out_pid, char *out_url, size_t urllen)
{
    const char *src = getenv("AOS_SOURCE_DIR");
    char script[600], port_file[300];
    snprintf(script, sizeof script, "%s/tests/fakes/openai/server.js", src ? src : ".");
    snprintf(port_file, sizeof port_file, "/tmp/aos-e2e-fake-%d.port", (int)getpid());
    unlink(port_file);
    char *argv[] = {"node", script, "--port", "0", "--port-file", port_file, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    int rc = posix_spawnp(out_pid, "node", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return -1;
    for (long long end = e2e_now_ms() + 15000; e2e_now_ms() < end; stack_sleep_ms(50)) {
        FILE *f = fopen(port_file, "r");
        int port = 0;
        if (f && fscanf(f, "%d", &port) == 1 && port > 0) {
            fclose(f);
            unlink(port_file);
            snprintf(out_url, urllen, "http://127.0.0.1:%d", port);
            return 0;
        }
        if (f)
            fclose(f);
    }
    return -1;
}

/* A control call to the fake model server (GET /_stats, GET /_last, POST /_script). */
static inline void e2e_fake_call(const char *fake_url, const char *method, const char *path,
                                 const char *body, e2e_resp_t *r)
{
    char url[300];
    snprintf(url, sizeof url, "%s%s", fake_url, path);
    const char *hdr[] = {"Content-Type: application/json", NULL};
    e2e_http(method, url, hdr, body, body ? strlen(body) : 0, 5000, r);
}

/* Poll GET url until it answers want (or timeout); false on timeout. */
static inline bool e2e_wait_status(const char *url, const char *const *hdr, long want,
                                   const char *body_needle, int timeout_ms)
{
    for (long long end = e2e_now_ms() + timeout_ms; e2e_now_ms() < end; stack_sleep_ms(200)) {
        e2e_resp_t r;
        int rc = e2e_http("GET", url, hdr, NULL, 0, 2000, &r);
        bool ok = rc == 0 && r.status == want && (!body_needle || strstr(r.body, body_needle));
        e2e_resp_free(&r);
        if (ok)
            return true;
    }
    return false;
}

/* Start storage, one runner and the router against bus_url (NULL: the rabbitmq fixture;
 * router_extra: more "K=V" for the router) and wait until the router is ready and every sample
 * agent reports healthy. */
static inline int e2e_stack_start(e2e_stack_t *s, const char *bus_url, const char *config,
                                  const char *const *router_extra, const char *auth_header)
{
    memset(s, 0, sizeof *s);
    const char *bin = getenv("AOS_BIN_DIR");
    snprintf(s->bin, sizeof s->bin, "%s", bin ? bin : "build/bin");
    snprintf(s->dir, sizeof s->dir, "/tmp/aos-e2e-XXXXXX");
    if (!mkdtemp(s->dir))
        return -1;
    if (bus_url)
        snprintf(s->bus_url, sizeof s->bus_url, "%s", bus_url);
    else if (aos_test_fixture_read("rabbitmq", "url", s->bus_url, sizeof s->bus_url) != 0)
        return -1;
    snprintf(s->config, sizeof s->config, "%s", config);
    char h[64], a[64];
    snprintf(h, sizeof h, "127.0.0.1:%d", stack_free_port());
    snprintf(a, sizeof a, "127.0.0.1:%d", stack_free_port());
    if (e2e_start_service(s, &s->storage, "aos-storage", h, a, NULL) != 0 ||
        e2e_start_runner(s, NULL) != 0)
        return -1;
    int hp = stack_free_port(), ap = stack_free_port();
    snprintf(s->api, sizeof s->api, "http://127.0.0.1:%d", hp);
    snprintf(s->admin, sizeof s->admin, "http://127.0.0.1:%d", ap);
    snprintf(h, sizeof h, "127.0.0.1:%d", hp);
    snprintf(a, sizeof a, "127.0.0.1:%d", ap);
    if (e2e_start_service(s, &s->router, "aos-router", h, a, router_extra) != 0)
        return -1;
    char url[128];
    snprintf(url, sizeof url, "%s/readyz", s->admin);
    if (!e2e_wait_status(url, NULL, 200, NULL, 60000))
        return -1;
    snprintf(url, sizeof url, "%s/v1/agents", s->api);
    const char *hdr[] = {auth_header, NULL};
    return e2e_wait_status(url, hdr, 200, "\"status\":\"healthy\"", 60000) ? 0 : -1;
}

static inline void e2e_stack_stop(e2e_stack_t *s)
{
    e2e_stop(&s->router, 15000);
    e2e_stop(&s->runner, 15000);
    e2e_stop(&s->storage, 15000);
}

/* Copy src (a config file) to dst with "settings" values replaced/added (NULL-terminated
 * key, integer pairs). */
#include <json-c/json.h>
static inline int e2e_write_config(const char *src, const char *dst, const char *const *keys,
                                   const int *values)
{
    json_object *root = json_object_from_file(src), *settings = NULL;
    if (!root)
        return -1;
    if (!json_object_object_get_ex(root, "settings", &settings)) {
        settings = json_object_new_object();
        json_object_object_add(root, "settings", settings);
    }
    for (size_t i = 0; keys[i]; i++)
        json_object_object_add(settings, keys[i], json_object_new_int(values[i]));
    int rc = json_object_to_file(dst, root) == 0 ? 0 : -1;
    json_object_put(root);
    return rc;
}

#endif
