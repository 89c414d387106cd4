/* Internal hooks of sb_peer.c into sb_peer_store.c and sb_peer_tls.c (see
 * sb_peer_store.h). The sb_store_* calls taking a connection run on the peer's proactor
 * thread while it handles that connection's events. */
#ifndef AOS_TEST_SB_PEER_HOOKS_H
#define AOS_TEST_SB_PEER_HOOKS_H

#include <stdbool.h>
#include <stddef.h>

#include <proton/connection.h>
#include <proton/delivery.h>
#include <proton/link.h>
#include <proton/transport.h>

#include "sb_peer_store.h"

#define SB_PEER_MAX_MESSAGE (256u * 1024u) /* Standard tier */

typedef struct sb_store sb_store_t;

sb_store_t *sb_store_new(sb_peer_t *p);
void sb_store_free(sb_store_t *e);
sb_store_t *sb_peer_store(sb_peer_t *p);
/* Does the entity module serve this address (declared, or anything once declared)? */
bool sb_store_claims(sb_store_t *e, const char *address);
/* A client link on a claimed address: open it, or refuse it. */
void sb_store_attach(sb_store_t *e, pn_connection_t *c, pn_link_t *l, const char *address);
/* Is l one of our delivering links (its deliveries' outcomes are ours)? */
bool sb_store_owns(sb_store_t *e, pn_link_t *l);
bool sb_store_store(sb_store_t *e, const char *address, const char *bytes, size_t len,
                    const char **cond, const char **desc);
void sb_store_outcome(sb_store_t *e, pn_delivery_t *d);
void sb_store_link_gone(sb_store_t *e, pn_link_t *l);
void sb_store_conn_open(sb_store_t *e, pn_connection_t *c);
void sb_store_conn_gone(sb_store_t *e, pn_connection_t *c);
void sb_store_pump(sb_store_t *e, pn_connection_t *c);
/* Dead-letter a copy of a message of another module (session queues) into queue/$deadletterqueue.
 */
void sb_store_dead_letter(sb_store_t *e, const char *queue, const char *bytes, size_t len,
                          pn_delivery_t *d);

/* Store a transfer to target (a session queue when session): each message of a batch
 * (Microsoft's SDKs send several messages as one whose data sections each hold an encoded
 * message, message-format 0x80013700) or the message itself. */
bool sb_peer_store_each(sb_peer_t *p, bool session, const char *target, const char *bytes,
                        size_t len, const char **cond, const char **desc);

/* Why a client rejected d: DeadLetterReason / DeadLetterErrorDescription from the condition's
 * info (what Microsoft's SDKs send for deadLetterMessage), else the condition itself. */
void sb_peer_rejection(pn_delivery_t *d, char *reason, size_t rlen, char *desc, size_t dlen);

/* Link properties of a granted session receiver: com.microsoft:locked-until-utc (.NET ticks,
 * what the SDK reads to schedule its session lock renewal). */
void sb_peer_session_lock_properties(pn_link_t *l);

/* TLS (sb_peer_tls.c): set up the server side of an accepted transport when TLS is on. */
void sb_peer_tls_apply(sb_peer_t *p, pn_transport_t *t);
void sb_peer_tls_free(sb_peer_t *p);
/* "sb://host:port/path" -> "sb://host/path" in place (audiences compare without a port). */
void sb_peer_audience_strip_port(char *uri);

#endif
