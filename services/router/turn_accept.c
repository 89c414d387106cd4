/* aos.storage.turn.accept for every kind of turn (svc_turns.c, svc_events.c), and the
 * stickiness the router remembers (docs/turn-order.md, "Two round trips"). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/json.h"
#include "aos/storage_wire.h"
#include "router_internal.h"

/* A turn message carries the accept's lease and context only up to this many bytes of them,
 * and only while the whole turn stays under the claim threshold (a turn over it would cost a
 * claim's round trips, more than the claim the context saves); beyond, the runner claims
 * with the token. */
#define ROUTER_TURN_RUN_MAX (128u * 1024u)

size_t router_turn_run_budget(router_t *rt, size_t other_bytes)
{
    size_t threshold = aos_storage_client_claim_threshold(rt->storage),
           reserve = other_bytes + 4096;
    size_t room = threshold > reserve ? threshold - reserve : 0;
    return room < ROUTER_TURN_RUN_MAX ? room : ROUTER_TURN_RUN_MAX;
}

aos_result router_accept_json(router_t *rt, const router_accept_in_t *in, char **out_json)
{
    *out_json = NULL;
    char *meta = NULL, reason[201]; /* the runner keeps 200 bytes of the routing reason */
    snprintf(reason, sizeof reason, "%s", in->reason ? in->reason : "");
    AOS_RETURN_IF_FAILED(aos_storage_turn_user_metadata(
        in->kind, in->user, in->agent->name, in->reason ? reason : NULL, in->event_type,
        in->metadata_json ? in->metadata_json : "{}", &meta));
    aos_storage_message_t m = {.conversation_id = (char *)in->conversation_id,
                               .id = (char *)in->turn_id,
                               .role = (char *)(strcmp(in->kind, "event") == 0 ? "event" : "user"),
                               .content = (char *)in->text,
                               .metadata_json = meta};
    json_object *o = json_object_new_object(), *mj = aos_storage_message_to_wire(&m);
    size_t history = (size_t)in->agent->max_history + 8; /* as the runner's claim asks */
    if (history > AOS_STORAGE_PAGE_MAX)
        history = AOS_STORAGE_PAGE_MAX;
    aos_result r = o && mj ? AOS_OK : AOS_ERR_NOMEM;
    /* what storage would refuse stays out: the turn then goes without a lease and the runner
     * decides about it as before (docs/turn-order.md) */
    if (r == AOS_OK && in->text && strlen(in->text) <= AOS_STORAGE_CONTENT_MAX &&
        strlen(meta) <= AOS_STORAGE_METADATA_MAX) {
        r = aos_json_add(o, "message", mj); /* takes mj */
        mj = NULL;
    }
    json_object_put(mj);
    free(meta);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "conversation_id", in->conversation_id);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "agent", in->agent->name);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "turn_id", in->turn_id);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "idempotency_key", in->idempotency_key);
    if (r == AOS_OK)
        r = aos_json_add_string(o, "holder", aos_bus_instance_id(rt->bus));
    if (r == AOS_OK)
        r = aos_json_add_int(o, "history", (int64_t)history);
    if (r == AOS_OK)
        r = aos_json_to_string(o, out_json, NULL);
    json_object_put(o);
    return r;
}

void router_accepted_clear(router_accepted_t *a)
{
    free(a->run_json);
    memset(a, 0, sizeof *a);
}

aos_result router_accepted_parse(const char *data_json, size_t run_max, router_accepted_t *out)
{
    memset(out, 0, sizeof *out);
    json_object *o = NULL, *run = NULL;
    const char *turn = NULL, *conv = NULL, *agent = NULL;
    aos_result r = aos_json_parse_object(data_json ? data_json : "",
                                         data_json ? strlen(data_json) : 0, 0, 0, &o, NULL, 0);
    if (r == AOS_OK &&
        (aos_json_get_string(o, "turn_id", AOS_JSON_REQUIRED, &turn, NULL, 0) != AOS_OK ||
         aos_json_get_string(o, "conversation_id", AOS_JSON_REQUIRED, &conv, NULL, 0) != AOS_OK ||
         aos_json_get_string(o, "agent", AOS_JSON_OPTIONAL, &agent, NULL, 0) != AOS_OK ||
         aos_json_get_bool(o, "existing", AOS_JSON_OPTIONAL, &out->existing, NULL, NULL, 0) !=
             AOS_OK ||
         aos_json_get_int(o, "seq", AOS_JSON_OPTIONAL, &out->seq, NULL, NULL, 0) != AOS_OK ||
         aos_json_get_object(o, "run", AOS_JSON_OPTIONAL, &run, NULL, 0) != AOS_OK ||
         strlen(turn) >= sizeof out->turn_id || strlen(conv) >= sizeof out->conversation_id ||
         (agent && strlen(agent) >= sizeof out->agent)))
        r = AOS_ERR_PROTOCOL;
    if (r == AOS_OK) {
        snprintf(out->turn_id, sizeof out->turn_id, "%s", turn);
        snprintf(out->conversation_id, sizeof out->conversation_id, "%s", conv);
        snprintf(out->agent, sizeof out->agent, "%s", agent ? agent : "");
    }
    if (r == AOS_OK && run) {
        /* the lease travels with the turn; the context only while it stays small */
        aos_json_add_int(run, "seq", out->seq);
        size_t n = 0;
        r = aos_json_to_string(run, &out->run_json, &n);
        if (r == AOS_OK && n > run_max) {
            json_object_object_del(run, "messages");
            json_object_object_del(run, "user");
            free(out->run_json);
            out->run_json = NULL;
            r = aos_json_to_string(run, &out->run_json, NULL);
        }
    }
    json_object_put(o);
    if (r != AOS_OK)
        router_accepted_clear(out);
    return r;
}

/* ---- stickiness: conversation -> agent, as storage last said ---- */

#define STICKY_SLOTS 4096

struct router_sticky {
    pthread_mutex_t mu;
    struct {
        char conv[ROUTER_ID_MAX + 1];
        char agent[AOS_AGENT_NAME_MAX + 1];
    } slot[STICKY_SLOTS];
};

static size_t sticky_slot(const char *conv)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)conv; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h % STICKY_SLOTS;
}

router_sticky_t *router_sticky_new(void)
{
    router_sticky_t *s = calloc(1, sizeof *s); /* pages are touched only as slots fill */
    if (s)
        pthread_mutex_init(&s->mu, NULL);
    return s;
}

void router_sticky_free(router_sticky_t *s)
{
    if (!s)
        return;
    pthread_mutex_destroy(&s->mu);
    free(s);
}

bool router_sticky_get(router_sticky_t *s, const char *conv, char *out_agent, size_t len)
{
    if (!s || !conv)
        return false;
    size_t i = sticky_slot(conv);
    pthread_mutex_lock(&s->mu);
    bool hit = s->slot[i].agent[0] && strcmp(s->slot[i].conv, conv) == 0;
    if (hit)
        snprintf(out_agent, len, "%s", s->slot[i].agent);
    pthread_mutex_unlock(&s->mu);
    return hit;
}

void router_sticky_put(router_sticky_t *s, const char *conv, const char *agent)
{
    if (!s || !conv || !agent || !*agent || strlen(conv) > ROUTER_ID_MAX ||
        strlen(agent) > AOS_AGENT_NAME_MAX)
        return;
    size_t i = sticky_slot(conv);
    pthread_mutex_lock(&s->mu);
    snprintf(s->slot[i].conv, sizeof s->slot[i].conv, "%s", conv);
    snprintf(s->slot[i].agent, sizeof s->slot[i].agent, "%s", agent);
    pthread_mutex_unlock(&s->mu);
}
