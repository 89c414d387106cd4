/* sb_peer extensions for whole-stack tests and Microsoft's SDK (docs/servicebus.md, "The
 * standalone peer"): TLS with a test certificate, declared non-session queues, topics with
 * subscriptions, dead-letter queues, and a port-insensitive namespace audience (the SDK puts
 * sb://<host>:<port>/<entity> when the connection string's Endpoint names a port).
 *
 * Entities (sb_peer_store.c). Once anything is declared, the peer stores and delivers:
 * - a queue Q (not session-enabled): transfers are stored; receivers on Q get them in order,
 *   peek-lock: accepted = completed; released/modified = back with delivery-count + 1 (after
 *   max deliveries: dead-lettered, reason MaxDeliveryCountExceeded); rejected = dead-lettered
 *   with DeadLetterReason / DeadLetterErrorDescription from the condition (or its info map).
 * - a topic T with subscriptions S1..Sn: a transfer to T is copied to every T/Subscriptions/Si
 *   (received like queues); a receiver on T itself is refused (amqp:not-allowed).
 * - Q/$deadletterqueue, T/Subscriptions/S/$deadletterqueue: receivable like queues.
 * - an undeclared address that is not session-enabled: attach refused with amqp:not-found
 *   (as the service does for an entity that does not exist), once anything is declared.
 * Deliveries carry x-opt-sequence-number, x-opt-enqueued-time and x-opt-locked-until message
 * annotations, a 16-byte delivery tag (the SDK's lock token) and the header's delivery-count.
 * Log lines: "store <entity>", "deliver <entity>", "complete <entity>", "dead-letter <entity>
 * <reason>", "attach-refused <address> amqp:not-found".
 * All functions here are thread-safe. */
#ifndef AOS_TEST_SB_PEER_STORE_H
#define AOS_TEST_SB_PEER_STORE_H

#include <stdbool.h>

#include "sb_peer.h"

/* Serve TLS with this PEM certificate chain and key (call before clients connect). 0 on
 * success, -1 (message on stderr) when Proton cannot load them. */
int sb_peer_set_tls(sb_peer_t *p, const char *cert_pem_file, const char *key_pem_file);
/* Declare comma-separated plain queues. */
void sb_peer_declare_queues(sb_peer_t *p, const char *names);
/* Declare topic with comma-separated subscriptions. */
void sb_peer_declare_topic(sb_peer_t *p, const char *topic, const char *subscriptions);
/* Messages currently stored in entity (queue, subscription or dead-letter queue). */
int sb_peer_entity_depth(sb_peer_t *p, const char *entity);

#endif
