/* sb_peer: session-enabled queues the way Service Bus treats them. Messages sent to such a
 * queue must carry a group-id (SessionId) and are stored; a receiver must attach with the
 * com.microsoft:session-filter source filter (else amqp:not-allowed, the service's own text);
 * a string value asks for that session (refused with com.microsoft:session-cannot-be-locked
 * while another link holds it), null for the next session with messages nobody holds (the
 * attach waits until there is one). The attach answer echoes the filter with the locked
 * session id. Deliveries of a session go, in order, only to the link holding its lock;
 * accepted/rejected ones are removed, released/modified ones become available again, and so
 * do a link's unsettled ones when it detaches (the lock is released then too).
 *
 * Every other queue is stored the same way with no session: any receiver gets any message
 * nobody holds. Rejected messages move to "<queue>/$deadletterqueue" with the rejection's
 * condition and description as the application properties DeadLetterReason and
 * DeadLetterErrorDescription (as the service does); released/modified ones count a delivery
 * (header delivery-count) and become available again. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <proton/codec.h>
#include <proton/condition.h>
#include <proton/disposition.h>
#include <proton/message.h>
#include <proton/proactor.h>
#include <proton/terminus.h>

#include "sb_peer_hooks.h"
#include "sb_peer_internal.h"

#define FILTER_KEY "com.microsoft:session-filter"
#define FILTER_CODE 0x00000137000000CULL
#define MAX_CONNS 32
#define NAME_MAX_LEN 128

typedef struct rcv {
    struct rcv *next;
    pn_link_t *link; /* NULL once detached */
    pn_connection_t *conn;
    char queue[NAME_MAX_LEN];
    char session[NAME_MAX_LEN]; /* locked session; "" while waiting for one */
    bool opened;
    bool plain;             /* a queue without sessions: any message */
    uint64_t lock_until_ms; /* session lock (0: none) */
    bool plain_filter;      /* the filter value came undescribed (as Microsoft's SDKs send it) */
} rcv_t;

typedef struct msg {
    struct msg *next;
    char queue[NAME_MAX_LEN];
    char group[NAME_MAX_LEN];
    char *bytes;
    size_t len;
    uint32_t deliveries;     /* failed deliveries so far (header delivery-count) */
    rcv_t *holder;           /* delivered, not yet settled */
    pn_delivery_t *pn;       /* while held */
    unsigned char token[16]; /* lock token = delivery tag, while held */
    uint64_t lock_until_ms;  /* message lock (0: none) */
} msg_t;

struct sb_sessions {
    sb_peer_t *peer;
    pthread_mutex_t mu; /* prefixes (set from the test thread) */
    char prefixes[512];
    pn_connection_t *conns[MAX_CONNS];
    rcv_t *rcvs;
    msg_t *head, *tail;
    uint64_t tag;
    uint64_t lock_ms; /* under mu; 0: locks never expire */
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t lock_ms(sb_sessions_t *s)
{
    pthread_mutex_lock(&s->mu);
    uint64_t v = s->lock_ms;
    pthread_mutex_unlock(&s->mu);
    return v;
}

void sb_sessions_set_lock_duration(sb_sessions_t *s, uint64_t ms)
{
    pthread_mutex_lock(&s->mu);
    s->lock_ms = ms;
    pthread_mutex_unlock(&s->mu);
}

sb_sessions_t *sb_sessions_new(sb_peer_t *p)
{
    sb_sessions_t *s = calloc(1, sizeof *s);
    if (s) {
        s->peer = p;
        pthread_mutex_init(&s->mu, NULL);
    }
    return s;
}

void sb_sessions_free(sb_sessions_t *s)
{
    if (!s)
        return;
    while (s->rcvs) {
        rcv_t *r = s->rcvs;
        s->rcvs = r->next;
        free(r);
    }
    while (s->head) {
        msg_t *m = s->head;
        s->head = m->next;
        free(m->bytes);
        free(m);
    }
    pthread_mutex_destroy(&s->mu);
    free(s);
}

void sb_sessions_set_queues(sb_sessions_t *s, const char *prefixes)
{
    pthread_mutex_lock(&s->mu);
    snprintf(s->prefixes, sizeof s->prefixes, "%s", prefixes ? prefixes : "");
    pthread_mutex_unlock(&s->mu);
}

bool sb_sessions_is_session_queue(sb_sessions_t *s, const char *address)
{
    bool yes = false;
    pthread_mutex_lock(&s->mu);
    for (const char *p = s->prefixes; *p && !yes;) {
        size_t n = strcspn(p, ",");
        yes = n > 0 && strncmp(address, p, n) == 0 && !strchr(address, '/');
        p += n + (p[n] == ',');
    }
    pthread_mutex_unlock(&s->mu);
    return yes;
}

static void wake_others(sb_sessions_t *s, pn_connection_t *self)
{
    for (int i = 0; i < MAX_CONNS; i++)
        if (s->conns[i] && s->conns[i] != self)
            pn_connection_wake(s->conns[i]);
}

void sb_sessions_conn_open(sb_sessions_t *s, pn_connection_t *c)
{
    for (int i = 0; i < MAX_CONNS; i++) {
        if (!s->conns[i]) {
            s->conns[i] = c;
            return;
        }
    }
}

static void rcv_release(sb_sessions_t *s, rcv_t *r)
{
    for (msg_t *m = s->head; m; m = m->next)
        if (m->holder == r) {
            m->holder = NULL;
            m->pn = NULL;
        }
    if (r->session[0])
        sb_peer_note(s->peer, "session-unlock %s %s", r->queue, r->session);
    r->session[0] = '\0';
    r->link = NULL;
}

void sb_sessions_conn_gone(sb_sessions_t *s, pn_connection_t *c)
{
    for (int i = 0; i < MAX_CONNS; i++)
        if (s->conns[i] == c)
            s->conns[i] = NULL;
    for (rcv_t *r = s->rcvs; r; r = r->next)
        if (r->conn == c && r->link)
            rcv_release(s, r);
    wake_others(s, c);
}

void sb_sessions_link_gone(sb_sessions_t *s, pn_link_t *l)
{
    for (rcv_t *r = s->rcvs; r; r = r->next) {
        if (r->link != l)
            continue;
        for (pn_delivery_t *d = pn_unsettled_head(l); d; d = pn_unsettled_next(d))
            pn_delivery_set_context(d, NULL);
        rcv_release(s, r);
        wake_others(s, NULL);
        return;
    }
}

static bool locked(sb_sessions_t *s, const char *queue, const char *session)
{
    for (rcv_t *r = s->rcvs; r; r = r->next)
        if (r->link && strcmp(r->queue, queue) == 0 && strcmp(r->session, session) == 0)
            return true;
    return false;
}

/* The filter on the client's source: 0 none, 1 a session id (copied to out), 2 null; 3 and 4
 * the same undescribed (as Microsoft's SDKs send it). */
static int read_filter(pn_link_t *l, char *out, size_t outlen)
{
    pn_data_t *f = pn_terminus_filter(pn_link_remote_source(l));
    pn_data_rewind(f);
    if (!pn_data_next(f) || pn_data_type(f) != PN_MAP)
        return 0;
    pn_data_enter(f);
    int kind = 0;
    while (!kind && pn_data_next(f)) {
        bool match = pn_data_type(f) == PN_SYMBOL &&
                     pn_data_get_symbol(f).size == strlen(FILTER_KEY) &&
                     memcmp(pn_data_get_symbol(f).start, FILTER_KEY, strlen(FILTER_KEY)) == 0;
        if (!pn_data_next(f))
            break;
        if (match && pn_data_type(f) == PN_STRING) { /* undescribed, as the SDK sends it */
            pn_bytes_t b = pn_data_get_string(f);
            snprintf(out, outlen, "%.*s", (int)b.size, b.start);
            kind = 3;
            break;
        }
        if (match && pn_data_type(f) == PN_NULL) {
            kind = 4;
            break;
        }
        if (!match || pn_data_type(f) != PN_DESCRIBED)
            continue;
        pn_data_enter(f);
        pn_data_next(f);
        bool code_ok = pn_data_type(f) == PN_ULONG && pn_data_get_ulong(f) == FILTER_CODE;
        pn_data_next(f);
        if (code_ok && pn_data_type(f) == PN_STRING) {
            pn_bytes_t b = pn_data_get_string(f);
            snprintf(out, outlen, "%.*s", (int)b.size, b.start);
            kind = 1;
        } else if (code_ok && pn_data_type(f) == PN_NULL) {
            kind = 2;
        }
        pn_data_exit(f);
    }
    pn_data_exit(f);
    return kind;
}

static void refuse(sb_sessions_t *s, pn_link_t *l, const char *cond, const char *desc)
{
    pn_link_open(l);
    pn_condition_set_name(pn_link_condition(l), cond);
    pn_condition_set_description(pn_link_condition(l), desc);
    pn_link_close(l);
    sb_peer_note(s->peer, "attach-refused %s %s", pn_terminus_get_address(pn_link_remote_source(l)),
                 cond);
}

/* Open l as the holder of r->session, echoing it in the source filter. */
static void grant(sb_sessions_t *s, rcv_t *r)
{
    pn_data_t *f = pn_terminus_filter(pn_link_source(r->link));
    pn_data_clear(f);
    pn_data_put_map(f);
    pn_data_enter(f);
    pn_data_put_symbol(f, pn_bytes(strlen(FILTER_KEY), FILTER_KEY));
    if (r->plain_filter) {
        pn_data_put_string(f, pn_bytes(strlen(r->session), r->session));
    } else {
        pn_data_put_described(f);
        pn_data_enter(f);
        pn_data_put_ulong(f, FILTER_CODE);
        pn_data_put_string(f, pn_bytes(strlen(r->session), r->session));
        pn_data_exit(f);
    }
    pn_data_exit(f);
    sb_peer_session_lock_properties(r->link);
    pn_link_open(r->link);
    r->opened = true;
    uint64_t lm = lock_ms(s);
    r->lock_until_ms = lm ? now_ms() + lm : 0;
    sb_peer_note(s->peer, "session-lock %s %s", r->queue, r->session);
}

static rcv_t *rcv_add(sb_sessions_t *s, pn_connection_t *c, pn_link_t *l, const char *q)
{
    rcv_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->link = l;
    r->conn = c;
    snprintf(r->queue, sizeof r->queue, "%s", q);
    r->next = s->rcvs;
    s->rcvs = r;
    return r;
}

void sb_sessions_attach_plain(sb_sessions_t *s, pn_connection_t *c, pn_link_t *l)
{
    const char *q = pn_terminus_get_address(pn_link_remote_source(l));
    rcv_t *r = rcv_add(s, c, l, q ? q : "");
    char *dlq = r ? strcasestr(r->queue, "/$deadletterqueue") : NULL;
    if (dlq) /* entity paths are case-insensitive; Microsoft's SDKs say $DeadLetterQueue */
        memcpy(dlq, "/$deadletterqueue", strlen("/$deadletterqueue"));
    if (!r) {
        refuse(s, l, "amqp:internal-error", "out of memory");
        return;
    }
    r->plain = true;
    r->opened = true;
    pn_link_open(l);
    sb_sessions_pump(s, c);
}

void sb_sessions_attach(sb_sessions_t *s, pn_connection_t *c, pn_link_t *l)
{
    const char *q = pn_terminus_get_address(pn_link_remote_source(l));
    char id[NAME_MAX_LEN] = "";
    int kind = read_filter(l, id, sizeof id);
    bool undescribed = kind > 2;
    if (undescribed)
        kind -= 2;
    if (kind == 0) {
        refuse(s, l, "amqp:not-allowed",
               "It is not possible for an entity that requires sessions to create a "
               "non-sessionful message receiver.");
        return;
    }
    if (kind == 1 && (!id[0] || locked(s, q, id))) {
        refuse(s, l, "com.microsoft:session-cannot-be-locked",
               "The requested session cannot be accepted. It may be locked by another receiver.");
        return;
    }
    rcv_t *r = rcv_add(s, c, l, q);
    if (!r) {
        refuse(s, l, "amqp:internal-error", "out of memory");
        return;
    }
    r->plain_filter = undescribed;
    if (kind == 1) {
        snprintf(r->session, sizeof r->session, "%s", id);
        grant(s, r);
    }
    sb_sessions_pump(s, c); /* next available: granted as soon as a session has messages */
}

bool sb_sessions_store(sb_sessions_t *s, const char *address, const char *bytes, size_t len,
                       const char **cond, const char **desc)
{
    pn_message_t *pm = pn_message();
    const char *g = NULL;
    bool sessions = sb_sessions_is_session_queue(s, address);
    if (pm && pn_message_decode(pm, bytes, len) == 0)
        g = pn_message_get_group_id(pm);
    if (!sessions)
        g = ""; /* stored without a session */
    msg_t *m = g && (*g || !sessions) && strlen(g) < NAME_MAX_LEN ? calloc(1, sizeof *m) : NULL;
    if (m && (m->bytes = malloc(len ? len : 1))) {
        memcpy(m->bytes, bytes, len);
        m->len = len;
        snprintf(m->queue, sizeof m->queue, "%s", address);
        snprintf(m->group, sizeof m->group, "%s", g);
    } else if (m) {
        free(m);
        m = NULL;
    }
    pn_message_free(pm);
    if (!m) {
        *cond = "amqp:not-allowed";
        *desc = "The SessionId was not set on a message, and it cannot be sent to the entity. "
                "Entities that have session support enabled can only receive messages that "
                "have the SessionId set to a valid value.";
        return false;
    }
    if (s->tail)
        s->tail->next = m;
    else
        s->head = m;
    s->tail = m;
    wake_others(s, NULL);
    return true;
}

static void remove_msg(sb_sessions_t *s, msg_t *m)
{
    msg_t *prev = NULL;
    for (msg_t *x = s->head; x; prev = x, x = x->next) {
        if (x != m)
            continue;
        if (prev)
            prev->next = m->next;
        else
            s->head = m->next;
        if (s->tail == m)
            s->tail = prev;
        free(m->bytes);
        free(m);
        return;
    }
}

static void put_str_prop(pn_data_t *p, const char *k, const char *v)
{
    pn_data_put_string(p, pn_bytes(strlen(k), k));
    pn_data_put_string(p, pn_bytes(strlen(v), v));
}

/* A copy of m's bytes for its dead-letter queue with the reason properties; NULL if m is no
 * AMQP message (then it is only dropped). */
static msg_t *dead_letter_copy(const msg_t *m, const char *reason, const char *desc)
{
    pn_message_t *pm = pn_message();
    msg_t *dl = calloc(1, sizeof *dl);
    if (!pm || !dl || pn_message_decode(pm, m->bytes, m->len) != 0) {
        pn_message_free(pm);
        free(dl);
        return NULL;
    }
    pn_data_t *p = pn_message_properties(pm);
    pn_data_rewind(p);
    if (!pn_data_next(p) || pn_data_type(p) != PN_MAP) {
        pn_data_clear(p);
        pn_data_put_map(p);
    }
    pn_data_enter(p);
    while (pn_data_next(p))
        ;
    put_str_prop(p, "DeadLetterReason", reason);
    put_str_prop(p, "DeadLetterErrorDescription", desc);
    pn_data_exit(p);
    pn_message_set_delivery_count(pm, m->deliveries);
    pn_rwbytes_t buf = {0, NULL};
    ssize_t n = pn_message_encode2(pm, &buf);
    pn_message_free(pm);
    if (n <= 0) {
        free(buf.start);
        free(dl);
        return NULL;
    }
    dl->bytes = buf.start;
    dl->len = (size_t)n;
    snprintf(dl->queue, sizeof dl->queue, "%.100s/$deadletterqueue", m->queue);
    return dl;
}

static void dead_letter(sb_sessions_t *s, msg_t *m, const char *reason, const char *desc)
{
    sb_peer_note(s->peer, "dead-letter %s %s", m->queue, reason);
    msg_t *dl = strstr(m->queue, "/$deadletterqueue") ? NULL : dead_letter_copy(m, reason, desc);
    remove_msg(s, m);
    if (!dl)
        return;
    if (s->tail)
        s->tail->next = dl;
    else
        s->head = dl;
    s->tail = dl;
}

void sb_sessions_outcome(sb_sessions_t *s, pn_delivery_t *d)
{
    msg_t *m = pn_delivery_get_context(d);
    if (!m)
        return;
    pn_delivery_set_context(d, NULL);
    m->pn = NULL;
    uint64_t st = pn_delivery_remote_state(d);
    if (st == PN_ACCEPTED) {
        remove_msg(s, m);
    } else if (st == PN_REJECTED) {
        char reason[256], desc[1024];
        sb_peer_rejection(d, reason, sizeof reason, desc, sizeof desc);
        dead_letter(s, m, reason, desc);
    } else {
        /* released: not an attempt; modified with delivery-failed: one more */
        if (st == PN_MODIFIED && pn_disposition_is_failed(pn_delivery_remote(d)))
            m->deliveries++;
        m->holder = NULL;
    }
    wake_others(s, NULL);
}

/* A session of queue with available messages that nobody holds. */
static const char *free_session(sb_sessions_t *s, const char *queue)
{
    for (msg_t *m = s->head; m; m = m->next)
        if (!m->holder && strcmp(m->queue, queue) == 0 && !locked(s, queue, m->group))
            return m->group;
    return NULL;
}

/* The message with its header delivery-count as the service keeps it. */
static void send_with_count(pn_link_t *l, const msg_t *m)
{
    pn_message_t *pm = m->deliveries ? pn_message() : NULL;
    pn_rwbytes_t buf = {0, NULL};
    ssize_t n = -1;
    if (pm && pn_message_decode(pm, m->bytes, m->len) == 0) {
        pn_message_set_delivery_count(pm, m->deliveries);
        n = pn_message_encode2(pm, &buf);
    }
    if (n > 0)
        pn_link_send(l, buf.start, (size_t)n);
    else
        pn_link_send(l, m->bytes, m->len);
    free(buf.start);
    pn_message_free(pm);
}

static void deliver(sb_sessions_t *s, rcv_t *r)
{
    for (msg_t *m = s->head; m && pn_link_credit(r->link) > 0; m = m->next) {
        if (m->holder || strcmp(m->queue, r->queue) != 0 ||
            (!r->plain && strcmp(m->group, r->session) != 0))
            continue;
        /* the delivery tag is the lock token: 16 bytes, a uuid */
        s->tag++;
        memset(m->token, 0xA5, sizeof m->token);
        memcpy(m->token, &s->tag, sizeof s->tag);
        pn_delivery_t *d = pn_delivery(r->link, pn_dtag((const char *)m->token, sizeof m->token));
        pn_delivery_set_context(d, m);
        send_with_count(r->link, m);
        pn_link_advance(r->link);
        m->holder = r;
        m->pn = d;
        uint64_t lm = r->plain ? lock_ms(s) : 0; /* session messages: the session lock */
        m->lock_until_ms = lm ? now_ms() + lm : 0;
    }
}

/* Locks of connection c that ran out: messages go back (a delivery counted), sessions are
 * lost with their link. */
static void expire_locks(sb_sessions_t *s, pn_connection_t *c)
{
    uint64_t now = now_ms();
    for (msg_t *m = s->head; m; m = m->next) {
        if (!m->holder || m->holder->conn != c || !m->lock_until_ms || now < m->lock_until_ms)
            continue;
        sb_peer_note(s->peer, "lock-expired %s", m->queue);
        if (m->pn)
            pn_delivery_set_context(m->pn, NULL); /* a late settlement is ignored */
        m->pn = NULL;
        m->holder = NULL;
        m->lock_until_ms = 0;
        m->deliveries++;
    }
    for (rcv_t *r = s->rcvs; r; r = r->next) {
        if (r->conn != c || !r->link || r->plain || !r->session[0] || !r->lock_until_ms ||
            now < r->lock_until_ms)
            continue;
        sb_peer_note(s->peer, "session-lock-lost %s %s", r->queue, r->session);
        pn_link_t *l = r->link;
        for (pn_delivery_t *d = pn_unsettled_head(l); d; d = pn_unsettled_next(d))
            pn_delivery_set_context(d, NULL);
        for (msg_t *m = s->head; m; m = m->next)
            if (m->holder == r)
                m->deliveries++;
        rcv_release(s, r);
        pn_condition_set_name(pn_link_condition(l), "com.microsoft:session-lock-lost");
        pn_condition_set_description(pn_link_condition(l),
                                     "The session lock has expired on the MessageSession. "
                                     "Accept a new MessageSession.");
        pn_link_close(l);
    }
}

void sb_sessions_tick(sb_sessions_t *s)
{
    if (lock_ms(s))
        wake_others(s, NULL);
}

void sb_sessions_pump(sb_sessions_t *s, pn_connection_t *c)
{
    expire_locks(s, c);
    for (rcv_t *r = s->rcvs; r; r = r->next) {
        if (r->conn != c || !r->link)
            continue;
        if (!r->plain && !r->session[0]) {
            const char *g = free_session(s, r->queue);
            if (!g)
                continue;
            snprintf(r->session, sizeof r->session, "%s", g);
            grant(s, r);
        }
        deliver(s, r);
    }
}

uint64_t sb_sessions_renew_lock(sb_sessions_t *s, const char *queue, const unsigned char *token)
{
    uint64_t lm = lock_ms(s), now = now_ms();
    for (msg_t *m = s->head; m; m = m->next) {
        if (!m->holder || strcmp(m->queue, queue) != 0 || memcmp(m->token, token, 16) != 0)
            continue;
        if (m->lock_until_ms && now >= m->lock_until_ms)
            return 0;
        m->lock_until_ms = lm ? now + lm : 0;
        return lm ? m->lock_until_ms : now + 3600 * 1000;
    }
    return 0;
}

uint64_t sb_sessions_renew_session(sb_sessions_t *s, pn_connection_t *c, const char *queue,
                                   const char *session)
{
    uint64_t lm = lock_ms(s), now = now_ms();
    for (rcv_t *r = s->rcvs; r; r = r->next) {
        if (!r->link || r->conn != c || r->plain || strcmp(r->queue, queue) != 0 ||
            strcmp(r->session, session) != 0)
            continue;
        if (r->lock_until_ms && now >= r->lock_until_ms)
            return 0;
        r->lock_until_ms = lm ? now + lm : 0;
        return lm ? r->lock_until_ms : now + 3600 * 1000;
    }
    return 0;
}

uint64_t sb_sessions_now_ms(void)
{
    return now_ms();
}

sb_peer_t *sb_sessions_peer(sb_sessions_t *s)
{
    return s->peer;
}
