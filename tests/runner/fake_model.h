/* tests/runner/fake_model.h: start/stop the fake model server (tests/fakes/openai/server.js)
 * and read its counters. Header-only, for the runner tests. */
#ifndef RUNNER_TEST_FAKE_MODEL_H
#define RUNNER_TEST_FAKE_MODEL_H

#include <curl/curl.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct fake_model {
    pid_t pid;
    int port;
    char base[64]; /* http://127.0.0.1:PORT */
    char dir[64];
} fake_model_t;

static inline const char *fake_model_script(void)
{
    static char path[1024];
    const char *src = getenv("AOS_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/tests/fakes/openai/server.js",
             src ? src : AOS_SOURCE_DIR_DEFAULT);
    return path;
}

/* Start the fake (extra: an optional "--api-key" value). 0 on success. */
static inline int fake_model_start(fake_model_t *f, const char *api_key)
{
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/aos-fake-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    char port_file[128];
    snprintf(port_file, sizeof port_file, "%s/port", f->dir);
    f->pid = fork();
    if (f->pid == 0) {
        int devnull = open("/dev/null", 1);
        if (devnull >= 0)
            dup2(devnull, 1);
        if (api_key)
            execlp("node", "node", fake_model_script(), "--port-file", port_file, "--api-key",
                   api_key, (char *)NULL);
        else
            execlp("node", "node", fake_model_script(), "--port-file", port_file, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) { /* up to 10 s for node to start */
        FILE *pf = fopen(port_file, "r");
        if (pf) {
            int ok = fscanf(pf, "%d", &f->port) == 1;
            fclose(pf);
            if (ok && f->port > 0) {
                snprintf(f->base, sizeof f->base, "http://127.0.0.1:%d", f->port);
                return 0;
            }
        }
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "fake model server did not start (is node installed?)\n");
    return -1;
}

static inline void fake_model_stop(fake_model_t *f)
{
    if (f->pid > 0) {
        kill(f->pid, SIGTERM);
        waitpid(f->pid, NULL, 0);
        f->pid = 0;
    }
    char port_file[128];
    snprintf(port_file, sizeof port_file, "%s/port", f->dir);
    unlink(port_file);
    rmdir(f->dir);
}

static size_t fake_model_sink(char *p, size_t size, size_t n, void *ctx)
{
    FILE *out = ctx;
    return fwrite(p, size, n, out);
}

/* GET/POST an admin path; returns the parsed JSON body (caller puts it) or NULL. */
static inline json_object *fake_model_admin(const fake_model_t *f, const char *method,
                                            const char *path, const char *body)
{
    char url[256], *buf = NULL;
    size_t len = 0;
    snprintf(url, sizeof url, "%s%s", f->base, path);
    FILE *out = open_memstream(&buf, &len);
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (body)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, fake_model_sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_cleanup(h);
    fclose(out);
    json_object *o = rc == CURLE_OK ? json_tokener_parse(buf) : NULL;
    free(buf);
    return o;
}

/* Total model calls so far (-1 when the fake cannot be asked). */
static inline int fake_model_calls(const fake_model_t *f)
{
    json_object *o = fake_model_admin(f, "GET", "/_stats", NULL), *v;
    int n = o && json_object_object_get_ex(o, "calls", &v) ? json_object_get_int(v) : -1;
    json_object_put(o);
    return n;
}

/* Model calls being answered right now (-1 on error). */
static inline int fake_model_inflight(const fake_model_t *f)
{
    json_object *o = fake_model_admin(f, "GET", "/_stats", NULL), *v;
    int n = o && json_object_object_get_ex(o, "inflight", &v) ? json_object_get_int(v) : -1;
    json_object_put(o);
    return n;
}

/* Model calls of one caller (/caller:NAME prefix) being answered right now (-1 on error). */
static inline int fake_model_inflight_of(const fake_model_t *f, const char *caller)
{
    json_object *o = fake_model_admin(f, "GET", "/_stats", NULL), *by, *v;
    int n = -1;
    if (o && json_object_object_get_ex(o, "inflight_by_caller", &by))
        n = json_object_object_get_ex(by, caller, &v) ? json_object_get_int(v) : 0;
    json_object_put(o);
    return n;
}

/* Calls whose last user message was exactly text (-1 on error). */
static inline int fake_model_calls_for(const fake_model_t *f, const char *text)
{
    json_object *o = fake_model_admin(f, "GET", "/_stats", NULL), *by, *v;
    int n = -1;
    if (o && json_object_object_get_ex(o, "by_text", &by))
        n = json_object_object_get_ex(by, text, &v) ? json_object_get_int(v) : 0;
    json_object_put(o);
    return n;
}

/* Every model call that ended, oldest first (GET /_calls): an array of {"text", "caller",
 * "status", "outcome": "answered"|"aborted", "start_ms", "end_ms"} (caller puts it), or NULL.
 * "caller" is the NAME of an endpoint URL's /caller:NAME prefix (null without one). */
static inline json_object *fake_model_call_log(const fake_model_t *f)
{
    json_object *o = fake_model_admin(f, "GET", "/_calls", NULL);
    if (o && !json_object_is_type(o, json_type_array)) {
        json_object_put(o);
        o = NULL;
    }
    return o;
}

static inline void fake_model_reset(const fake_model_t *f)
{
    json_object_put(fake_model_admin(f, "POST", "/_reset", ""));
}

#endif
