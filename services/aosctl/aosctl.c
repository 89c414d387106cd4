#include "aosctl.h"

#include "aos/log.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

size_t aosctl_curl_body(char *p, size_t size, size_t n, void *ctx)
{
    aosctl_buf_t *b = ctx;
    size_t add = size * n;
    char *nb = realloc(b->data, b->len + add + 1);
    if (!nb)
        return 0;
    memcpy(nb + b->len, p, add);
    b->data = nb;
    b->len += add;
    b->data[b->len] = '\0';
    return add;
}

/* One HTTP exchange with the router; *out_status is the HTTP status, out_body the body. */
static aos_result http_call(const aosctl_opts_t *o, const char *method, const char *path,
                            const char *body, long *out_status, aosctl_buf_t *out_body)
{
    CURL *c = curl_easy_init();
    if (!c)
        return AOS_ERR_NOMEM;
    char url[2048];
    snprintf(url, sizeof url, "%s%s", o->url, path);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = curl_slist_append(h, "Accept: application/json");
    if (o->api_key && *o->api_key) {
        char auth[1024];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", o->api_key);
        h = curl_slist_append(h, auth);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, aosctl_curl_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out_body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    CURLcode cc = curl_easy_perform(c);
    aos_result r = AOS_OK;
    if (cc != CURLE_OK) {
        fprintf(o->err, "aosctl: cannot reach the router at %s: %s\n", o->url,
                curl_easy_strerror(cc));
        r = AOS_ERR_UNAVAILABLE;
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, out_status);
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return r;
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v;
    if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* The string at key, or def when absent or not a string. */
static const char *jstr_or(json_object *o, const char *key, const char *def)
{
    const char *v = jstr(o, key);
    return v ? v : def;
}

static json_object *jget(json_object *o, const char *key)
{
    json_object *v;
    return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* Print an error body {"error":{"code","message"}} readably; returns exit code 1. */
static int report_http_error(const aosctl_opts_t *o, long status, const aosctl_buf_t *b)
{
    json_object *j = b->data ? json_tokener_parse(b->data) : NULL;
    json_object *e = jget(j, "error");
    if (e)
        fprintf(o->err, "aosctl: %ld %s: %s\n", status, jstr_or(e, "code", "error"),
                jstr_or(e, "message", ""));
    else
        fprintf(o->err, "aosctl: HTTP %ld: %s\n", status, b->data ? b->data : "");
    json_object_put(j);
    return 1;
}

/* GET/POST, check status, parse JSON. Returns exit code; *out_json set on 0. */
static int request_json(const aosctl_opts_t *o, const char *method, const char *path,
                        const char *body, json_object **out_json)
{
    aosctl_buf_t b = {0};
    long status = 0;
    if (http_call(o, method, path, body, &status, &b) != AOS_OK) {
        free(b.data);
        return 1;
    }
    if (status < 200 || status >= 300) {
        int rc = report_http_error(o, status, &b);
        free(b.data);
        return rc;
    }
    *out_json = b.data ? json_tokener_parse(b.data) : NULL;
    if (!*out_json) {
        fprintf(o->err, "aosctl: the router answered with invalid JSON\n");
        free(b.data);
        return 1;
    }
    if (o->json)
        fprintf(o->out, "%s\n", json_object_to_json_string_ext(*out_json, JSON_C_TO_STRING_PRETTY));
    free(b.data);
    return 0;
}

static int usage(FILE *err)
{
    fprintf(err,
            "usage: aosctl [--url URL] [--api-key KEY] [--json] COMMAND\n"
            "  send [--agent A] [--conversation C] [--user U] TEXT...   ask an agent\n"
            "  history CONVERSATION_ID                                  show a conversation\n"
            "  agents                                                   agents and their health\n"
            "  dlq list QUEUE [--max N]                                 show dead letters\n"
            "  dlq replay QUEUE [--max N]                               send them back to QUEUE\n"
            "  blob put CONTAINER NAME [FILE|-] [--type T]              store a blob (streamed)\n"
            "  blob get CONTAINER NAME [FILE]                           fetch a blob\n"
            "  blob ls CONTAINER [PREFIX]                               list blobs\n"
            "  topology render rabbitmq|servicebus|keda [--config F] [--bus B]\n"
            "                                                           the agents' bus topology\n"
            "  topology apply [--config F] [--management-url URL]      create it on RabbitMQ\n");
    return 2;
}

static int cmd_send(const aosctl_opts_t *o, int argc, char **argv)
{
    json_object *req = json_object_new_object();
    char text[16384] = "";
    for (int i = 0; i < argc; i++) {
        const char *key = NULL;
        if (strcmp(argv[i], "--agent") == 0)
            key = "agent";
        else if (strcmp(argv[i], "--conversation") == 0)
            key = "conversation_id";
        else if (strcmp(argv[i], "--user") == 0)
            key = "user";
        if (key) {
            if (++i >= argc) {
                json_object_put(req);
                return usage(o->err);
            }
            json_object_object_add(req, key, json_object_new_string(argv[i]));
        } else {
            size_t n = strlen(text);
            snprintf(text + n, sizeof text - n, "%s%s", n ? " " : "", argv[i]);
        }
    }
    if (!text[0]) {
        json_object_put(req);
        fprintf(o->err, "aosctl send: no text given\n");
        return 2;
    }
    json_object_object_add(req, "text", json_object_new_string(text));
    json_object *resp = NULL;
    int rc = request_json(o, "POST", "/v1/messages", json_object_to_json_string(req), &resp);
    json_object_put(req);
    if (rc == 0 && !o->json) {
        json_object *routing = jget(resp, "routing");
        fprintf(o->out, "[%s] %s\n", jstr_or(resp, "agent", "?"), jstr_or(resp, "reply", ""));
        fprintf(o->out, "  conversation %s", jstr_or(resp, "conversation_id", "?"));
        if (jstr(routing, "reason"))
            fprintf(o->out, ", routed by %s", jstr(routing, "reason"));
        fprintf(o->out, "\n");
    }
    json_object_put(resp);
    return rc;
}

static bool safe_id(const char *s)
{
    if (!*s || strlen(s) > 200)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.'))
            return false;
    return true;
}

static int cmd_history(const aosctl_opts_t *o, int argc, char **argv)
{
    if (argc != 1)
        return usage(o->err);
    if (!safe_id(argv[0])) {
        fprintf(o->err, "aosctl history: '%s' is not a conversation id\n", argv[0]);
        return 2;
    }
    char path[512];
    snprintf(path, sizeof path, "/v1/conversations/%s", argv[0]);
    json_object *resp = NULL;
    int rc = request_json(o, "GET", path, NULL, &resp);
    if (rc == 0 && !o->json) {
        json_object *conv = jget(resp, "conversation") ? jget(resp, "conversation") : resp;
        fprintf(o->out, "conversation %s (agent %s)\n", argv[0], jstr_or(conv, "agent", "?"));
        json_object *msgs = jget(resp, "messages");
        size_t n =
            msgs && json_object_is_type(msgs, json_type_array) ? json_object_array_length(msgs) : 0;
        for (size_t i = 0; i < n; i++) {
            json_object *m = json_object_array_get_idx(msgs, i);
            const char *text = jstr_or(m, "text", jstr(m, "content"));
            const char *role = jstr_or(m, "role", "?");
            if (strcmp(role, "assistant") == 0 && jstr(m, "agent"))
                fprintf(o->out, "  %s (%s): %s\n", role, jstr(m, "agent"), text ? text : "");
            else
                fprintf(o->out, "  %s: %s\n", role, text ? text : "");
        }
    }
    json_object_put(resp);
    return rc;
}

/* A Unix-ms time as "YYYY-MM-DD HH:MM:SSZ" (UTC), or "-". */
static const char *utc_ms(json_object *o, const char *key, char out[32])
{
    json_object *v = jget(o, key);
    int64_t ms = v && json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : 0;
    if (ms <= 0)
        return "-";
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%d %H:%M:%SZ", &tm);
    return out;
}

static int cmd_agents(const aosctl_opts_t *o, int argc, char **argv)
{
    (void)argv;
    if (argc != 0)
        return usage(o->err);
    json_object *resp = NULL;
    int rc = request_json(o, "GET", "/v1/agents", NULL, &resp);
    if (rc == 0 && !o->json) {
        json_object *agents = jget(resp, "agents");
        size_t n = agents && json_object_is_type(agents, json_type_array)
                       ? json_object_array_length(agents)
                       : 0;
        fprintf(o->out, "%-16s %-10s %-21s %-21s %s\n", "AGENT", "HEALTH", "LAST RUN", "NEXT RUN",
                "PURPOSE");
        for (size_t i = 0; i < n; i++) {
            json_object *a = json_object_array_get_idx(agents, i);
            json_object *h = jget(a, "health");
            const char *status = jstr_or(h, "status", jstr(a, "health"));
            const char *purpose = jstr_or(a, "purpose", "");
            char last[32], next[32];
            fprintf(o->out, "%-16s %-10s %-21s %-21s %.60s%s\n", jstr_or(a, "name", "?"),
                    status ? status : "unknown", utc_ms(h, "schedule_last_run_ms", last),
                    utc_ms(h, "schedule_next_run_ms", next), purpose,
                    strlen(purpose) > 60 ? "…" : "");
        }
    }
    json_object_put(resp);
    return rc;
}

int aosctl_main(int argc, char **argv, FILE *out, FILE *err)
{
    aosctl_opts_t o = {
        .url = getenv("AOS_ROUTER_URL"), .api_key = getenv("AOS_API_KEY"), .out = out, .err = err};
    if (!o.url || !*o.url)
        o.url = "http://127.0.0.1:8080";
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--json") == 0)
            o.json = true;
        else if (strcmp(argv[i], "--url") == 0 && i + 1 < argc)
            o.url = argv[++i];
        else if (strcmp(argv[i], "--api-key") == 0 && i + 1 < argc)
            o.api_key = argv[++i];
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return usage(err) - 2;
        else
            return usage(err);
    }
    if (i >= argc)
        return usage(err);
    const char *cmd = argv[i++];
    int rest = argc - i;
    char **args = argv + i;
    /* options may also follow the command */
    for (int k = 0; k < rest; k++)
        if (strcmp(args[k], "--json") == 0) {
            o.json = true;
            memmove(&args[k], &args[k + 1], (size_t)(rest - k - 1) * sizeof *args);
            rest--;
            k--;
        }
    /* Library logs go to stderr (stdout carries results, e.g. blob contents), warnings up. */
    aos_log_init("aosctl", AOS_LOG_WARN);
    aos_log_set_fd(2);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc;
    if (strcmp(cmd, "send") == 0)
        rc = cmd_send(&o, rest, args);
    else if (strcmp(cmd, "history") == 0)
        rc = cmd_history(&o, rest, args);
    else if (strcmp(cmd, "agents") == 0)
        rc = cmd_agents(&o, rest, args);
    else if (strcmp(cmd, "dlq") == 0)
        rc = aosctl_dlq(&o, rest, args);
    else if (strcmp(cmd, "blob") == 0)
        rc = aosctl_blob(&o, rest, args);
    else if (strcmp(cmd, "ml") == 0)
        rc = aosctl_ml(&o, rest, args);
    else if (strcmp(cmd, "topology") == 0)
        rc = aosctl_topology(&o, rest, args);
    else
        rc = usage(err);
    curl_global_cleanup();
    return rc;
}
