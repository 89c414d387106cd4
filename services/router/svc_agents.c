/* Agent health from heartbeats, GET /v1/agents and POST /v1/agents/{agent}/act. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/json.h"
#include "aos/log.h"
#include "aos/resilience.h"
#include "act_seed.h"
#include "bus_replies.h"
#include "router_internal.h"

/* ---- heartbeats (bus I/O thread) ---- */

static void record_heartbeat(router_t *rt, const router_heartbeat_msg_t *hb)
{
    const char *agent = hb->agent, *instance = hb->instance, *provider = hb->provider;
    int64_t now = aos_clock_monotonic_ms();
    pthread_mutex_lock(&rt->hb_mu);
    router_heartbeat_t *slot = NULL;
    for (size_t i = 0; i < rt->hb_count && !slot; i++)
        if (strcmp(rt->hb[i].agent, agent) == 0 && strcmp(rt->hb[i].instance, instance) == 0)
            slot = &rt->hb[i];
    if (!slot && rt->hb_count < ROUTER_MAX_INSTANCES)
        slot = &rt->hb[rt->hb_count++];
    for (size_t i = 0; i < rt->hb_count && !slot; i++) /* full: replace the oldest */
        if (!slot || rt->hb[i].seen_ms < slot->seen_ms)
            slot = &rt->hb[i];
    snprintf(slot->agent, sizeof slot->agent, "%s", agent);
    snprintf(slot->instance, sizeof slot->instance, "%s", instance);
    snprintf(slot->provider, sizeof slot->provider, "%s", provider ? provider : "");
    slot->inflight = hb->inflight;
    slot->capacity = hb->capacity;
    slot->seen_ms = now;
    slot->seen_unix_ms = aos_clock_realtime_ms();
    slot->sched_last_ms = hb->schedule_last_ms;
    slot->sched_next_ms = hb->schedule_next_ms;
    snprintf(slot->breaker, sizeof slot->breaker, "%s", hb->breaker);
    router_heartbeat_t copy = *slot;
    pthread_mutex_unlock(&rt->hb_mu);
    router_health_share(rt, &copy);
}

static void on_heartbeat(void *ctx, aos_bus_delivery_t *d, const aos_event_t *ev)
{
    router_t *rt = ctx;
    router_heartbeat_msg_t hb;
    if (ev->type && strcmp(ev->type, "aos.agent.heartbeat") == 0 && ev->data &&
        router_heartbeat_parse(ev->data, ev->data_len, &hb) == AOS_OK) {
        record_heartbeat(rt, &hb);
        aos_metric_counter_inc(rt->heartbeats_in);
    } else {
        aos_log(AOS_LOG_DEBUG, "ignored a malformed heartbeat", "id", ev->id, NULL);
    }
    aos_bus_accept(d); /* heartbeats are advisory: never redeliver or dead-letter them */
}

aos_result svc_heartbeats_subscribe(router_t *rt, char *errbuf, size_t errlen)
{
    char addr[1100], probe[256] = "";
    aos_bus_queue_address(rt->bus, "aos.events", probe, sizeof probe);
    bool rabbitmq = strncmp(probe, "/amq/queue/", 11) == 0;
    /* Service Bus: replicas share one subscription, so each sees only some heartbeats */
    rt->health_shared = router_health_shared_wanted(rt->cfg.health_shared, rabbitmq);
    if (rt->cfg.events_address)
        snprintf(addr, sizeof addr, "%s", rt->cfg.events_address);
    else if (rabbitmq) /* a /exchange/X/key source gets a private queue bound with that key */
        snprintf(addr, sizeof addr, "/exchange/aos.events/aos.agent.heartbeat");
    else
        snprintf(addr, sizeof addr, "aos.events/Subscriptions/aos-router");
    aos_result r = aos_bus_subscribe_address(rt->bus, addr, 64, on_heartbeat, rt);
    if (r != AOS_OK)
        return aos_fail(r, errbuf, errlen, "subscribe to heartbeats at %s failed", addr);
    return AOS_OK;
}

/* ---- GET /v1/agents ---- */

static json_object *str_array(char **items, size_t n)
{
    json_object *a = json_object_new_array();
    for (size_t i = 0; a && i < n; i++)
        json_object_array_add(a, json_object_new_string(items[i]));
    return a;
}

static json_object *health_json(router_t *rt, const char *agent)
{
    int64_t now = aos_clock_monotonic_ms(), last = -1, last_unix = 0;
    int64_t inflight = 0, capacity = 0, live = 0, sched_last = 0, sched_next = 0;
    int64_t stale = rt->agents->settings.heartbeat_stale_ms;
    int breaker = -1; /* worst over the live instances: 0 closed, 1 half_open, 2 open */
    static const char *const BREAKER[] = {"closed", "half_open", "open"};
    pthread_mutex_lock(&rt->hb_mu);
    for (size_t i = 0; i < rt->hb_count; i++) {
        const router_heartbeat_t *h = &rt->hb[i];
        if (strcmp(h->agent, agent) != 0)
            continue;
        if (last < 0 || h->seen_ms > last) {
            last = h->seen_ms;
            last_unix = h->seen_unix_ms;
        }
        if (now - h->seen_ms <= stale) {
            live++;
            inflight += h->inflight;
            capacity += h->capacity;
            /* replicas agree on the ticks; the newest view wins */
            if (h->sched_last_ms > sched_last)
                sched_last = h->sched_last_ms;
            if (h->sched_next_ms > sched_next)
                sched_next = h->sched_next_ms;
            for (int b = 2; b > breaker; b--)
                if (strcmp(h->breaker, BREAKER[b]) == 0)
                    breaker = b;
        }
    }
    pthread_mutex_unlock(&rt->hb_mu);
    json_object *o = json_object_new_object();
    aos_json_add_string(o, "status", live > 0 ? "healthy" : last >= 0 ? "stale" : "unknown");
    aos_json_add_int(o, "instances", live);
    aos_json_add_int(o, "inflight", inflight);
    aos_json_add_int(o, "capacity", capacity);
    if (last >= 0) {
        aos_json_add_int(o, "last_heartbeat_ms", last_unix);
        aos_json_add_int(o, "last_heartbeat_age_ms", now - last);
    }
    if (sched_last > 0)
        aos_json_add_int(o, "schedule_last_run_ms", sched_last);
    if (sched_next > 0)
        aos_json_add_int(o, "schedule_next_run_ms", sched_next);
    if (breaker >= 0)
        aos_json_add_string(o, "breaker", BREAKER[breaker]);
    return o;
}

static json_object *schedule_json(const aos_schedule_t *s)
{
    if (!s->enabled)
        return NULL;
    json_object *o = json_object_new_object();
    if (s->cron)
        aos_json_add_string(o, "cron", s->cron);
    else
        aos_json_add_int(o, "interval_s", s->interval_s);
    aos_json_add_string(o, "text", s->text);
    return o;
}

static json_object *agent_json(router_t *rt, const aos_agent_def_t *a)
{
    json_object *o = json_object_new_object();
    aos_json_add_string(o, "name", a->name);
    aos_json_add_string(o, "purpose", a->purpose);
    aos_json_add(o, "keywords", str_array(a->keywords, a->keyword_count));
    aos_json_add(o, "patterns", str_array(a->patterns, a->pattern_count));
    aos_json_add(o, "event_subscriptions",
                 str_array(a->event_subscriptions, a->event_subscription_count));
    json_object *prov = json_object_new_array();
    for (size_t i = 0; prov && i < a->endpoint_count; i++)
        json_object_array_add(prov,
                              json_object_new_string(aos_provider_name(a->endpoints[i].provider)));
    if (prov && a->endpoint_count == 0)
        json_object_array_add(prov, json_object_new_string("offline"));
    aos_json_add(o, "providers", prov);
    aos_json_add_string(o, "adapter", a->adapter);
    aos_json_add_int(o, "max_history", a->max_history);
    aos_json_add_bool(o, "default", strcmp(a->name, rt->agents->default_agent) == 0);
    if (a->schedule.enabled)
        aos_json_add(o, "schedule", schedule_json(&a->schedule));
    aos_json_add(o, "health", health_json(rt, a->name));
    return o;
}

void svc_get_agents(aos_http_request_t *req, void *ctx)
{
    router_t *rt = ctx;
    if (!router_authorize(rt, req))
        return;
    router_health_sync(rt);
    json_object *out = json_object_new_object(), *arr = json_object_new_array();
    for (size_t i = 0; arr && i < rt->agents->agent_count; i++)
        json_object_array_add(arr, agent_json(rt, &rt->agents->agents[i]));
    aos_json_add_string(out, "default_agent", rt->agents->default_agent);
    aos_json_add(out, "agents", arr);
    char *body = NULL;
    if (out && aos_json_to_string(out, &body, NULL) == AOS_OK)
        aos_http_respond_json(req, 200, body);
    else
        router_respond_error(req, AOS_ERR_NOMEM, NULL);
    free(body);
    json_object_put(out);
}

/* ---- POST /v1/agents/{agent}/act ---- */

/* The seed's PerpetualAgent.act actions and the ML pipeline operation each becomes. */
static const struct {
    const char *action, *type;
} ACTIONS[] = {
    {"trigger_lora_training", "aos.ml.train"},
    {"run_azure_ml_pipeline", "aos.ml.pipeline.run"},
    {"aml_infer", "aos.ml.infer"},
};

typedef struct act_ctx {
    router_t *rt;
    aos_http_request_t *req;
    char agent[AOS_AGENT_NAME_MAX + 1];
} act_ctx_t;

static void on_act_reply(void *ctx, aos_result r, const aos_event_t *reply)
{
    act_ctx_t *a = ctx;
    char msg[300];
    if (r == AOS_ERR_TIMEOUT || r == AOS_ERR_CLOSED || r == AOS_ERR_REJECTED) {
        snprintf(msg, sizeof msg,
                 "no ML pipeline answered within %u ms (is aos-ml-pipeline running and "
                 "consuming aos.ml?)",
                 a->rt->agents->settings.act_timeout_ms);
        router_respond_error(a->req, AOS_ERR_UNAVAILABLE, msg);
    } else if (r != AOS_OK) {
        router_respond_error(a->req, r, NULL);
    } else if ((r = aos_bus_reply_result(reply, msg, sizeof msg)) != AOS_OK) {
        router_respond_error(a->req, r, msg);
    } else {
        const char *data = reply->data && reply->data_len ? reply->data : "{}";
        json_object *v = NULL;
        if (aos_json_parse(data, strlen(data), 0, 0, &v, NULL, 0) == AOS_OK) {
            json_object *o = json_object_new_object();
            aos_json_add_string(o, "agent", a->agent);
            aos_json_add_string(o, "type", reply->type);
            aos_json_add(o, "result", v);
            char *txt = NULL;
            aos_json_to_string(o, &txt, NULL);
            aos_http_respond_json(a->req, 200, txt ? txt : "{}");
            free(txt);
            json_object_put(o);
        } else {
            router_respond_error(a->req, AOS_ERR_PROTOCOL, "the ML pipeline sent unreadable data");
        }
    }
    free(a);
}

static aos_result act_request(const aos_agents_config_t *agents, const aos_agent_def_t *agent,
                              json_object *body, const char **out_type, char **out_json, char *why,
                              size_t whylen)
{
    const char *action = NULL;
    json_object *params = NULL;
    AOS_RETURN_IF_FAILED(
        aos_json_get_string(body, "action", AOS_JSON_REQUIRED, &action, why, whylen));
    AOS_RETURN_IF_FAILED(
        aos_json_get_object(body, "params", AOS_JSON_OPTIONAL, &params, why, whylen));
    *out_type = NULL;
    for (size_t i = 0; i < sizeof ACTIONS / sizeof ACTIONS[0]; i++)
        if (strcmp(action, ACTIONS[i].action) == 0)
            *out_type = ACTIONS[i].type;
    json_object *data = NULL; /* the seed's parameters in AOS's own shape (act_seed.h) */
    AOS_RETURN_IF_FAILED(router_act_params(agents, agent, action, params, &data, why, whylen));
    json_object *tmp = NULL;
    if (!json_object_object_get_ex(data, "agent", &tmp))
        aos_json_add_string(data, "agent", agent->name);
    if (agent->adapter && !json_object_object_get_ex(data, "adapter", &tmp))
        aos_json_add_string(data, "adapter", agent->adapter);
    aos_json_add_string(data, "action", action);
    aos_result r = aos_json_to_string(data, out_json, NULL);
    json_object_put(data);
    return r;
}

void svc_post_act(aos_http_request_t *req, void *ctx)
{
    router_t *rt = ctx;
    if (!router_authorize(rt, req))
        return;
    const char *name = aos_http_request_param(req, "agent");
    const aos_agent_def_t *agent = aos_agents_find(rt->agents, name);
    char why[300];
    if (!agent) {
        snprintf(why, sizeof why, "unknown agent \"%.64s\"", name ? name : "");
        router_respond_error(req, AOS_ERR_NOT_FOUND, why);
        return;
    }
    size_t len = 0;
    const char *body = aos_http_request_body(req, &len);
    json_object *o = NULL;
    const char *type = NULL;
    char *data = NULL;
    aos_result r = aos_json_parse_object(body, len, len + 1, 0, &o, why, sizeof why);
    if (r == AOS_OK)
        r = act_request(rt->agents, agent, o, &type, &data, why, sizeof why);
    json_object_put(o);
    aos_event_t *ev = NULL;
    act_ctx_t *a = NULL;
    if (r == AOS_OK && (r = aos_event_create(type, ROUTER_SOURCE, data, &ev)) == AOS_OK &&
        !(a = calloc(1, sizeof *a)))
        r = AOS_ERR_NOMEM;
    free(data);
    if (r != AOS_OK) {
        aos_event_free(ev);
        router_respond_error(req, r, why);
        return;
    }
    a->rt = rt;
    a->req = req;
    snprintf(a->agent, sizeof a->agent, "%s", agent->name);
    aos_event_set(&ev->subject, agent->name);
    r = aos_bus_request(rt->bus, "aos.ml", ev, (int)rt->agents->settings.act_timeout_ms,
                        on_act_reply, a);
    aos_event_free(ev);
    if (r != AOS_OK) {
        free(a);
        router_respond_error(req, AOS_ERR_UNAVAILABLE, "bus unavailable: the action was not sent");
    }
}
