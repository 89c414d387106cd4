/* Per-endpoint circuit breakers (see breaker.h). */
#include "breaker.h"

#include <stdlib.h>
#include <string.h>

typedef struct entry {
    char *name;
    aos_circuit_t circuit;
    struct entry *next;
} entry_t;

struct runner_breakers {
    aos_circuit_config_t cfg;
    entry_t *head;
};

aos_result runner_breakers_new(const aos_circuit_config_t *cfg, runner_breakers_t **out)
{
    if (!out)
        return AOS_ERR_INVALID;
    runner_breakers_t *b = calloc(1, sizeof *b);
    if (!b)
        return AOS_ERR_NOMEM;
    if (cfg)
        b->cfg = *cfg;
    *out = b;
    return AOS_OK;
}

void runner_breakers_free(runner_breakers_t *b)
{
    if (!b)
        return;
    for (entry_t *e = b->head, *next; e; e = next) {
        next = e->next;
        aos_circuit_destroy(&e->circuit);
        free(e->name);
        free(e);
    }
    free(b);
}

aos_circuit_t *runner_breakers_get(runner_breakers_t *b, const char *name)
{
    if (!b || !name)
        return NULL;
    for (entry_t *e = b->head; e; e = e->next)
        if (strcmp(e->name, name) == 0)
            return &e->circuit;
    entry_t *e = calloc(1, sizeof *e);
    if (!e || !(e->name = strdup(name))) {
        free(e);
        return NULL;
    }
    aos_circuit_init(&e->circuit, &b->cfg);
    e->next = b->head;
    b->head = e;
    return &e->circuit;
}
