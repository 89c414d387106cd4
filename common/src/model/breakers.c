/* Per-endpoint circuit breakers (aos/model_call.h). The map only grows: an entry lives until
 * aos_model_breakers_free, so a breaker pointer handed out stays valid, and lookups take the
 * map's lock only (the breakers lock themselves). */
#include "aos/model_call.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    char *name;
    aos_circuit_t circuit;
    struct entry *next;
} entry_t;

struct aos_model_breakers {
    pthread_mutex_t mu;
    aos_circuit_config_t cfg;
    entry_t *head;
};

aos_result aos_model_breakers_new(const aos_circuit_config_t *cfg, aos_model_breakers_t **out)
{
    if (!out)
        return AOS_ERR_INVALID;
    aos_model_breakers_t *b = calloc(1, sizeof *b);
    if (!b)
        return AOS_ERR_NOMEM;
    pthread_mutex_init(&b->mu, NULL);
    if (cfg)
        b->cfg = *cfg;
    *out = b;
    return AOS_OK;
}

void aos_model_breakers_free(aos_model_breakers_t *b)
{
    if (!b)
        return;
    for (entry_t *e = b->head, *next; e; e = next) {
        next = e->next;
        aos_circuit_destroy(&e->circuit);
        free(e->name);
        free(e);
    }
    pthread_mutex_destroy(&b->mu);
    free(b);
}

aos_circuit_t *aos_model_breakers_get(aos_model_breakers_t *b, const char *name)
{
    if (!b || !name)
        return NULL;
    pthread_mutex_lock(&b->mu);
    aos_circuit_t *found = NULL;
    for (entry_t *e = b->head; e && !found; e = e->next)
        if (strcmp(e->name, name) == 0)
            found = &e->circuit;
    if (!found) {
        entry_t *e = calloc(1, sizeof *e);
        if (e && (e->name = strdup(name))) {
            aos_circuit_init(&e->circuit, &b->cfg);
            e->next = b->head;
            b->head = e;
            found = &e->circuit;
        } else {
            free(e);
        }
    }
    pthread_mutex_unlock(&b->mu);
    return found;
}
