/* sb_peer: which entities exist. Service Bus refuses a link to an entity that does not exist
 * the way it refuses every link: an attach (with no terminus of its own) immediately followed
 * by a detach carrying the condition, here amqp:not-found with the service's text. With no
 * list set every address exists (the peer's original behaviour). Entity of an address: the
 * part before "/$deadletterqueue", "/Subscriptions/<s>" or "/$management". */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sb_peer_internal.h"

#define MAX_REFUSAL_COUNTS 32

struct sb_entities {
    pthread_mutex_t mu;
    bool restricted;
    char names[4096]; /* ",a,b,c," */
    struct {
        char address[128];
        int n;
    } refusals[MAX_REFUSAL_COUNTS];
};

sb_entities_t *sb_entities_new(void)
{
    sb_entities_t *e = calloc(1, sizeof *e);
    if (e)
        pthread_mutex_init(&e->mu, NULL);
    return e;
}

void sb_entities_free(sb_entities_t *e)
{
    if (!e)
        return;
    pthread_mutex_destroy(&e->mu);
    free(e);
}

void sb_entities_set(sb_entities_t *e, const char *names)
{
    pthread_mutex_lock(&e->mu);
    e->restricted = names != NULL;
    snprintf(e->names, sizeof e->names, ",%s,", names ? names : "");
    pthread_mutex_unlock(&e->mu);
}

void sb_entity_of(const char *address, char *out, size_t outlen)
{
    size_t n = strlen(address);
    const char *cut[] = {"/$deadletterqueue", "/Subscriptions/", "/subscriptions/", "/$management"};
    for (size_t i = 0; i < sizeof cut / sizeof *cut; i++) {
        const char *p = strstr(address, cut[i]);
        if (p && (size_t)(p - address) < n)
            n = (size_t)(p - address);
    }
    snprintf(out, outlen, "%.*s", (int)n, address);
}

bool sb_entities_exist(sb_entities_t *e, const char *address)
{
    char ent[256], needle[260];
    sb_entity_of(address, ent, sizeof ent);
    snprintf(needle, sizeof needle, ",%s,", ent);
    pthread_mutex_lock(&e->mu);
    bool yes = !e->restricted || strcasestr(e->names, needle) != NULL;
    pthread_mutex_unlock(&e->mu);
    return yes;
}

void sb_entities_count_refusal(sb_entities_t *e, const char *address)
{
    pthread_mutex_lock(&e->mu);
    for (int i = 0; i < MAX_REFUSAL_COUNTS; i++) {
        if (!e->refusals[i].address[0])
            snprintf(e->refusals[i].address, sizeof e->refusals[i].address, "%s", address);
        if (strcmp(e->refusals[i].address, address) == 0) {
            e->refusals[i].n++;
            break;
        }
    }
    pthread_mutex_unlock(&e->mu);
}

int sb_entities_refusals(sb_entities_t *e, const char *address)
{
    int n = 0;
    pthread_mutex_lock(&e->mu);
    for (int i = 0; i < MAX_REFUSAL_COUNTS; i++)
        if (strcmp(e->refusals[i].address, address) == 0)
            n = e->refusals[i].n;
    pthread_mutex_unlock(&e->mu);
    return n;
}
