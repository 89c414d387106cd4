/* tests/support/stack_services.h: the AOS services of a test stack (header-only), started
 * with stack.h: where the stack lives (the fixture's RabbitMQ, a private temp dir, a run tag,
 * its storage queue), the children's environment, aos-storage and the other services, the
 * stack's config file; plain HTTP calls and /metrics readings of the services. */
#ifndef AOS_TEST_STACK_SERVICES_H
#define AOS_TEST_STACK_SERVICES_H

#include <stdarg.h>

#include "fixture.h"
#include "stack.h"

/* One "NAME=value" entry of a child's environment (malloc'd; NULL when out of memory). */
static inline char *stack_env(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline char *stack_env(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

/* stack_start of $AOS_BIN_DIR/bin_name, its log dir/name.log. Takes env (NULL-terminated
 * stack_env entries, NULL for none): its entries are freed here. */
static inline int stack_start_bin(proc_t *p, const char *bin_name, const char *dir,
                                  const char *name, char **env)
{
    char bin[512];
    snprintf(bin, sizeof bin, "%s/%s", getenv("AOS_BIN_DIR"), bin_name);
    int rc = stack_start(p, bin, dir, name, env);
    for (size_t i = 0; env && env[i]; i++)
        free(env[i]);
    return rc;
}

/* Where a test's stack lives (every field borrowed from the test). */
typedef struct stack_where {
    const char *url;           /* the fixture's RabbitMQ */
    const char *dir;           /* private temp dir: logs, config files, the SQLite database */
    const char *tag;           /* unique per run: instance ids end in "-<tag>" */
    const char *storage_queue; /* the stack's aos-storage queue */
} stack_where_t;

/* The fixture's RabbitMQ URL, a private temp dir made from tmpl ("/tmp/aos-x-XXXXXX") and a
 * tag unique per run. 0, or -1 (with a message on stderr when the fixture is missing). */
static inline int stack_prepare(char *url, size_t urllen, char *dir, size_t dirlen,
                                const char *tmpl, char *tag, size_t taglen)
{
    if (aos_test_fixture_read("rabbitmq", "url", url, urllen) != 0)
        return -1;
    snprintf(dir, dirlen, "%s", tmpl);
    if (!mkdtemp(dir))
        return -1;
    snprintf(tag, taglen, "%d%ld", getpid(), (long)time(NULL) % 100000);
    return 0;
}

/* Write the stack's config file <dir>/aos.json from fmt; its path into path. 0 or -1. */
static inline int stack_write_config(char *path, size_t pathlen, const char *dir, const char *fmt,
                                     ...) __attribute__((format(printf, 4, 5)));
static inline int stack_write_config(char *path, size_t pathlen, const char *dir, const char *fmt,
                                     ...)
{
    snprintf(path, pathlen, "%s/aos.json", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    int n = vfprintf(f, fmt, ap);
    va_end(ap);
    return fclose(f) == 0 && n >= 0 ? 0 : -1;
}

/* An AOS service of the stack ($AOS_BIN_DIR/bin_name, log dir/name.log) on the fixture's
 * RabbitMQ and w's storage queue, AOS_INSTANCE_ID=<instance>-<tag>, plus extra (NULL-terminated
 * stack_env entries, taken; NULL for none; at most 24). */
static inline int stack_start_service(proc_t *p, const stack_where_t *w, const char *bin_name,
                                      const char *name, const char *instance, char **extra)
{
    char *env[32] = {stack_env("AOS_BUS_URL=%s", w->url), stack_env("AOS_BUS_PROFILE=rabbitmq"),
                     stack_env("AOS_STORAGE_QUEUE=%s", w->storage_queue),
                     stack_env("AOS_INSTANCE_ID=%s-%s", instance, w->tag)};
    size_t n = 4;
    for (size_t i = 0; extra && extra[i]; i++)
        if (n < 31)
            env[n++] = extra[i];
        else
            free(extra[i]);
    env[n] = NULL;
    return stack_start_bin(p, bin_name, w->dir, name, env);
}

/* aos-storage of the stack on SQLite <dir>/aos.db, plus extra as stack_start_service. */
static inline int stack_start_storage(proc_t *p, const stack_where_t *w, const char *instance,
                                      char **extra)
{
    char *env[26] = {stack_env("AOS_SQLITE_PATH=%s/aos.db", w->dir)};
    size_t n = 1;
    for (size_t i = 0; extra && extra[i]; i++)
        if (n < 25)
            env[n++] = extra[i];
        else
            free(extra[i]);
    env[n] = NULL;
    return stack_start_service(p, w, "aos-storage", "storage", instance, env);
}

static inline size_t stack_sink(char *p, size_t size, size_t n, void *ctx)
{
    return fwrite(p, size, n, ctx);
}

/* One HTTP call: method (NULL: GET, or POST when body is set) to url with headers
 * (NULL-terminated, may be NULL) and body (may be NULL). Returns the status (0 when no answer
 * came within timeout_ms); *out (may be NULL) the answer's body, NUL-terminated (free it). */
static inline long stack_http(const char *method, const char *url, const char *const *headers,
                              const char *body, long timeout_ms, char **out)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct curl_slist *h = NULL;
    for (size_t i = 0; headers && headers[i]; i++)
        h = curl_slist_append(h, headers[i]);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (method)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, stack_sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    fclose(f);
    if (out)
        *out = buf;
    else
        free(buf);
    return status;
}

/* The value of series (e.g. aos_runner_agent_credit{agent="x"}) on the /metrics of the admin
 * port into *out (-1 when absent). Returns the HTTP status (0: no answer). */
static inline long stack_metric(int port, const char *series, long *out)
{
    char url[128], *text = NULL;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", port);
    long status = stack_http(NULL, url, NULL, NULL, 10000L, &text);
    size_t sl = strlen(series);
    *out = -1;
    for (const char *line = text; status == 200 && line && *line;) {
        if (strncmp(line, series, sl) == 0 && line[sl] == ' ') {
            *out = strtol(line + sl + 1, NULL, 10);
            break;
        }
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    free(text);
    return status;
}

#endif
