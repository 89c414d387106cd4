/* Shared between cbs.c (state, requests) and cbs_events.c (Proton event handling). */
#ifndef AOS_CBS_INTERNAL_H
#define AOS_CBS_INTERNAL_H

#include <proton/link.h>
#include <proton/session.h>

#include "aos/servicebus.h"

/* Answers are a few hundred bytes; anything bigger is not a CBS answer. */
#define CBS_MAX_ANSWER 65536

/* Send the wanted put-token if the sender has credit. */
aos_result aos_cbs_send_pending(aos_cbs_t *c);
/* A put-token answer arrived (status-code, status-description). */
void aos_cbs_answer(aos_cbs_t *c, const char *correlation_id, int status, const char *desc);
/* The exchange failed for a reason other than a status-code (link error, rejection). */
void aos_cbs_fail(aos_cbs_t *c, const char *detail);
/* The connection is gone: forget its objects, go IDLE. */
void aos_cbs_lost(aos_cbs_t *c);
/* Whether link (or, for session events, ssn) is one of the CBS's. */
bool aos_cbs_owns(const aos_cbs_t *c, pn_link_t *link, pn_session_t *ssn);
/* A CBS link or session reached its final event: drop the pointer. */
void aos_cbs_forget(aos_cbs_t *c, pn_link_t *link, pn_session_t *ssn);
pn_link_t *aos_cbs_sender(const aos_cbs_t *c);
pn_link_t *aos_cbs_receiver(const aos_cbs_t *c);
pn_connection_t *aos_cbs_connection(const aos_cbs_t *c);

/* Decode a put-token answer (an encoded AMQP message): correlation-id as text, status-code
 * (0 when absent) and status-description. AOS_ERR_PROTOCOL if it is not a message. Pure;
 * fuzzed by tests/servicebus/fuzz_cbs_answer.c. */
aos_result aos_cbs_parse_answer(const char *bytes, size_t size, char *corr, size_t corrlen,
                                int *status, char *desc, size_t desclen);

#endif
