/* A minimal Proton proactor client loop for the CBS tests: connects to the test peer with
 * SASL ANONYMOUS, drives an aos_cbs_t, and optionally attaches a sender to one entity and
 * sends one message. Scenario logic lives in a step function called after every event. */
#ifndef AOS_TEST_CBS_CLIENT_H
#define AOS_TEST_CBS_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include <proton/connection.h>
#include <proton/link.h>
#include <proton/proactor.h>

#include "aos/servicebus.h"

typedef struct cbs_client cbs_client_t;
typedef void (*cbs_client_step)(cbs_client_t *cl);

struct cbs_client {
    /* set by the test */
    aos_cbs_t *cbs;        /* may be NULL: no CBS at all */
    const char *attach_to; /* entity to send one message to once authorized (or at once) */
    cbs_client_step step;  /* scenario hook, may be NULL */
    void *ctx;
    int phase;
    /* results */
    bool entity_refused;
    char entity_condition[256];
    uint64_t outcome; /* remote state of the sent message (PN_ACCEPTED, ...) */
    bool timed_out;
    /* internals */
    pn_proactor_t *proactor;
    pn_connection_t *conn;
    pn_link_t *entity;
    bool sent, closing;
};

/* Run until the scenario finishes (cbs_client_finish) or a 20 s hang guard fires. */
void cbs_client_run(cbs_client_t *cl, int port);
/* Open the entity sender now. */
void cbs_client_attach(cbs_client_t *cl);
/* Close the connection and let the loop end. */
void cbs_client_finish(cbs_client_t *cl);

#endif
