/* The dead letters of the agents' queues for the operator console (docs/http-api.md "Dead
 * letters"): list, replay one, delete one — what `aosctl dlq` does, over HTTP.
 *
 * Reading a dead-letter queue means receiving from it: each request runs on its own short
 * thread with its own bus connection (so the router's subscriptions never change), receives
 * what is there (until DL_QUIET_MS pass without a new one), acts, and gives back every dead
 * letter it did not act on (released: it stays in the queue); the collecting is aos/bus_dlq.h,
 * shared with aosctl dlq. One such request runs at a time; router_stop waits for the running
 * ones (svc_dead_letters_drain).
 * Replay = send to the agent's queue, confirmed by the broker, and only then accept the dead
 * letter (a crash in between duplicates — runners dedupe by event id — never loses). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aos/bus_dlq.h"
#include "aos/json.h"
#include "aos/log.h"
#include "aos/resilience.h"
#include "console_query.h"
#include "router_internal.h"

#define DL_QUIET_MS 1200
#define DL_CONNECT_MS 10000
#define DL_REPLAY_MS 10000
#define DL_LIST_DEFAULT 100
#define DL_LIST_MAX 256  /* = the credit a dead-letter collector grants */
#define DL_SCAN_MAX 256  /* dead letters looked at to find one by id */
#define DL_DATA_MAX 4096 /* bytes of each dead letter's data shown */

typedef enum { DL_LIST, DL_REPLAY, DL_DELETE } dl_op;

static pthread_mutex_t dl_mu = PTHREAD_MUTEX_INITIALIZER; /* one dead-letter request at a time */

typedef struct dl_job {
    router_t *rt;
    aos_http_request_t *req;
    dl_op op;
    char queue[128];
    char id[256];
    size_t max;
    aos_bus_dlq_t *dlq; /* what was collected (aos/bus_dlq.h) */
} dl_job_t;

static void add_opt_string(json_object *o, const char *key, const char *v)
{
    if (v)
        aos_json_add_string(o, key, v);
    else
        json_object_object_add(o, key, NULL);
}

static json_object *dead_letter_json(const aos_bus_delivery_t *d, int64_t now_ms)
{
    const aos_event_t *ev = aos_bus_delivery_event(d);
    json_object *o = json_object_new_object();
    add_opt_string(o, "id", ev->id);
    add_opt_string(o, "type", ev->type);
    add_opt_string(o, "source", ev->source);
    add_opt_string(o, "subject", ev->subject);
    add_opt_string(o, "conversation_id", ev->group_id);
    add_opt_string(o, "time", ev->time);
    int64_t t = 0;
    if (ev->time && router_time_parse(ev->time, &t) == AOS_OK && now_ms >= t)
        aos_json_add_int(o, "age_ms", now_ms - t);
    else
        json_object_object_add(o, "age_ms", NULL);
    add_opt_string(o, "reason", aos_bus_delivery_dead_letter_reason(d));
    add_opt_string(o, "description", aos_bus_delivery_dead_letter_description(d));
    aos_json_add_int(o, "deliveries", aos_bus_delivery_count(d));
    /* the data as text, cut at DL_DATA_MAX on a UTF-8 boundary; binary data is not shown */
    size_t n = ev->data_len < DL_DATA_MAX ? ev->data_len : DL_DATA_MAX;
    while (n > 0 && n < ev->data_len && ((unsigned char)ev->data[n] & 0xC0) == 0x80)
        n--;
    if (ev->data && aos_utf8_valid(ev->data, n) && !memchr(ev->data, '\0', n))
        json_object_object_add(o, "data", json_object_new_string_len(ev->data, (int)n));
    else
        json_object_object_add(o, "data", NULL);
    aos_json_add_int(o, "data_bytes", (int64_t)ev->data_len);
    aos_json_add_bool(o, "data_truncated", n < ev->data_len);
    return o;
}

static void respond_obj(aos_http_request_t *req, json_object *o)
{
    char *body = NULL;
    if (aos_json_to_string(o, &body, NULL) == AOS_OK)
        aos_http_respond_json(req, 200, body);
    else
        router_respond_error(req, AOS_ERR_NOMEM, NULL);
    free(body);
    json_object_put(o);
}

/* What the request asked for, on what was collected; answers j->req. */
static void act(dl_job_t *j, aos_bus_t *bus)
{
    if (j->op == DL_LIST) {
        json_object *o = json_object_new_object(), *arr = json_object_new_array();
        int64_t now = aos_clock_realtime_ms();
        size_t n = aos_bus_dlq_count(j->dlq);
        for (size_t i = 0; i < n; i++)
            json_object_array_add(arr, dead_letter_json(aos_bus_dlq_get(j->dlq, i), now));
        aos_json_add_string(o, "queue", j->queue);
        aos_json_add(o, "dead_letters", arr);
        aos_json_add_bool(o, "more", n >= j->max);
        respond_obj(j->req, o);
        return;
    }
    size_t hit = aos_bus_dlq_find(j->dlq, j->id);
    if (hit == aos_bus_dlq_count(j->dlq)) {
        char msg[500];
        snprintf(msg, sizeof msg, "no dead letter \"%s\" in the dead letters of %s", j->id,
                 j->queue);
        router_respond_error(j->req, AOS_ERR_NOT_FOUND, msg);
        return;
    }
    aos_bus_delivery_t *d = aos_bus_dlq_take(j->dlq, hit);
    char err[300] = "";
    const aos_event_t *ev = aos_bus_delivery_event(d);
    if (j->op == DL_REPLAY) {
        aos_result r = aos_bus_replay_sync(bus, j->queue, ev, DL_REPLAY_MS, err, sizeof err);
        if (r != AOS_OK) {
            aos_bus_release(d);
            char msg[500];
            snprintf(msg, sizeof msg,
                     "the replay to %s was not confirmed (%s%s%s); the dead "
                     "letter stays",
                     j->queue, aos_result_str(r), err[0] ? ": " : "", err);
            router_respond_error(j->req, AOS_ERR_UNAVAILABLE, msg);
            return;
        }
    }
    aos_log(AOS_LOG_INFO, j->op == DL_REPLAY ? "dead letter replayed" : "dead letter deleted",
            "queue", j->queue, "event_id", j->id, NULL);
    aos_bus_accept(d);
    json_object *o = json_object_new_object();
    aos_json_add_string(o, "queue", j->queue);
    aos_json_add_string(o, j->op == DL_REPLAY ? "replayed" : "deleted", j->id);
    respond_obj(j->req, o);
}

static void *dl_thread(void *arg)
{
    dl_job_t *j = arg;
    router_t *rt = j->rt;
    pthread_mutex_lock(&dl_mu);
    char instance[200], err[300] = "";
    snprintf(instance, sizeof instance, "router-dlq-%s-%d", rt->cfg.common.instance_id,
             (int)getpid());
    aos_bus_config_t bc;
    aos_bus_config_from_common(&rt->cfg.common, instance, &bc);
    aos_bus_t *bus = NULL;
    /* requests that waited for the one before them while the router began to stop */
    aos_result r = atomic_load(&rt->stopping) ? AOS_ERR_CLOSED : AOS_OK;
    if (r != AOS_OK)
        snprintf(err, sizeof err, "the router is stopping");
    else
        r = aos_bus_new(&bc, &bus, err, sizeof err);
    if (r == AOS_OK)
        r = aos_bus_start(bus);
    if (r == AOS_OK && (r = aos_bus_wait_connected(bus, DL_CONNECT_MS)) != AOS_OK)
        snprintf(err, sizeof err, "not connected within %d ms", DL_CONNECT_MS);
    /* until max arrived, the one wanted arrived, nothing new for DL_QUIET_MS, or the router
     * stops */
    if (r == AOS_OK)
        r = aos_bus_dlq_collect(j->dlq, bus, j->queue, DL_QUIET_MS, j->op == DL_LIST ? NULL : j->id,
                                &rt->stopping);
    if (r == AOS_OK) {
        act(j, bus);
    } else {
        char msg[500];
        snprintf(msg, sizeof msg, "bus: cannot read the dead letters of %s (%s%s%s)", j->queue,
                 aos_result_str(r), err[0] ? ": " : "", err);
        router_respond_error(j->req, AOS_ERR_UNAVAILABLE, msg);
    }
    aos_bus_dlq_release(j->dlq);
    aos_bus_free(bus);
    pthread_mutex_unlock(&dl_mu);
    aos_bus_dlq_free(j->dlq); /* after the bus: late dead letters reach it until then */
    free(j);
    atomic_fetch_sub(&rt->dl_running, 1);
    return NULL;
}

/* The queues whose dead letters the console may see: every configured agent's. */
static bool known_queue(const router_t *rt, const char *queue)
{
    for (size_t i = 0; i < rt->agents->agent_count; i++) {
        char q[128];
        router_agent_queue(rt->agents->agents[i].name, q, sizeof q);
        if (strcmp(q, queue) == 0)
            return true;
    }
    return false;
}

static void start_job(aos_http_request_t *req, router_t *rt, dl_op op)
{
    if (!router_authorize(rt, req))
        return;
    const char *queue = aos_http_request_param(req, "queue");
    const char *id = aos_http_request_param(req, "id");
    size_t max = op == DL_LIST ? DL_LIST_DEFAULT : DL_SCAN_MAX;
    if (!queue || !known_queue(rt, queue)) {
        char msg[300];
        snprintf(msg, sizeof msg, "no agent queue \"%.128s\" (GET /v1/deadletters lists them)",
                 queue ? queue : "");
        router_respond_error(req, AOS_ERR_NOT_FOUND, msg);
        return;
    }
    if (op != DL_LIST && !router_dead_letter_id_valid(id)) {
        router_respond_error(req, AOS_ERR_INVALID,
                             "dead letter id must be 1-255 printable characters without spaces");
        return;
    }
    const char *limit = aos_http_request_query(req, "limit");
    if (op == DL_LIST && limit) {
        size_t n = strspn(limit, "0123456789");
        long v = 0;
        if (n > 0 && n <= 4 && limit[n] == '\0')
            v = strtol(limit, NULL, 10);
        if (v < 1 || v > DL_LIST_MAX) {
            router_respond_error(req, AOS_ERR_INVALID, "query 'limit' must be 1-256");
            return;
        }
        max = (size_t)v;
    }
    if (atomic_load(&rt->stopping)) {
        router_respond_error(req, AOS_ERR_UNAVAILABLE, "shutting down");
        return;
    }
    dl_job_t *j = calloc(1, sizeof *j);
    if (!j || aos_bus_dlq_new(max, &j->dlq) != AOS_OK) {
        free(j);
        router_respond_error(req, AOS_ERR_NOMEM, NULL);
        return;
    }
    j->rt = rt;
    j->req = req;
    j->op = op;
    j->max = max;
    snprintf(j->queue, sizeof j->queue, "%s", queue);
    snprintf(j->id, sizeof j->id, "%s", id ? id : "");
    atomic_fetch_add(&rt->dl_running, 1);
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&th, &attr, dl_thread, j);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        atomic_fetch_sub(&rt->dl_running, 1);
        aos_bus_dlq_free(j->dlq);
        free(j);
        router_respond_error(req, AOS_ERR_UNAVAILABLE, "could not start the dead-letter reader");
    }
}

void svc_list_dead_letter_queues(aos_http_request_t *req, void *ctx)
{
    router_t *rt = ctx;
    if (!router_authorize(rt, req))
        return;
    json_object *o = json_object_new_object(), *arr = json_object_new_array();
    for (size_t i = 0; i < rt->agents->agent_count; i++) {
        json_object *q = json_object_new_object();
        char name[128];
        router_agent_queue(rt->agents->agents[i].name, name, sizeof name);
        aos_json_add_string(q, "queue", name);
        aos_json_add_string(q, "agent", rt->agents->agents[i].name);
        json_object_array_add(arr, q);
    }
    aos_json_add(o, "queues", arr);
    respond_obj(req, o);
}

void svc_list_dead_letters(aos_http_request_t *req, void *ctx)
{
    start_job(req, ctx, DL_LIST);
}

void svc_replay_dead_letter(aos_http_request_t *req, void *ctx)
{
    start_job(req, ctx, DL_REPLAY);
}

void svc_delete_dead_letter(aos_http_request_t *req, void *ctx)
{
    start_job(req, ctx, DL_DELETE);
}

void svc_dead_letters_drain(router_t *rt, int timeout_ms)
{
    for (int waited = 0; atomic_load(&rt->dl_running) > 0 && waited < timeout_ms; waited += 20)
        usleep(20 * 1000);
}
