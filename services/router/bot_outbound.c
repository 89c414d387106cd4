/* Durable, ordered delivery of normal-mode Bot Framework replies (docs/copilot-studio.md
 * "Delivery").
 *
 * When the router accepts a normal-mode activity it sends two messages before answering 202:
 * the reply context (what the reply activity needs of the request, "aos.bot.context") to the
 * durable queue aos.bot.outbound, then the turn to its agent with reply-to aos.bot.outbound.
 * The runner's turn result therefore lands in the same queue, after its context. Any router
 * replica consumes the queue (RabbitMQ: single active consumer, so one replica at a time and a
 * successor takes over when it dies; Service Bus: sessions by conversation); a context and
 * its result stay unsettled until every reply activity was POSTed, so a router that dies
 * mid-way loses nothing: the broker hands both to the next consumer.
 *
 * Order: the items of one conversation  (keyed by group-id) form a FIFO; only its head is
 * delivered, one activity at a time, each POST after the previous one succeeded. A head
 * whose result has not come yet holds the conversation (its later replies wait behind it).
 * A POST that fails with 408/429/5xx or a transport error is retried with exponential
 * backoff and jitter (honouring Retry-After) by the delivery thread; after
 * OUTBOUND_MAX_ATTEMPTS, or on another 4xx, the item is dead-lettered with the reason.
 *
 * Threads: bus callbacks (bus I/O thread) and POST completions (HTTP client thread) only
 * update the state under mu and signal; the delivery thread starts POSTs and backoffs.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aos/claim_check.h"
#include "aos/json.h"
#include "aos/log.h"
#include "aos/resilience.h"
#include "router_internal.h"

#define OUTBOUND_CONTEXT_TYPE "aos.bot.context"
/* Contexts wait unsettled for their results, so the credit must cover every normal-mode turn
 * in flight at once (plus their results); an item costs a few hundred bytes. */
#define OUTBOUND_MAX_INFLIGHT 4096
#define OUTBOUND_MAX_ATTEMPTS 12
#define OUTBOUND_CONTEXT_TTL_MS (60LL * 60 * 1000) /* a result later than this is not awaited */

typedef struct ob_item {
    struct ob_item *next;
    char message_id[96];
    aos_bus_delivery_t *ctx_d, *result_d;
    router_activity_t *act;
    bool verified;
    int64_t deadline_unix_ms;
    char *bodies[2];
    size_t count, sent;
    bool ready, busy;
    uint32_t attempts;
    int64_t not_before_ms; /* monotonic */
} ob_item_t;

typedef struct ob_conv {
    struct ob_conv *next;
    char key[160];
    ob_item_t *head, *tail;
} ob_conv_t;

struct bot_outbound {
    router_t *rt;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool running, stop;
    ob_conv_t *convs;
    aos_retry_policy_t policy;
};

/* ---- state (under mu) ---- */

static ob_conv_t *conv_get(struct bot_outbound *ob, const char *key, bool create)
{
    for (ob_conv_t *c = ob->convs; c; c = c->next)
        if (strcmp(c->key, key) == 0)
            return c;
    if (!create)
        return NULL;
    ob_conv_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    snprintf(c->key, sizeof c->key, "%s", key);
    c->next = ob->convs;
    ob->convs = c;
    return c;
}

static void item_free(ob_item_t *it)
{
    router_activity_free(it->act);
    free(it->bodies[0]);
    free(it->bodies[1]);
    free(it);
}

/* Settle the head of c (accept, or dead-letter with reason) and drop it. */
static void pop_head(struct bot_outbound *ob, ob_conv_t *c, const char *reject_reason,
                     const char *why)
{
    ob_item_t *it = c->head;
    c->head = it->next;
    if (!c->head)
        c->tail = NULL;
    aos_bus_delivery_t *ds[2] = {it->ctx_d, it->result_d};
    for (int i = 0; i < 2; i++) {
        if (!ds[i])
            continue;
        if (reject_reason)
            aos_bus_reject(ds[i], reject_reason, why);
        else
            aos_bus_accept(ds[i]);
    }
    item_free(it);
    if (!c->head) { /* unlink the empty conversation */
        for (ob_conv_t **p = &ob->convs; *p; p = &(*p)->next)
            if (*p == c) {
                *p = c->next;
                free(c);
                break;
            }
    }
}

static ob_item_t *find_item(struct bot_outbound *ob, const char *message_id, ob_conv_t **out_c)
{
    for (ob_conv_t *c = ob->convs; c; c = c->next)
        for (ob_item_t *it = c->head; it; it = it->next)
            if (strcmp(it->message_id, message_id) == 0) {
                *out_c = c;
                return it;
            }
    return NULL;
}

/* ---- the bus side ---- */

static aos_result parse_context(const aos_event_t *ev, ob_item_t *it, char *why, size_t whylen)
{
    json_object *o = NULL, *act = NULL;
    const char *mid = NULL;
    bool verified = false, has = false;
    int64_t deadline = 0;
    aos_result r = aos_json_parse_object(ev->data, ev->data_len, 0, 0, &o, why, whylen);
    if (r == AOS_OK)
        r = aos_json_get_string(o, "message_id", AOS_JSON_REQUIRED, &mid, why, whylen);
    if (r == AOS_OK)
        r = aos_json_get_bool(o, "verified", AOS_JSON_OPTIONAL, &verified, &has, why, whylen);
    if (r == AOS_OK)
        r = aos_json_get_int(o, "deadline_unix_ms", AOS_JSON_OPTIONAL, &deadline, &has, why,
                             whylen);
    if (r == AOS_OK)
        r = aos_json_get_object(o, "activity", AOS_JSON_REQUIRED, &act, why, whylen);
    char *aj = NULL;
    if (r == AOS_OK)
        r = aos_json_to_string(act, &aj, NULL);
    if (r == AOS_OK)
        r = router_activity_context_parse(aj, strlen(aj), &it->act, why, whylen);
    if (r == AOS_OK && !it->act->service_url)
        r = aos_fail(AOS_ERR_INVALID, why, whylen, "context without serviceUrl");
    if (r == AOS_OK) {
        snprintf(it->message_id, sizeof it->message_id, "%s", mid);
        it->verified = verified;
        it->deadline_unix_ms = deadline;
    }
    free(aj);
    json_object_put(o);
    return r;
}

static void on_context(struct bot_outbound *ob, aos_bus_delivery_t *d, const aos_event_t *ev)
{
    char why[200] = "";
    ob_item_t *it = calloc(1, sizeof *it);
    if (!it || !ev->group_id || parse_context(ev, it, why, sizeof why) != AOS_OK) {
        if (it)
            item_free(it);
        aos_log(AOS_LOG_WARN, "bot reply context unreadable", "detail", why, NULL);
        aos_bus_reject(d, "aos:poison", why[0] ? why : "no group-id");
        return;
    }
    it->ctx_d = d;
    pthread_mutex_lock(&ob->mu);
    ob_conv_t *c0 = NULL;
    if (find_item(ob, it->message_id, &c0)) { /* a duplicate of one we hold */
        pthread_mutex_unlock(&ob->mu);
        item_free(it);
        aos_bus_accept(d);
        return;
    }
    ob_conv_t *c = conv_get(ob, ev->group_id, true);
    if (!c) {
        pthread_mutex_unlock(&ob->mu);
        item_free(it);
        aos_bus_release(d);
        return;
    }
    if (c->tail)
        c->tail->next = it;
    else
        c->head = it;
    c->tail = it;
    pthread_cond_signal(&ob->cv);
    pthread_mutex_unlock(&ob->mu);
}

static void on_result(struct bot_outbound *ob, aos_bus_delivery_t *d, const aos_event_t *ev)
{
    char why[256] = "";
    router_turn_result_t *res = NULL;
    aos_result code = aos_bus_reply_result(ev, why, sizeof why);
    if (code == AOS_OK && (!ev->data || router_turn_result_parse(ev->data, ev->data_len, &res, why,
                                                                 sizeof why) != AOS_OK))
        code = AOS_ERR_PROTOCOL;
    pthread_mutex_lock(&ob->mu);
    ob_conv_t *c = NULL;
    ob_item_t *it = ev->correlation_id ? find_item(ob, ev->correlation_id, &c) : NULL;
    if (!it || it->result_d) {
        /* A redelivered turn answers again (from its ledger) after its reply went out, or its
         * context expired: nothing left to deliver. */
        pthread_mutex_unlock(&ob->mu);
        router_turn_result_free(res);
        aos_log(AOS_LOG_INFO, "bot turn result without a waiting reply context; dropped",
                "message_id", ev->correlation_id ? ev->correlation_id : "", NULL);
        aos_bus_accept(d);
        return;
    }
    it->result_d = d;
    if (code != AOS_OK) {
        aos_log(AOS_LOG_WARN, "bot turn failed; nothing to deliver", "message_id", it->message_id,
                "detail", why, NULL);
        it->ready = true; /* count 0: settled by the delivery thread */
    } else {
        const char *agent = res->agent ? res->agent : "";
        if (bot_reply_activities(ob->rt, it->act, agent, res->conversation_id, res, it->bodies,
                                 &it->count) != AOS_OK) {
            it->result_d = NULL;
            pthread_mutex_unlock(&ob->mu);
            router_turn_result_free(res);
            aos_bus_release(d);
            return;
        }
        it->ready = true;
    }
    pthread_cond_signal(&ob->cv);
    pthread_mutex_unlock(&ob->mu);
    router_turn_result_free(res);
}

typedef struct ob_resolve {
    struct bot_outbound *ob;
    aos_bus_delivery_t *d;
    char claim[300];
} ob_resolve_t;

/* Bus I/O thread: a large turn result is back from its claim (docs/bus.md "Message size"). */
static void on_result_resolved(void *ctx, aos_result r, aos_event_t *ev, const char *errmsg)
{
    ob_resolve_t *x = ctx;
    if (r == AOS_OK) {
        on_result(x->ob, x->d, ev);
        aos_storage_claim_delete_async(x->ob->rt->storage, x->claim);
    } else if (aos_result_is_transient(r)) {
        aos_bus_release(x->d);
    } else {
        aos_bus_reject(x->d, "aos:poison", errmsg ? errmsg : "turn result by reference unreadable");
    }
    aos_event_free(ev);
    free(x);
}

/* Bus I/O thread. */
static void on_outbound(void *ctx, aos_bus_delivery_t *d, const aos_event_t *ev)
{
    struct bot_outbound *ob = ctx;
    if (ev->type && strcmp(ev->type, OUTBOUND_CONTEXT_TYPE) == 0) {
        on_context(ob, d, ev);
        return;
    }
    const char *claim = aos_event_get_ext(ev, AOS_CLAIM_EXT);
    if (claim) {
        ob_resolve_t *x = ob->rt->storage ? calloc(1, sizeof *x) : NULL;
        aos_event_t *copy = NULL;
        if (x && aos_event_clone(ev, &copy) == AOS_OK) {
            *x = (ob_resolve_t){.ob = ob, .d = d};
            snprintf(x->claim, sizeof x->claim, "%s", claim);
            if (aos_storage_claim_resolve_async(ob->rt->storage, copy, AOS_CLAIM_MAX,
                                                on_result_resolved, x) == AOS_OK)
                return;
        }
        aos_event_free(copy);
        free(x);
        aos_bus_release(d); /* not yet: storage is not there */
        return;
    }
    on_result(ob, d, ev);
}

/* ---- delivery ---- */

typedef struct ob_post {
    struct bot_outbound *ob;
    char message_id[96];
} ob_post_t;

/* HTTP client thread. */
static void on_posted(void *ctx, aos_result result, int status, int64_t retry_after_ms)
{
    ob_post_t *p = ctx;
    struct bot_outbound *ob = p->ob;
    pthread_mutex_lock(&ob->mu);
    ob_conv_t *c = NULL;
    ob_item_t *it = find_item(ob, p->message_id, &c);
    if (it && it == c->head) {
        it->busy = false;
        bool ok = result == AOS_OK && status >= 200 && status < 300;
        bool retry = result == AOS_ERR_CANCELLED ? false
                     : result != AOS_OK          ? true
                                                 : aos_retry_http_status_retryable(status);
        if (ok) {
            it->sent++;
            it->attempts = 0;
            if (it->sent == it->count)
                pop_head(ob, c, NULL, NULL);
        } else if (result == AOS_ERR_CANCELLED) {
            /* shutting down: the deliveries are released by bot_outbound_free */
        } else if (retry && ++it->attempts < OUTBOUND_MAX_ATTEMPTS) {
            char st[16];
            snprintf(st, sizeof st, "%d", status);
            uint64_t delay = retry_after_ms >= 0
                                 ? (uint64_t)retry_after_ms
                                 : aos_retry_backoff_ms(&ob->policy, it->attempts, NULL, NULL);
            if (delay > ob->policy.max_server_delay_ms)
                delay = ob->policy.max_server_delay_ms;
            it->not_before_ms = aos_clock_monotonic_ms() + (int64_t)delay;
            aos_log(AOS_LOG_INFO, "bot reply will be retried", "message_id", it->message_id,
                    "status", st, "result", aos_result_str(result), NULL);
        } else {
            char st[16];
            snprintf(st, sizeof st, "%d", status);
            aos_log(AOS_LOG_WARN, "bot reply dead-lettered", "message_id", it->message_id, "status",
                    st, "result", aos_result_str(result), NULL);
            pop_head(ob, c, "aos:delivery-failed",
                     retry ? "serviceUrl kept failing" : "serviceUrl refused the reply");
        }
        pthread_cond_signal(&ob->cv);
    }
    pthread_mutex_unlock(&ob->mu);
    free(p);
}

/* Under mu: start what can start; returns the ms until the next backoff ends (or 1000). */
static int64_t pump(struct bot_outbound *ob)
{
    int64_t now = aos_clock_monotonic_ms(), wait = 1000;
    int64_t now_unix = aos_clock_realtime_ms();
    for (ob_conv_t *c = ob->convs, *next; c; c = next) {
        next = c->next; /* pop_head may free c */
        ob_item_t *it = c->head;
        if (!it || it->busy)
            continue;
        if (!it->ready) {
            if (it->deadline_unix_ms && now_unix > it->deadline_unix_ms) {
                aos_log(AOS_LOG_WARN, "bot turn result never came; reply context dropped",
                        "message_id", it->message_id, NULL);
                pop_head(ob, c, NULL, NULL);
            }
            continue;
        }
        if (it->sent == it->count) { /* a failed turn: nothing to send */
            pop_head(ob, c, NULL, NULL);
            continue;
        }
        if (it->not_before_ms > now) {
            if (it->not_before_ms - now < wait)
                wait = it->not_before_ms - now;
            continue;
        }
        char url[4096];
        ob_post_t *p = calloc(1, sizeof *p);
        if (!p || router_activity_reply_url(it->act, url, sizeof url) != AOS_OK) {
            free(p);
            pop_head(ob, c, "aos:poison", "no usable serviceUrl");
            continue;
        }
        p->ob = ob;
        snprintf(p->message_id, sizeof p->message_id, "%s", it->message_id);
        it->busy = true;
        /* The bot's token goes only to verified callers' https serviceUrls (svc_bot.c). */
        bool token = it->verified && (strncmp(url, "https://", 8) == 0 || router_dev_mode(ob->rt));
        char *body = strdup(it->bodies[it->sent]);
        pthread_mutex_unlock(&ob->mu);
        if (body)
            bot_post(ob->rt, url, body, token, on_posted, p);
        else
            on_posted(p, AOS_ERR_NOMEM, 0, -1);
        free(body);
        pthread_mutex_lock(&ob->mu);
        return 0; /* the list may have changed: look again */
    }
    return wait;
}

static void *delivery_thread(void *arg)
{
    struct bot_outbound *ob = arg;
    pthread_mutex_lock(&ob->mu);
    while (!ob->stop) {
        int64_t wait = pump(ob);
        if (wait <= 0 || ob->stop)
            continue;
        struct timespec ts = aos_clock_deadline(CLOCK_REALTIME, wait);
        pthread_cond_timedwait(&ob->cv, &ob->mu, &ts);
    }
    pthread_mutex_unlock(&ob->mu);
    return NULL;
}

aos_result bot_outbound_start(router_t *rt, char *errbuf, size_t errlen)
{
    struct bot_outbound *ob = calloc(1, sizeof *ob);
    if (!ob)
        return AOS_ERR_NOMEM;
    ob->rt = rt;
    pthread_mutex_init(&ob->mu, NULL);
    pthread_cond_init(&ob->cv, NULL);
    aos_retry_policy_default(&ob->policy);
    ob->policy.base_delay_ms = 500;
    ob->policy.max_delay_ms = 30000;
    rt->outbound = ob;
    aos_result r =
        aos_bus_subscribe(rt->bus, BOT_OUTBOUND_QUEUE, OUTBOUND_MAX_INFLIGHT, on_outbound, ob);
    if (r != AOS_OK)
        return aos_fail(r, errbuf, errlen, "bus: cannot consume %s", BOT_OUTBOUND_QUEUE);
    if (pthread_create(&ob->thread, NULL, delivery_thread, ob) != 0)
        return aos_fail(AOS_ERR_INTERNAL, errbuf, errlen, "cannot start the bot delivery thread");
    ob->running = true;
    return AOS_OK;
}

void bot_outbound_stop(router_t *rt)
{
    struct bot_outbound *ob = rt->outbound;
    if (!ob || !ob->running)
        return;
    pthread_mutex_lock(&ob->mu);
    ob->stop = true;
    pthread_cond_signal(&ob->cv);
    pthread_mutex_unlock(&ob->mu);
    pthread_join(ob->thread, NULL);
    ob->running = false;
}

void bot_outbound_free(router_t *rt)
{
    struct bot_outbound *ob = rt->outbound;
    if (!ob)
        return;
    bot_outbound_stop(rt);
    while (ob->convs) {
        ob_conv_t *c = ob->convs;
        ob->convs = c->next;
        while (c->head) {
            ob_item_t *it = c->head;
            c->head = it->next;
            /* given back, not failed: another router delivers them */
            if (it->ctx_d)
                aos_bus_release(it->ctx_d);
            if (it->result_d)
                aos_bus_release(it->result_d);
            item_free(it);
        }
        free(c);
    }
    pthread_cond_destroy(&ob->cv);
    pthread_mutex_destroy(&ob->mu);
    free(ob);
    rt->outbound = NULL;
}

/* ---- accepting an activity ---- */

typedef struct ob_dispatch {
    turn_t *t;
    char queue[128];
    aos_event_t *ev;
} ob_dispatch_t;

static void dispatch_fail(ob_dispatch_t *od, const char *detail)
{
    char msg[300];
    snprintf(msg, sizeof msg, "the turn could not be queued: %s", detail ? detail : "");
    if (od->t->req)
        router_respond_error(od->t->req, AOS_ERR_UNAVAILABLE, msg);
    od->t->req = NULL;
    aos_metric_counter_inc(od->t->rt->turns_failed);
    turn_free(od->t);
    aos_event_free(od->ev);
    free(od);
}

static void on_turn_sent(void *ctx, aos_result r, const char *detail)
{
    ob_dispatch_t *od = ctx;
    if (r != AOS_OK) {
        dispatch_fail(od, detail); /* the context expires unanswered */
        return;
    }
    aos_metric_counter_inc(od->t->rt->turns_async);
    aos_http_respond(od->t->req, 202, NULL, NULL, 0);
    od->t->req = NULL;
    turn_free(od->t);
    aos_event_free(od->ev);
    free(od);
}

static void on_context_sent(void *ctx, aos_result r, const char *detail)
{
    ob_dispatch_t *od = ctx;
    router_t *rt = od->t->rt;
    char addr[300];
    if (r != AOS_OK) {
        dispatch_fail(od, detail);
        return;
    }
    if (aos_bus_queue_address(rt->bus, BOT_OUTBOUND_QUEUE, addr, sizeof addr) != AOS_OK ||
        aos_event_set(&od->ev->reply_to, addr) != AOS_OK ||
        aos_bus_send(rt->bus, od->queue, od->ev, on_turn_sent, od) != AOS_OK)
        dispatch_fail(od, "bus unavailable");
}

static aos_result context_event(turn_t *t, aos_event_t **out)
{
    char *act = NULL;
    AOS_RETURN_IF_FAILED(router_activity_context_json(t->activity, &act));
    json_object *o = json_object_new_object(), *a = NULL;
    aos_result r =
        o ? aos_json_parse(act, strlen(act), strlen(act) + 1, 0, &a, NULL, 0) : AOS_ERR_NOMEM;
    free(act);
    if (r == AOS_OK)
        r = aos_json_add(o, "activity", a);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "message_id", t->message_id);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "conversation_id", t->conversation_id);
    if (r == AOS_OK)
        r = aos_json_add(o, "verified", json_object_new_boolean(t->caller_verified));
    if (r == AOS_OK)
        r = aos_json_add_int(o, "deadline_unix_ms",
                             aos_clock_realtime_ms() + OUTBOUND_CONTEXT_TTL_MS);
    char *data = NULL;
    if (r == AOS_OK)
        r = aos_json_to_string(o, &data, NULL);
    json_object_put(o);
    aos_event_t *ev = NULL;
    if (r == AOS_OK)
        r = aos_event_create(OUTBOUND_CONTEXT_TYPE, ROUTER_SOURCE, data, &ev);
    free(data);
    char id[120];
    snprintf(id, sizeof id, "%s:context", t->message_id);
    if (r == AOS_OK)
        r = aos_event_set(&ev->id, id);
    if (r == AOS_OK)
        r = aos_event_set(&ev->group_id, t->conversation_id);
    if (r != AOS_OK) {
        aos_event_free(ev);
        return r;
    }
    *out = ev;
    return AOS_OK;
}

void bot_outbound_dispatch(turn_t *t, const char *queue, aos_event_t *ev)
{
    ob_dispatch_t *od = calloc(1, sizeof *od);
    aos_event_t *ctx_ev = NULL;
    if (!od) {
        router_respond_error(t->req, AOS_ERR_NOMEM, NULL);
        turn_free(t);
        aos_event_free(ev);
        return;
    }
    od->t = t;
    od->ev = ev;
    snprintf(od->queue, sizeof od->queue, "%s", queue);
    if (context_event(t, &ctx_ev) != AOS_OK) {
        dispatch_fail(od, "out of memory");
        return;
    }
    aos_result r = aos_bus_send(t->rt->bus, BOT_OUTBOUND_QUEUE, ctx_ev, on_context_sent, od);
    aos_event_free(ctx_ev);
    if (r != AOS_OK)
        dispatch_fail(od, "bus unavailable");
}
