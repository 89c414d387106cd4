/* sb_peer: non-session queues, topics with subscriptions and dead-letter queues, the way
 * Service Bus keeps them (see sb_peer_store.h). Messages live in one list tagged with their
 * entity; a receiver link gets the messages of its entity in order as credit allows. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <proton/codec.h>
#include <proton/condition.h>
#include <proton/disposition.h>
#include <proton/message.h>
#include <proton/proactor.h>
#include <proton/terminus.h>

#include "sb_peer_hooks.h"
#include "sb_peer_internal.h"

#define MAX_CONNS 64
#define NAME_LEN 256
#define MAX_TOPICS 8
#define MAX_DELIVERIES 10
#define LOCK_MS 60000
#define DLQ "/$deadletterqueue"

sb_sessions_t *sb_peer_sessions(sb_peer_t *p); /* sb_peer.c */

typedef struct rcv {
    struct rcv *next;
    pn_link_t *link; /* NULL once gone */
    pn_connection_t *conn;
    char entity[NAME_LEN];
} rcv_t;

typedef struct msg {
    struct msg *next;
    char entity[NAME_LEN];
    char *bytes;
    size_t len;
    int64_t seq, enqueued_ms;
    uint32_t deliveries;
    rcv_t *holder;
} msg_t;

typedef struct {
    char name[NAME_LEN];
    char subs[1024]; /* comma-separated */
} topic_t;

struct sb_store {
    sb_peer_t *peer;
    pthread_mutex_t mu;
    bool declared;
    char queues[2048]; /* ",q1,q2," */
    topic_t topics[MAX_TOPICS];
    int ntopics;
    pn_connection_t *conns[MAX_CONNS];
    rcv_t *rcvs;
    msg_t *head, *tail;
    int64_t seq;
    uint64_t tag;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

sb_store_t *sb_store_new(sb_peer_t *p)
{
    sb_store_t *e = calloc(1, sizeof *e);
    if (e) {
        e->peer = p;
        pthread_mutex_init(&e->mu, NULL);
        snprintf(e->queues, sizeof e->queues, ",");
    }
    return e;
}

void sb_store_free(sb_store_t *e)
{
    if (!e)
        return;
    while (e->rcvs) {
        rcv_t *r = e->rcvs;
        e->rcvs = r->next;
        free(r);
    }
    while (e->head) {
        msg_t *m = e->head;
        e->head = m->next;
        free(m->bytes);
        free(m);
    }
    pthread_mutex_destroy(&e->mu);
    free(e);
}

void sb_peer_declare_queues(sb_peer_t *p, const char *names)
{
    sb_store_t *e = sb_peer_store(p);
    pthread_mutex_lock(&e->mu);
    for (const char *s = names; s && *s;) {
        size_t n = strcspn(s, ",");
        size_t used = strlen(e->queues);
        if (n > 0 && used + n + 2 < sizeof e->queues)
            snprintf(e->queues + used, sizeof e->queues - used, "%.*s,", (int)n, s);
        s += n + (s[n] == ',');
    }
    e->declared = true;
    pthread_mutex_unlock(&e->mu);
}

void sb_peer_declare_topic(sb_peer_t *p, const char *topic, const char *subscriptions)
{
    sb_store_t *e = sb_peer_store(p);
    pthread_mutex_lock(&e->mu);
    if (e->ntopics < MAX_TOPICS) {
        topic_t *t = &e->topics[e->ntopics++];
        snprintf(t->name, sizeof t->name, "%s", topic);
        snprintf(t->subs, sizeof t->subs, "%s", subscriptions ? subscriptions : "");
    }
    e->declared = true;
    pthread_mutex_unlock(&e->mu);
}

static bool in_list(const char *list, const char *name, size_t n)
{
    for (const char *s = list; *s;) {
        size_t k = strcspn(s, ",");
        if (k == n && strncmp(s, name, n) == 0)
            return true;
        s += k + (s[k] == ',');
    }
    return false;
}

static topic_t *find_topic(sb_store_t *e, const char *name, size_t n)
{
    for (int i = 0; i < e->ntopics; i++)
        if (strlen(e->topics[i].name) == n && strncmp(e->topics[i].name, name, n) == 0)
            return &e->topics[i];
    return NULL;
}

/* What an address is: 'q' queue or subscription (receivable), 't' topic, 0 unknown. */
static int kind_of(sb_store_t *e, const char *address)
{
    size_t n = strlen(address);
    if (n > strlen(DLQ) && strcmp(address + n - strlen(DLQ), DLQ) == 0)
        n -= strlen(DLQ);
    if (in_list(e->queues, address, n))
        return 'q';
    const char *sub = strstr(address, "/Subscriptions/");
    if (sub && sub < address + n) {
        topic_t *t = find_topic(e, address, (size_t)(sub - address));
        const char *sname = sub + strlen("/Subscriptions/");
        if (t && in_list(t->subs, sname, (size_t)(address + n - sname)))
            return 'q';
        return 0;
    }
    if (n == strlen(address) && find_topic(e, address, n))
        return 't';
    return 0;
}

bool sb_store_claims(sb_store_t *e, const char *address)
{
    /* session queues and their dead letters are sb_peer_sessions.c's */
    char base[NAME_LEN];
    size_t n = strcspn(address, "/");
    snprintf(base, sizeof base, "%.*s", (int)n, address);
    if (sb_sessions_is_session_queue(sb_peer_sessions(e->peer), base))
        return false;
    pthread_mutex_lock(&e->mu);
    bool yes = e->declared && !strstr(address, "/$management");
    pthread_mutex_unlock(&e->mu);
    return yes;
}

static void refuse(sb_store_t *e, pn_link_t *l, const char *address, const char *cond,
                   const char *desc)
{
    pn_link_open(l);
    pn_condition_set_name(pn_link_condition(l), cond);
    pn_condition_set_description(pn_link_condition(l), desc);
    pn_link_close(l);
    sb_peer_note(e->peer, "attach-refused %s %s", address, cond);
}

void sb_store_attach(sb_store_t *e, pn_connection_t *c, pn_link_t *l, const char *raw)
{
    /* entity paths are case-insensitive; the SDK says $DeadLetterQueue */
    char address[NAME_LEN + 32];
    snprintf(address, sizeof address, "%s", raw);
    size_t al = strlen(address), dl = strlen(DLQ);
    if (al > dl && strcasecmp(address + al - dl, DLQ) == 0)
        memcpy(address + al - dl, DLQ, dl);
    pthread_mutex_lock(&e->mu);
    int kind = kind_of(e, address);
    bool dlq = strstr(address, DLQ) != NULL;
    char desc[512];
    if (!kind) {
        snprintf(desc, sizeof desc,
                 "The messaging entity 'sb://%s' could not be found. To know more visit "
                 "https://aka.ms/sbResourceMgrExceptions.",
                 address);
        refuse(e, l, address, "amqp:not-found", desc);
    } else if (pn_link_is_receiver(l) && (kind == 't' ? false : dlq)) {
        refuse(e, l, address, "amqp:not-allowed", "Cannot send to a dead-letter queue.");
    } else if (pn_link_is_receiver(l)) { /* the client sends */
        pn_link_open(l);
        pn_link_flow(l, 64);
        sb_peer_note(e->peer, "attach-ok %s", address);
    } else if (kind == 't') {
        refuse(e, l, address, "amqp:not-allowed",
               "Cannot receive from a topic; receive from one of its subscriptions.");
    } else {
        rcv_t *r = calloc(1, sizeof *r);
        if (!r) {
            refuse(e, l, address, "amqp:internal-error", "out of memory");
        } else {
            r->link = l;
            r->conn = c;
            snprintf(r->entity, sizeof r->entity, "%s", address);
            r->next = e->rcvs;
            e->rcvs = r;
            pn_link_set_context(l, r);
            pn_link_open(l);
            sb_peer_note(e->peer, "attach-ok %s", address);
        }
    }
    pthread_mutex_unlock(&e->mu);
}

bool sb_store_owns(sb_store_t *e, pn_link_t *l)
{
    void *ctx = pn_link_get_context(l);
    if (!ctx)
        return false;
    pthread_mutex_lock(&e->mu);
    bool yes = false;
    for (rcv_t *r = e->rcvs; r && !yes; r = r->next)
        yes = r == ctx;
    pthread_mutex_unlock(&e->mu);
    return yes;
}

static void wake_all(sb_store_t *e)
{
    for (int i = 0; i < MAX_CONNS; i++)
        if (e->conns[i])
            pn_connection_wake(e->conns[i]);
}

/* Append a copy (caller holds mu). */
static bool append(sb_store_t *e, const char *entity, const char *bytes, size_t len,
                   uint32_t deliveries)
{
    msg_t *m = calloc(1, sizeof *m);
    if (!m || !(m->bytes = malloc(len ? len : 1))) {
        free(m);
        return false;
    }
    memcpy(m->bytes, bytes, len);
    m->len = len;
    m->seq = ++e->seq;
    m->enqueued_ms = now_ms();
    m->deliveries = deliveries;
    snprintf(m->entity, sizeof m->entity, "%s", entity);
    if (e->tail)
        e->tail->next = m;
    else
        e->head = m;
    e->tail = m;
    sb_peer_note(e->peer, "store %s", entity);
    return true;
}

bool sb_store_store(sb_store_t *e, const char *address, const char *bytes, size_t len,
                    const char **cond, const char **desc)
{
    pthread_mutex_lock(&e->mu);
    int kind = kind_of(e, address);
    bool ok = true;
    if (kind == 't') {
        topic_t *t = find_topic(e, address, strlen(address));
        for (const char *s = t->subs; ok && *s;) {
            size_t n = strcspn(s, ",");
            char sub[NAME_LEN * 2];
            snprintf(sub, sizeof sub, "%s/Subscriptions/%.*s", t->name, (int)n, s);
            ok = append(e, sub, bytes, len, 0);
            s += n + (s[n] == ',');
        }
    } else if (kind == 'q') {
        ok = append(e, address, bytes, len, 0);
    } else {
        ok = false;
    }
    if (!ok) {
        *cond = kind ? "amqp:internal-error" : "amqp:not-found";
        *desc = kind ? "out of memory" : "The messaging entity could not be found.";
    }
    wake_all(e);
    pthread_mutex_unlock(&e->mu);
    return ok;
}

static void unlink_msg(sb_store_t *e, msg_t *m)
{
    msg_t *prev = NULL;
    for (msg_t *x = e->head; x; prev = x, x = x->next) {
        if (x != m)
            continue;
        if (prev)
            prev->next = m->next;
        else
            e->head = m->next;
        if (e->tail == m)
            e->tail = prev;
        return;
    }
}

static void free_msg(msg_t *m)
{
    free(m->bytes);
    free(m);
}

/* Re-encode with the dead-letter properties and store in <entity>/$deadletterqueue. */
static void dead_letter_bytes(sb_store_t *e, const char *entity, const char *bytes, size_t len,
                              const char *reason, const char *description)
{
    char dlq[NAME_LEN + 32];
    if (strstr(entity, DLQ))
        return; /* a dead letter rejected again is dropped, as the service does */
    snprintf(dlq, sizeof dlq, "%s%s", entity, DLQ);
    pn_message_t *pm = pn_message();
    pn_rwbytes_t buf = {0, NULL};
    ssize_t n = -1;
    if (pm && pn_message_decode(pm, bytes, len) == 0) {
        pn_data_t *props = pn_message_properties(pm);
        /* append to the map (or create one) */
        pn_data_rewind(props);
        if (!pn_data_next(props)) {
            pn_data_put_map(props);
        }
        pn_data_rewind(props);
        pn_data_next(props);
        pn_data_enter(props);
        while (pn_data_next(props))
            ;
        pn_data_put_string(props, pn_bytes(strlen("DeadLetterReason"), "DeadLetterReason"));
        pn_data_put_string(props, pn_bytes(strlen(reason), reason));
        pn_data_put_string(
            props, pn_bytes(strlen("DeadLetterErrorDescription"), "DeadLetterErrorDescription"));
        pn_data_put_string(props, pn_bytes(strlen(description), description));
        pn_data_exit(props);
        n = pn_message_encode2(pm, &buf);
    }
    if (n > 0)
        append(e, dlq, buf.start, (size_t)n, 0);
    else
        append(e, dlq, bytes, len, 0);
    free(buf.start);
    pn_message_free(pm);
    sb_peer_note(e->peer, "dead-letter %s %s", entity, reason);
}

/* The rejection's reason: info {DeadLetterReason, DeadLetterErrorDescription} or the condition. */
void sb_peer_rejection(pn_delivery_t *d, char *reason, size_t rlen, char *desc, size_t dlen)
{
    pn_condition_t *c = pn_disposition_condition(pn_delivery_remote(d));
    const char *name = c ? pn_condition_get_name(c) : NULL;
    const char *text = c ? pn_condition_get_description(c) : NULL;
    snprintf(reason, rlen, "%s", name ? name : "rejected");
    snprintf(desc, dlen, "%s", text ? text : "");
    pn_data_t *info = c ? pn_condition_info(c) : NULL;
    if (!info)
        return;
    pn_data_rewind(info);
    if (!pn_data_next(info) || pn_data_type(info) != PN_MAP)
        return;
    pn_data_enter(info);
    while (pn_data_next(info)) {
        pn_bytes_t k = {0, NULL};
        if (pn_data_type(info) == PN_STRING)
            k = pn_data_get_string(info);
        else if (pn_data_type(info) == PN_SYMBOL)
            k = pn_data_get_symbol(info);
        if (!pn_data_next(info))
            break;
        if (pn_data_type(info) != PN_STRING)
            continue;
        pn_bytes_t v = pn_data_get_string(info);
        if (k.size == 16 && memcmp(k.start, "DeadLetterReason", 16) == 0)
            snprintf(reason, rlen, "%.*s", (int)v.size, v.start);
        else if (k.size == 26 && memcmp(k.start, "DeadLetterErrorDescription", 26) == 0)
            snprintf(desc, dlen, "%.*s", (int)v.size, v.start);
    }
    pn_data_exit(info);
}

void sb_store_dead_letter(sb_store_t *e, const char *queue, const char *bytes, size_t len,
                          pn_delivery_t *d)
{
    char reason[256], desc[1024];
    sb_peer_rejection(d, reason, sizeof reason, desc, sizeof desc);
    pthread_mutex_lock(&e->mu);
    dead_letter_bytes(e, queue, bytes, len, reason, desc);
    wake_all(e);
    pthread_mutex_unlock(&e->mu);
}

void sb_store_outcome(sb_store_t *e, pn_delivery_t *d)
{
    pthread_mutex_lock(&e->mu);
    msg_t *m = pn_delivery_get_context(d);
    pn_delivery_set_context(d, NULL);
    if (m) {
        uint64_t st = pn_delivery_remote_state(d);
        if (st == PN_ACCEPTED) {
            unlink_msg(e, m);
            sb_peer_note(e->peer, "complete %s", m->entity);
            free_msg(m);
        } else if (st == PN_REJECTED) {
            char reason[256], desc[1024];
            sb_peer_rejection(d, reason, sizeof reason, desc, sizeof desc);
            unlink_msg(e, m);
            dead_letter_bytes(e, m->entity, m->bytes, m->len, reason, desc);
            free_msg(m);
        } else if (m->deliveries >= MAX_DELIVERIES) {
            unlink_msg(e, m);
            dead_letter_bytes(e, m->entity, m->bytes, m->len, "MaxDeliveryCountExceeded",
                              "Message could not be consumed after 10 delivery attempts.");
            free_msg(m);
        } else {
            m->holder = NULL; /* released / modified: available again */
        }
        wake_all(e);
    }
    pthread_mutex_unlock(&e->mu);
}

static void release_rcv(sb_store_t *e, rcv_t *r)
{
    for (msg_t *m = e->head; m; m = m->next)
        if (m->holder == r)
            m->holder = NULL;
    if (r->link) {
        for (pn_delivery_t *d = pn_unsettled_head(r->link); d; d = pn_unsettled_next(d))
            pn_delivery_set_context(d, NULL);
        pn_link_set_context(r->link, NULL);
    }
    r->link = NULL;
}

void sb_store_link_gone(sb_store_t *e, pn_link_t *l)
{
    pthread_mutex_lock(&e->mu);
    for (rcv_t *r = e->rcvs; r; r = r->next)
        if (r->link == l) {
            release_rcv(e, r);
            wake_all(e);
        }
    pthread_mutex_unlock(&e->mu);
}

void sb_store_conn_open(sb_store_t *e, pn_connection_t *c)
{
    pthread_mutex_lock(&e->mu);
    for (int i = 0; i < MAX_CONNS; i++)
        if (!e->conns[i]) {
            e->conns[i] = c;
            break;
        }
    pthread_mutex_unlock(&e->mu);
}

void sb_store_conn_gone(sb_store_t *e, pn_connection_t *c)
{
    pthread_mutex_lock(&e->mu);
    for (int i = 0; i < MAX_CONNS; i++)
        if (e->conns[i] == c)
            e->conns[i] = NULL;
    rcv_t **pp = &e->rcvs;
    while (*pp) {
        rcv_t *r = *pp;
        if (r->conn == c) {
            release_rcv(e, r);
            *pp = r->next;
            free(r);
        } else {
            pp = &r->next;
        }
    }
    wake_all(e);
    pthread_mutex_unlock(&e->mu);
}

static void put_annotation_long(pn_data_t *a, const char *key, int64_t v, bool timestamp)
{
    pn_data_put_symbol(a, pn_bytes(strlen(key), key));
    if (timestamp)
        pn_data_put_timestamp(a, v);
    else
        pn_data_put_long(a, v);
}

/* The message as the service delivers it: annotations and delivery-count added. */
static ssize_t encode_delivery(msg_t *m, pn_rwbytes_t *buf)
{
    pn_message_t *pm = pn_message();
    ssize_t n = -1;
    if (pm && pn_message_decode(pm, m->bytes, m->len) == 0) {
        pn_message_set_delivery_count(pm, m->deliveries);
        pn_data_t *a = pn_message_annotations(pm);
        pn_data_clear(a);
        pn_data_put_map(a);
        pn_data_enter(a);
        put_annotation_long(a, "x-opt-sequence-number", m->seq, false);
        put_annotation_long(a, "x-opt-enqueued-time", m->enqueued_ms, true);
        put_annotation_long(a, "x-opt-locked-until", now_ms() + LOCK_MS, true);
        pn_data_exit(a);
        n = pn_message_encode2(pm, buf);
    }
    pn_message_free(pm);
    return n;
}

static void deliver(sb_store_t *e, rcv_t *r)
{
    for (msg_t *m = e->head; m && pn_link_credit(r->link) > 0; m = m->next) {
        if (m->holder || strcmp(m->entity, r->entity) != 0)
            continue;
        pn_rwbytes_t buf = {0, NULL};
        ssize_t n = encode_delivery(m, &buf);
        uint8_t tag[16];
        e->tag++;
        memset(tag, 0, sizeof tag);
        memcpy(tag, &e->tag, sizeof e->tag);
        tag[15] = 0x5b;
        pn_delivery_t *d = pn_delivery(r->link, pn_dtag((const char *)tag, sizeof tag));
        pn_delivery_set_context(d, m);
        if (n > 0)
            pn_link_send(r->link, buf.start, (size_t)n);
        else
            pn_link_send(r->link, m->bytes, m->len);
        free(buf.start);
        pn_link_advance(r->link);
        m->holder = r;
        m->deliveries++;
        sb_peer_note(e->peer, "deliver %s", m->entity);
    }
}

void sb_store_pump(sb_store_t *e, pn_connection_t *c)
{
    pthread_mutex_lock(&e->mu);
    for (rcv_t *r = e->rcvs; r; r = r->next)
        if (r->conn == c && r->link)
            deliver(e, r);
    pthread_mutex_unlock(&e->mu);
}

int sb_peer_entity_depth(sb_peer_t *p, const char *entity)
{
    sb_store_t *e = sb_peer_store(p);
    int n = 0;
    pthread_mutex_lock(&e->mu);
    for (msg_t *m = e->head; m; m = m->next)
        n += strcmp(m->entity, entity) == 0;
    pthread_mutex_unlock(&e->mu);
    return n;
}

void sb_peer_session_lock_properties(pn_link_t *l)
{
    pn_data_t *props = pn_link_properties(l);
    const char *key = "com.microsoft:locked-until-utc";
    int64_t ticks = (now_ms() + 5 * LOCK_MS) * 10000 + INT64_C(621355968000000000);
    pn_data_clear(props);
    pn_data_put_map(props);
    pn_data_enter(props);
    pn_data_put_symbol(props, pn_bytes(strlen(key), key));
    pn_data_put_long(props, ticks);
    pn_data_exit(props);
}

/* The data sections of an SDK batch, each an encoded message; 0 when this is not a batch. */
static int unbatch(const char *bytes, size_t len, pn_bytes_t *items, int max)
{
    pn_data_t *d = pn_data(4);
    int n = 0;
    bool batch = true, any = false;
    for (size_t off = 0; off < len && batch;) {
        pn_data_clear(d);
        ssize_t used = pn_data_decode(d, bytes + off, len - off);
        if (used <= 0) {
            batch = false;
            break;
        }
        pn_data_rewind(d);
        uint64_t code = 0;
        bool data_section = false;
        if (pn_data_next(d) && pn_data_type(d) == PN_DESCRIBED) {
            pn_data_enter(d);
            pn_data_next(d);
            code = pn_data_type(d) == PN_ULONG ? pn_data_get_ulong(d) : 0;
            data_section = code == 0x75 && pn_data_next(d) && pn_data_type(d) == PN_BINARY;
            if (data_section) {
                pn_bytes_t b = pn_data_get_binary(d);
                /* an encoded message starts with a described section 0x70..0x78 */
                if (b.size >= 3 && b.start[0] == 0 && b.start[1] == 0x53 &&
                    (unsigned char)b.start[2] >= 0x70 && (unsigned char)b.start[2] <= 0x78 &&
                    n < max) {
                    /* point into the original bytes: the binary is the tail of this value */
                    items[n++] = pn_bytes(b.size, bytes + off + (size_t)used - b.size);
                    any = true;
                } else {
                    batch = false;
                }
            }
        }
        off += (size_t)used;
    }
    pn_data_free(d);
    return batch && any ? n : 0;
}

bool sb_peer_store_each(sb_peer_t *p, bool session, const char *target, const char *bytes,
                        size_t len, const char **cond, const char **desc)
{
    pn_bytes_t items[64];
    int n = unbatch(bytes, len, items, 64);
    if (n == 0)
        items[n++] = pn_bytes(len, bytes);
    bool ok = true;
    for (int i = 0; ok && i < n; i++) {
        /* the service gives a message without MessageId one */
        pn_rwbytes_t own = {0, NULL};
        pn_message_t *pm = pn_message();
        if (pm && pn_message_decode(pm, items[i].start, items[i].size) == 0 &&
            pn_message_get_id(pm).type == PN_NULL) {
            static uint64_t counter;
            char id[64];
            snprintf(id, sizeof id, "%016llx%016llx", (unsigned long long)now_ms(),
                     (unsigned long long)++counter);
            pn_message_set_id(
                pm, (pn_msgid_t){.type = PN_STRING, .u.as_bytes = pn_bytes(strlen(id), id)});
            ssize_t k = pn_message_encode2(pm, &own);
            if (k > 0)
                items[i] = pn_bytes((size_t)k, own.start);
        }
        pn_message_free(pm);
        ok = session ? sb_sessions_store(sb_peer_sessions(p), target, items[i].start, items[i].size,
                                         cond, desc)
                     : sb_store_store(sb_peer_store(p), target, items[i].start, items[i].size, cond,
                                      desc);
        free(own.start);
    }
    return ok;
}
