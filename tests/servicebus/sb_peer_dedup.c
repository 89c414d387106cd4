/* sb_peer: duplicate detection as Service Bus does it per entity with
 * requiresDuplicateDetection: a message whose message-id was already accepted by the same
 * entity within the window is acknowledged as accepted and silently dropped. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <proton/message.h>

#include "sb_peer_internal.h"

#define DEDUP_MAX 1024

typedef struct {
    char key[300]; /* entity + "\n" + message-id */
    uint64_t at_ms;
} seen_t;

struct sb_dedup {
    pthread_mutex_t mu;
    uint64_t window_ms; /* 0: off */
    seen_t seen[DEDUP_MAX];
    size_t next;
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

sb_dedup_t *sb_dedup_new(void)
{
    sb_dedup_t *d = calloc(1, sizeof *d);
    if (d)
        pthread_mutex_init(&d->mu, NULL);
    return d;
}

void sb_dedup_free(sb_dedup_t *d)
{
    if (!d)
        return;
    pthread_mutex_destroy(&d->mu);
    free(d);
}

void sb_dedup_set_window(sb_dedup_t *d, uint64_t window_ms)
{
    pthread_mutex_lock(&d->mu);
    d->window_ms = window_ms;
    pthread_mutex_unlock(&d->mu);
}

/* The message-id as text (string, uuid, ulong or binary as hex); false when absent. */
static bool message_id(const char *bytes, size_t len, char *out, size_t outlen)
{
    pn_message_t *m = pn_message();
    bool ok = false;
    if (m && pn_message_decode(m, bytes, len) == 0) {
        pn_atom_t id = pn_message_get_id(m);
        ok = true;
        switch (id.type) {
        case PN_STRING:
            snprintf(out, outlen, "s:%.*s", (int)id.u.as_bytes.size, id.u.as_bytes.start);
            break;
        case PN_ULONG:
            snprintf(out, outlen, "u:%llu", (unsigned long long)id.u.as_ulong);
            break;
        case PN_UUID:
        case PN_BINARY: {
            const unsigned char *b = id.type == PN_UUID
                                         ? (const unsigned char *)id.u.as_uuid.bytes
                                         : (const unsigned char *)id.u.as_bytes.start;
            size_t n = id.type == PN_UUID ? 16 : id.u.as_bytes.size;
            size_t o = (size_t)snprintf(out, outlen, "b:");
            for (size_t i = 0; i < n && o + 3 < outlen; i++)
                o += (size_t)snprintf(out + o, outlen - o, "%02x", b[i]);
            break;
        }
        default:
            ok = false;
        }
    }
    pn_message_free(m);
    return ok;
}

bool sb_dedup_is_duplicate(sb_dedup_t *d, const char *entity, const char *bytes, size_t len,
                           char *out_id, size_t idlen)
{
    pthread_mutex_lock(&d->mu);
    uint64_t window = d->window_ms;
    pthread_mutex_unlock(&d->mu);
    char id[200];
    if (!window || !message_id(bytes, len, id, sizeof id))
        return false;
    char key[300];
    snprintf(key, sizeof key, "%s\n%s", entity, id);
    snprintf(out_id, idlen, "%s", id + 2);
    uint64_t now = mono_ms();
    bool dup = false;
    pthread_mutex_lock(&d->mu);
    for (size_t i = 0; i < DEDUP_MAX && !dup; i++)
        dup =
            d->seen[i].at_ms && now - d->seen[i].at_ms < window && strcmp(d->seen[i].key, key) == 0;
    if (!dup) {
        seen_t *s = &d->seen[d->next++ % DEDUP_MAX];
        snprintf(s->key, sizeof s->key, "%s", key);
        s->at_ms = now ? now : 1;
    }
    pthread_mutex_unlock(&d->mu);
    return dup;
}
