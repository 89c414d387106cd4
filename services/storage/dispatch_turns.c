/* The turn ledger, per-conversation order and lease (see dispatch_turns.h and
 * docs/turn-order.md). Two record kinds the wire API does not expose:
 *   "turnconv" key <conversation>: {"next": last order given, "done": last order finished,
 *       "tok": last fencing token, "pend": {"<order>": {"t": turn, "at": ms}},
 *       "lease": {"t": turn, "s": order, "k": token, "h": holder, "u": until ms} | absent}
 *   "turn" key <conversation>|<turn>: {"seq", "state": "done"|"failed", "reply_id",
 *       "reply_seq", "at"}
 *   "idem" key sha256(Idempotency-Key): {"c": conversation, "t": turn}
 * Message cursors of both backends are the message seq in decimal, which is how a stored
 * reply is read back by its seq. */
#include "dispatch_turns.h"
#include "turn_state.h"

#include <openssl/sha.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/json.h"
#include "aos/storage_wire.h"

#define E errbuf, errlen

static _Atomic int64_t g_reachable_since;

void storage_turns_reachable_since(int64_t ms)
{
    atomic_store(&g_reachable_since, ms);
}

bool storage_turn_op(const char *type)
{
    return type && strncmp(type, "aos.storage.turn.", 17) == 0;
}

/* ---- accept (router) ---- */

static void idem_key(const char *key, char out[65])
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)key, strlen(key), d);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static aos_result run_context(storage_backend_t *be, turn_rq_t *rq, json_object *reply,
                              char *errbuf, size_t errlen);

/* The lease an accept took could not be used (the user message was refused): give it back,
 * so the runner's claim finds the turn next in line and free. Best effort. */
static void accept_drop_lease(storage_backend_t *be, turn_rq_t *rq, int64_t tok)
{
    char err[256];
    for (int i = 0; i < TURN_CAS_TRIES; i++) {
        json_object *st = NULL, *lease;
        char *ver = NULL;
        aos_result r =
            turn_rec_load(be, "turnconv", rq->conversation_id, &st, &ver, err, sizeof err);
        if (r == AOS_OK && json_object_object_get_ex(st, "lease", &lease) &&
            jint(lease, "k") == tok) {
            json_object_object_del(st, "lease");
            r = turn_state_store(be, rq, st, ver, err, sizeof err);
        }
        json_object_put(st);
        free(ver);
        if (r != AOS_ERR_CONFLICT)
            return;
    }
}

/* The turn's order and, when the turn is next in line and its user message came with the
 * accept, the lease (token held by whoever receives the turn message first), the user message
 * stored and the newest messages: the runner then needs only turn.complete
 * (docs/turn-order.md, "Two round trips"). */
static aos_result accept_order(storage_backend_t *be, turn_rq_t *rq, const char *turn,
                               int64_t *out_seq, int64_t *out_tok, char *errbuf, size_t errlen)
{
    aos_result r = AOS_OK;
    for (int i = 0; i < TURN_CAS_TRIES && !*out_seq; i++) {
        json_object *st = NULL, *lease = NULL;
        char *ver = NULL;
        r = turn_state_load(be, rq, &st, &ver, E);
        if (r == AOS_OK && !(*out_seq = turn_pend_find(st, turn))) {
            int64_t now = storage_now_ms(), s = jint(st, "next") + 1, tok = 0;
            /* live as claim_step sees it: an outage does not end a lease */
            int64_t since = atomic_load(&g_reachable_since);
            bool leased = json_object_object_get_ex(st, "lease", &lease) &&
                          (jint(lease, "u") > now || (since && now < since + rq->lease_ms));
            jset_int(st, "next", s);
            turn_pend_set(st, s, turn, now);
            if (rq->has_msg && s == jint(st, "done") + 1 && !leased) {
                tok = jint(st, "tok") + 1;
                jset_int(st, "tok", tok);
                json_object *l = json_object_new_object();
                json_object_object_add(l, "t", json_object_new_string(turn));
                jset_int(l, "s", s);
                jset_int(l, "k", tok);
                json_object_object_add(l, "h",
                                       json_object_new_string(rq->holder ? rq->holder : "accept"));
                jset_int(l, "u", now + rq->lease_ms);
                json_object_object_add(st, "lease", l);
            }
            r = turn_state_store(be, rq, st, ver, E);
            if (r == AOS_OK) {
                *out_seq = s;
                *out_tok = tok;
            }
        }
        json_object_put(st);
        free(ver);
        if (r != AOS_OK && r != AOS_ERR_CONFLICT)
            break;
    }
    if (!*out_seq && r == AOS_OK)
        r = aos_fail(AOS_ERR_UNAVAILABLE, E, "conversation state keeps changing");
    return r;
}

static aos_result x_accept(storage_backend_t *be, turn_rq_t *rq, json_object *reply, char *errbuf,
                           size_t errlen)
{
    bool existing = false, answered = false;
    const char *conv = rq->conversation_id, *turn = rq->turn_id;
    json_object *idem = NULL;
    if (rq->idempotency_key) {
        char k[65];
        idem_key(rq->idempotency_key, k);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "c", json_object_new_string(conv));
        json_object_object_add(o, "t", json_object_new_string(turn));
        aos_result r = turn_rec_store(be, "idem", k, o, NULL, E);
        json_object_put(o);
        if (r == AOS_ERR_CONFLICT) { /* the key named a turn before: that turn it is */
            r = turn_rec_load(be, "idem", k, &idem, NULL, E);
            if (r != AOS_OK)
                return r;
            existing = true;
            conv = jstr(idem, "c");
            turn = jstr(idem, "t");
        } else if (r != AOS_OK) {
            return r;
        }
    }
    aos_result r = AOS_OK;
    if (!existing) { /* a turn id seen before (an event delivered again): no second place */
        char key[AOS_STORAGE_ID_MAX * 2 + 4];
        turn_ledger_key(rq, key, sizeof key);
        json_object *ledger = NULL;
        r = turn_rec_load(be, "turn", key, &ledger, NULL, E);
        json_object_put(ledger);
        answered = r == AOS_OK;
        r = r == AOS_ERR_NOT_FOUND ? AOS_OK : r;
    }
    int64_t seq = 0, tok = 0;
    if (r == AOS_OK && !existing && !answered)
        r = accept_order(be, rq, turn, &seq, &tok, E);
    json_object *run = NULL;
    if (r == AOS_OK && tok) {
        run = json_object_new_object();
        char err[256] = "";
        aos_result rr = run ? run_context(be, rq, run, err, sizeof err) : AOS_ERR_NOMEM;
        if (rr == AOS_OK) {
            aos_json_add_int(run, "token", tok);
            aos_json_add_int(run, "lease_ms", rq->lease_ms);
            aos_json_add_int(run, "granted_ms", storage_now_ms());
        } else { /* the runner claims as before */
            json_object_put(run);
            run = NULL;
            accept_drop_lease(be, rq, tok);
        }
    }
    if (r == AOS_OK && !existing && rq->agent) { /* the conversation's agent: stickiness */
        aos_storage_conversation_t c = {0};
        char err[256];
        if (be->ops->conversation_get(be, conv, &c, err, sizeof err) == AOS_OK && c.agent)
            aos_json_add_string(reply, "agent", c.agent);
        aos_storage_conversation_clear(&c);
    }
    if (r == AOS_OK) {
        aos_json_add_string(reply, "conversation_id", conv);
        aos_json_add_string(reply, "turn_id", turn);
        aos_json_add_bool(reply, "existing", existing);
        if (answered)
            aos_json_add_bool(reply, "answered", true);
        if (seq)
            aos_json_add_int(reply, "seq", seq);
        if (run)
            r = aos_json_add(reply, "run", run);
    } else {
        json_object_put(run);
    }
    json_object_put(idem);
    return r;
}

/* ---- claim (runner) ---- */

/* The run of a turn is over, its outcome stored: when the lease is still the run's (by its
 * order, or by its token when token > 0), drop it and move the order on. Best effort: the
 * outcome stands either way, and a lease left behind runs out. */
static void end_run(storage_backend_t *be, turn_rq_t *rq, int64_t seq, int64_t token, char *errbuf,
                    size_t errlen)
{
    for (int i = 0; i < TURN_CAS_TRIES; i++) {
        json_object *st = NULL, *lease;
        char *ver = NULL;
        aos_result r = turn_state_load(be, rq, &st, &ver, E);
        bool ours = r == AOS_OK && json_object_object_get_ex(st, "lease", &lease) &&
                    (token > 0 ? jint(lease, "k") == token : jint(lease, "s") == seq);
        if (ours) {
            seq = jint(lease, "s");
            json_object_object_del(st, "lease");
            turn_pend_del(st, seq);
            turn_order_done(st, seq, storage_now_ms());
            r = turn_state_store(be, rq, st, ver, E);
        }
        json_object_put(st);
        free(ver);
        if (r != AOS_ERR_CONFLICT)
            return;
    }
}

static aos_result answered(storage_backend_t *be, turn_rq_t *rq, json_object *ledger,
                           json_object *reply, char *errbuf, size_t errlen)
{
    json_object *msg = NULL;
    aos_result r = turn_message_at(be, rq->conversation_id, jint(ledger, "reply_seq"),
                                   jstr(ledger, "reply_id"), &msg, E);
    if (r != AOS_OK)
        return r;
    aos_json_add_string(reply, "status", "answered");
    aos_json_add_int(reply, "seq", jint(ledger, "seq"));
    aos_json_add(reply, "reply", msg);
    /* the conversation moves on even if the delivery that finished it died before saying so */
    end_run(be, rq, jint(ledger, "seq"), 0, E);
    return AOS_OK; /* the answer stands; the repair is best effort */
}

static void add_waiting(json_object *reply, json_object *st, int64_t seq)
{
    int64_t head = jint(st, "done") + 1;
    json_object *w = json_object_new_object(), *lease;
    json_object *p = turn_pend_get(st, head);
    aos_json_add_int(w, "seq", head);
    if (p)
        aos_json_add_string(w, "turn_id", jstr(p, "t"));
    else if (json_object_object_get_ex(st, "lease", &lease))
        aos_json_add_string(w, "turn_id", jstr(lease, "t"));
    aos_json_add_string(reply, "status", "wait");
    aos_json_add_int(reply, "seq", seq);
    aos_json_add(reply, "waiting_for", w);
}

/* After the lease is ours: the user message and the newest messages. */
static aos_result run_context(storage_backend_t *be, turn_rq_t *rq, json_object *reply,
                              char *errbuf, size_t errlen)
{
    aos_storage_message_t stored = {0};
    bool created = false;
    aos_result r = be->ops->message_append(be, &rq->msg, -1, &stored, &created, E);
    json_object *u = r == AOS_OK ? aos_storage_message_to_wire(&stored) : NULL;
    aos_storage_message_clear(&stored);
    if (r != AOS_OK && r != AOS_ERR_CONFLICT)
        return r;
    aos_storage_message_page_t page = {0};
    aos_result lr =
        be->ops->message_list(be, rq->conversation_id, NULL, (size_t)rq->history, true, &page, E);
    if (r == AOS_ERR_CONFLICT && lr == AOS_OK) {
        /* stored at acceptance by the router with other metadata bytes: the same turn when
         * role and text agree (docs/turn-order.md) */
        for (size_t i = 0; i < page.count && !u; i++) {
            const aos_storage_message_t *m = &page.items[i];
            if (strcmp(m->id, rq->msg.id) == 0 && strcmp(m->role, rq->msg.role) == 0 &&
                strcmp(m->content, rq->msg.content) == 0)
                u = aos_storage_message_to_wire(m);
        }
        if (!u) {
            aos_storage_message_page_clear(&page);
            return aos_fail(AOS_ERR_CONFLICT, E, "message '%s' exists with other content",
                            rq->msg.id);
        }
        r = AOS_OK;
    }
    if (!u) {
        aos_storage_message_page_clear(&page);
        return r != AOS_OK ? r : lr != AOS_OK ? lr : AOS_ERR_NOMEM;
    }
    aos_json_add(reply, "user", u);
    r = lr;
    json_object *arr = r == AOS_OK ? json_object_new_array() : NULL;
    size_t used = 0; /* newest first: the oldest context goes when over the reply budget */
    for (size_t i = 0; arr && i < page.count; i++) {
        json_object *o = aos_storage_message_to_wire(&page.items[i]);
        size_t n = o ? aos_json_raw_len(o) + 1 : 0;
        if (i > 0 && used + n > AOS_STORAGE_CONTEXT_BUDGET) {
            json_object_put(o);
            break;
        }
        used += n;
        json_object_array_add(arr, o);
    }
    aos_storage_message_page_clear(&page);
    if (r == AOS_OK)
        r = arr ? aos_json_add(reply, "messages", arr) : AOS_ERR_NOMEM;
    return r;
}

/* One look at the conversation state: 1 = decided (reply filled), 0 = look again. */
static int claim_step(storage_backend_t *be, turn_rq_t *rq, json_object *reply, aos_result *rc,
                      char *errbuf, size_t errlen)
{
    json_object *st = NULL, *lease = NULL;
    char *ver = NULL;
    int decided = 1;
    aos_result r = turn_state_load(be, rq, &st, &ver, E);
    if (r != AOS_OK)
        goto out;
    int64_t now = storage_now_ms(), done = jint(st, "done");
    bool has_lease = json_object_object_get_ex(st, "lease", &lease);
    int64_t since = atomic_load(&g_reachable_since); /* an outage does not end a lease */
    bool lease_live =
        has_lease && (jint(lease, "u") > now || (since && now < since + rq->lease_ms));
    const char *lease_turn = has_lease ? jstr(lease, "t") : NULL;
    int64_t seq = turn_pend_find(st, rq->turn_id);
    if (!seq && lease_turn && strcmp(lease_turn, rq->turn_id) == 0)
        seq = jint(lease, "s");
    bool dirty = false;
    if (!seq || seq <= done) { /* not accepted in order (direct bus turn), or skipped: last */
        seq = jint(st, "next") + 1;
        jset_int(st, "next", seq);
        turn_pend_set(st, seq, rq->turn_id, now);
        dirty = true;
    }
    if (seq > done + 1) {
        json_object *head = turn_pend_get(st, done + 1);
        if (!lease_live && (!head || now - jint(head, "at") > rq->gap_ms)) {
            /* the turn before never showed up (or was dead-lettered) within the gap time */
            turn_pend_del(st, done + 1);
            turn_order_done(st, done + 1, now);
            json_object_object_del(st, "lease");
            r = turn_state_store(be, rq, st, ver, E);
            decided = r == AOS_OK || r == AOS_ERR_CONFLICT ? 0 : 1;
            goto out;
        }
        if (dirty && (r = turn_state_store(be, rq, st, ver, E)) != AOS_OK) {
            decided = r == AOS_ERR_CONFLICT ? 0 : 1;
            goto out;
        }
        add_waiting(reply, st, seq);
        goto out;
    }
    /* seq == done + 1: ours to run unless a live lease holds it for someone else */
    /* ours: this holder's lease, or the one the accept took for the turn, whose token came
     * with the turn message */
    bool ours = lease_turn && strcmp(lease_turn, rq->turn_id) == 0 &&
                (strcmp(jstr(lease, "h") ? jstr(lease, "h") : "", rq->holder) == 0 ||
                 (rq->token > 0 && jint(lease, "k") == rq->token));
    if (lease_live && !ours) {
        if (dirty && (r = turn_state_store(be, rq, st, ver, E)) != AOS_OK) {
            decided = r == AOS_ERR_CONFLICT ? 0 : 1;
            goto out;
        }
        add_waiting(reply, st, seq);
        goto out;
    }
    int64_t tok = jint(st, "tok") + 1;
    jset_int(st, "tok", tok);
    json_object *l = json_object_new_object();
    json_object_object_add(l, "t", json_object_new_string(rq->turn_id));
    jset_int(l, "s", seq);
    jset_int(l, "k", tok);
    json_object_object_add(l, "h", json_object_new_string(rq->holder));
    jset_int(l, "u", now + rq->lease_ms);
    json_object_object_add(st, "lease", l);
    turn_pend_set(st, seq, rq->turn_id, now);
    r = turn_state_store(be, rq, st, ver, E);
    if (r != AOS_OK) {
        decided = r == AOS_ERR_CONFLICT ? 0 : 1;
        goto out;
    }
    r = run_context(be, rq, reply, E);
    if (r == AOS_OK) {
        aos_json_add_string(reply, "status", "run");
        aos_json_add_int(reply, "seq", seq);
        aos_json_add_int(reply, "token", tok);
    }
out:
    json_object_put(st);
    free(ver);
    *rc = r == AOS_ERR_CONFLICT && !decided ? AOS_OK : r;
    return decided;
}

static aos_result x_claim(storage_backend_t *be, turn_rq_t *rq, json_object *reply, char *errbuf,
                          size_t errlen)
{
    char key[AOS_STORAGE_ID_MAX * 2 + 4];
    turn_ledger_key(rq, key, sizeof key);
    json_object *ledger = NULL;
    aos_result r = turn_rec_load(be, "turn", key, &ledger, NULL, E);
    if (r == AOS_OK && strcmp(jstr(ledger, "state") ? jstr(ledger, "state") : "", "done") == 0) {
        r = answered(be, rq, ledger, reply, E);
        json_object_put(ledger);
        return r;
    }
    json_object_put(ledger);
    if (r != AOS_OK && r != AOS_ERR_NOT_FOUND)
        return r;
    for (int i = 0; i < TURN_CAS_TRIES; i++) {
        if (claim_step(be, rq, reply, &r, E))
            return r;
        if (r != AOS_OK)
            return r;
    }
    return aos_fail(AOS_ERR_UNAVAILABLE, E, "conversation state keeps changing");
}

/* ---- renew, complete (runner) ---- */

static aos_result x_renew(storage_backend_t *be, turn_rq_t *rq, json_object *reply, char *errbuf,
                          size_t errlen)
{
    (void)reply;
    for (int i = 0; i < TURN_CAS_TRIES; i++) {
        json_object *st = NULL, *lease;
        char *ver = NULL;
        aos_result r = turn_state_load(be, rq, &st, &ver, E);
        bool lost = r == AOS_OK && (!json_object_object_get_ex(st, "lease", &lease) ||
                                    jint(lease, "k") != rq->token);
        if (lost)
            r = aos_fail(AOS_ERR_CONFLICT, E, "lease lost (token %lld)", (long long)rq->token);
        if (r == AOS_OK) {
            int64_t now = storage_now_ms();
            jset_int(lease, "u", now + rq->lease_ms);
            json_object *p = turn_pend_get(st, jint(lease, "s"));
            if (p)
                jset_int(p, "at", now);
            r = turn_state_store(be, rq, st, ver, E);
        }
        json_object_put(st);
        free(ver);
        if (r != AOS_ERR_CONFLICT || lost)
            return r;
    }
    return aos_fail(AOS_ERR_UNAVAILABLE, E, "conversation state keeps changing");
}

static aos_result x_complete(storage_backend_t *be, turn_rq_t *rq, json_object *reply, char *errbuf,
                             size_t errlen)
{
    char key[AOS_STORAGE_ID_MAX * 2 + 4];
    turn_ledger_key(rq, key, sizeof key);
    json_object *ledger = NULL;
    aos_result r = turn_rec_load(be, "turn", key, &ledger, NULL, E);
    if (r == AOS_OK && jstr(ledger, "reply_id") &&
        strcmp(jstr(ledger, "reply_id"), rq->msg.id) == 0) {
        /* a redelivered complete: it happened. Or a failed turn that ran again (delivered
         * again) failed again, naming the same marker: that run ends here too */
        json_object *msg = NULL;
        r = turn_message_at(be, rq->conversation_id, jint(ledger, "reply_seq"), rq->msg.id, &msg,
                            E);
        json_object_put(ledger);
        if (r == AOS_OK)
            end_run(be, rq, rq->seq, rq->token, E);
        return r == AOS_OK ? aos_json_add(reply, "message", msg) : r;
    }
    json_object_put(ledger);
    if (r != AOS_OK && r != AOS_ERR_NOT_FOUND)
        return r;
    json_object *st = NULL, *lease;
    char *ver = NULL;
    r = turn_state_load(be, rq, &st, &ver, E);
    if (r == AOS_OK &&
        (!json_object_object_get_ex(st, "lease", &lease) || jint(lease, "k") != rq->token))
        r = aos_fail(AOS_ERR_CONFLICT, E, "lease lost (token %lld)", (long long)rq->token);
    if (r != AOS_OK) {
        json_object_put(st);
        free(ver);
        return r;
    }
    aos_storage_message_t stored = {0};
    bool created = false;
    r = be->ops->message_append(be, &rq->msg, -1, &stored, &created, E);
    if (r == AOS_OK) {
        json_object *l = json_object_new_object();
        jset_int(l, "seq", rq->seq);
        json_object_object_add(
            l, "state",
            json_object_new_string(strcmp(rq->outcome, "answered") == 0 ? "done" : "failed"));
        json_object_object_add(l, "reply_id", json_object_new_string(stored.id));
        jset_int(l, "reply_seq", stored.seq);
        jset_int(l, "at", storage_now_ms());
        r = turn_rec_store(be, "turn", key, l, "*", E);
        json_object_put(l);
    }
    if (r == AOS_OK) {
        json_object *m = aos_storage_message_to_wire(&stored);
        r = m ? aos_json_add(reply, "message", m) : AOS_ERR_NOMEM;
    }
    aos_storage_message_clear(&stored);
    for (int i = 0; r == AOS_OK && i < TURN_CAS_TRIES; i++) {
        if (!st) /* the state read above serves the first try (unchanged in a transaction) */
            r = turn_state_load(be, rq, &st, &ver, E);
        if (r == AOS_OK) {
            if (json_object_object_get_ex(st, "lease", &lease) && jint(lease, "k") == rq->token)
                json_object_object_del(st, "lease");
            turn_pend_del(st, rq->seq);
            turn_order_done(st, rq->seq, storage_now_ms());
            r = turn_state_store(be, rq, st, ver, E);
        }
        json_object_put(st);
        free(ver);
        st = NULL;
        ver = NULL;
        if (r != AOS_ERR_CONFLICT)
            break;
        r = AOS_OK;
    }
    json_object_put(st); /* when the append failed */
    free(ver);
    return r;
}

/* ---- fail (runner: a poison turn) ---- */

/* Quarantine a turn that will never run (poison): the failure marker is stored (when the
 * conversation exists), the ledger says failed, and the turn no longer holds its
 * conversation's order. No lease needed: the turn never ran. */
static aos_result x_fail(storage_backend_t *be, turn_rq_t *rq, json_object *reply, char *errbuf,
                         size_t errlen)
{
    char key[AOS_STORAGE_ID_MAX * 2 + 4];
    turn_ledger_key(rq, key, sizeof key);
    aos_storage_message_t stored = {0};
    bool created = false;
    aos_result r = be->ops->message_append(be, &rq->msg, -1, &stored, &created, E);
    if (r == AOS_OK) {
        json_object *m = aos_storage_message_to_wire(&stored);
        r = m ? aos_json_add(reply, "message", m) : AOS_ERR_NOMEM;
    } else if (r == AOS_ERR_NOT_FOUND || r == AOS_ERR_CONFLICT) {
        r = AOS_OK; /* no conversation to mark, or marked before with other words */
    }
    json_object *ledger = NULL;
    if (r == AOS_OK) {
        r = turn_rec_load(be, "turn", key, &ledger, NULL, E);
        bool done = r == AOS_OK && jstr(ledger, "state") && !strcmp(jstr(ledger, "state"), "done");
        json_object_put(ledger);
        r = r == AOS_ERR_NOT_FOUND ? AOS_OK : r;
        if (r == AOS_OK && done) {
            aos_storage_message_clear(&stored);
            return AOS_OK; /* answered before: a poison copy changes nothing */
        }
    }
    if (r == AOS_OK) {
        json_object *l = json_object_new_object();
        json_object_object_add(l, "state", json_object_new_string("failed"));
        json_object_object_add(l, "reply_id", json_object_new_string(rq->msg.id));
        jset_int(l, "reply_seq", stored.seq);
        jset_int(l, "at", storage_now_ms());
        r = turn_rec_store(be, "turn", key, l, "*", E);
        json_object_put(l);
    }
    aos_storage_message_clear(&stored);
    for (int i = 0; r == AOS_OK && i < TURN_CAS_TRIES; i++) {
        json_object *st = NULL, *lease;
        char *ver = NULL;
        r = turn_rec_load(be, "turnconv", rq->conversation_id, &st, &ver, E);
        if (r == AOS_ERR_NOT_FOUND) {
            r = AOS_OK;
            break;
        }
        int64_t seq = r == AOS_OK ? turn_pend_find(st, rq->turn_id) : 0;
        if (r == AOS_OK && seq) {
            turn_pend_del(st, seq);
            if (json_object_object_get_ex(st, "lease", &lease) && jint(lease, "s") == seq)
                json_object_object_del(st, "lease");
            if (jint(st, "done") + 1 == seq)
                turn_order_done(st, seq, storage_now_ms());
            r = turn_state_store(be, rq, st, ver, E);
        }
        json_object_put(st);
        free(ver);
        if (r != AOS_ERR_CONFLICT)
            break;
        r = AOS_OK;
    }
    return r;
}

typedef struct turn_call {
    aos_result (*fn)(storage_backend_t *be, turn_rq_t *rq, json_object *reply, char *errbuf,
                     size_t errlen);
    turn_rq_t *rq;
    json_object *reply;
    char *err;
    size_t errlen;
} turn_call_t;

static aos_result turn_call(storage_backend_t *be, void *ctx)
{
    turn_call_t *c = ctx;
    return c->fn(be, c->rq, c->reply, c->err, c->errlen);
}

void storage_turn_dispatch(storage_backend_t *be, const char *type, const char *data, size_t len,
                           storage_outcome_t *out)
{
    const char *op = type + 17;
    char err[512] = "";
    turn_rq_t rq = {0};
    aos_result r;
    static const struct {
        const char *name;
        storage_op op;
    } NAMES[] = {{"accept", AOS_STORAGE_OP_TURN_ACCEPT},
                 {"claim", AOS_STORAGE_OP_TURN_CLAIM},
                 {"renew", AOS_STORAGE_OP_TURN_RENEW},
                 {"complete", AOS_STORAGE_OP_TURN_COMPLETE},
                 {"fail", AOS_STORAGE_OP_TURN_FAIL}};
    for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++)
        if (strcmp(op, NAMES[i].name) == 0) {
            out->op = NAMES[i].op;
            out->op_known = true;
        }
    if (strcmp(op, "accept") && strcmp(op, "claim") && strcmp(op, "renew") &&
        strcmp(op, "complete") && strcmp(op, "fail"))
        r = aos_fail(AOS_ERR_UNSUPPORTED, err, sizeof err, "unknown operation %s", type);
    else
        r = turn_request_parse(op, data, len, &rq, err, sizeof err);
    if (r != AOS_OK && aos_result_is_transient(r))
        r = AOS_ERR_INVALID; /* bad input is never transient */
    json_object *reply = r == AOS_OK ? json_object_new_object() : NULL;
    if (r == AOS_OK && !reply)
        r = AOS_ERR_NOMEM;
    if (r == AOS_OK) {
        turn_call_t call = {.rq = &rq, .reply = reply, .err = err, .errlen = sizeof err};
        call.fn = !strcmp(op, "accept")  ? x_accept
                  : !strcmp(op, "claim") ? x_claim
                  : !strcmp(op, "renew") ? x_renew
                  : !strcmp(op, "fail")  ? x_fail
                                         : x_complete;
        /* one transaction (one commit) per turn operation where the backend has them */
        r = be->ops->run_atomic ? be->ops->run_atomic(be, turn_call, &call, err, sizeof err)
                                : turn_call(be, &call);
    }
    if (r == AOS_OK)
        r = aos_json_to_string(reply, &out->data_json, NULL);
    json_object_put(reply);
    json_object_put(rq.root);
    aos_storage_message_clear(&rq.msg);
    if (r != AOS_OK) {
        out->result = r;
        out->action = aos_result_is_transient(r) ? AOS_STORAGE_RELEASE : AOS_STORAGE_REPLY_ERROR;
        snprintf(out->message, sizeof out->message, "%s", err[0] ? err : aos_result_str(r));
        return;
    }
    out->action = AOS_STORAGE_REPLY;
    out->result = AOS_OK;
    snprintf(out->reply_type, sizeof out->reply_type, "%s.result", type);
}
