/* sb_peer internals shared by sb_peer.c (CBS, attach, transfers) and sb_peer_sessions.c
 * (session-enabled queues: stored messages, session locks, delivery by group-id).
 * All sb_sessions_* functions run on the peer's proactor thread; the ones taking a connection
 * only while handling that connection's event batch. */
#ifndef AOS_TEST_SB_PEER_INTERNAL_H
#define AOS_TEST_SB_PEER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <proton/connection.h>
#include <proton/delivery.h>
#include <proton/link.h>
#include <proton/message.h>

#include "sb_peer.h"

typedef struct sb_sessions sb_sessions_t;
typedef struct sb_entities sb_entities_t;
typedef struct sb_dedup sb_dedup_t;

void sb_peer_note(sb_peer_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

sb_sessions_t *sb_sessions_new(sb_peer_t *p);
void sb_sessions_free(sb_sessions_t *s);
/* Mark queues starting with one of the comma-separated prefixes session-enabled (any thread). */
void sb_sessions_set_queues(sb_sessions_t *s, const char *prefixes);
bool sb_sessions_is_session_queue(sb_sessions_t *s, const char *address);
void sb_sessions_conn_open(sb_sessions_t *s, pn_connection_t *c);
/* The connection's transport closed: its locks and held messages go back. */
void sb_sessions_conn_gone(sb_sessions_t *s, pn_connection_t *c);
/* A client receiver (our sender link l) attaches to session queue: lock, refuse or wait. */
void sb_sessions_attach(sb_sessions_t *s, pn_connection_t *c, pn_link_t *l);
/* A client receiver on a queue without sessions: opened at once, gets any message. */
void sb_sessions_attach_plain(sb_sessions_t *s, pn_connection_t *c, pn_link_t *l);
/* A transfer to a queue (session-enabled or not); false with cond/desc filled when it is
 * refused. */
bool sb_sessions_store(sb_sessions_t *s, const char *address, const char *bytes, size_t len,
                       const char **cond, const char **desc);
/* The client settled one of our deliveries (before we settle it). */
void sb_sessions_outcome(sb_sessions_t *s, pn_delivery_t *d);
/* The client detached l: its session lock and held messages go back. */
void sb_sessions_link_gone(sb_sessions_t *s, pn_link_t *l);
/* Grant waiting links a session and deliver what has credit, on connection c. */
void sb_sessions_pump(sb_sessions_t *s, pn_connection_t *c);
/* Lock duration (ms, 0: none), any thread. */
void sb_sessions_set_lock_duration(sb_sessions_t *s, uint64_t ms);
/* The lock timer fired: wake every connection so its pump checks expiries. */
void sb_sessions_tick(sb_sessions_t *s);
/* Renew the lock of the message of queue with lock token (16 bytes); the new expiry (ms on
 * the sb_sessions_now_ms clock), 0 when the lock is lost or unknown. */
uint64_t sb_sessions_renew_lock(sb_sessions_t *s, const char *queue, const unsigned char *token);
/* Renew session's lock on queue, held by a link of c; new expiry or 0. */
uint64_t sb_sessions_renew_session(sb_sessions_t *s, pn_connection_t *c, const char *queue,
                                   const char *session);
uint64_t sb_sessions_now_ms(void);
sb_peer_t *sb_sessions_peer(sb_sessions_t *s);
/* A request on "<entity>/$management" (renew-lock, renew-session-lock) from connection c. */
void sb_mgmt_request(sb_sessions_t *s, pn_connection_t *c, const char *target, pn_message_t *m);
/* Queue m for the link whose target is reply_to on c (sent when it has credit). */
void sb_peer_send_reply(pn_connection_t *c, const char *reply_to, pn_message_t *m);

/* sb_peer_entities.c: which entities exist, refusal counts (thread-safe) */
sb_entities_t *sb_entities_new(void);
void sb_entities_free(sb_entities_t *e);
/* names: comma-separated entity names; NULL: every address exists */
void sb_entities_set(sb_entities_t *e, const char *names);
bool sb_entities_exist(sb_entities_t *e, const char *address);
/* The entity part of an address ("q/$deadletterqueue" -> "q"). */
void sb_entity_of(const char *address, char *out, size_t outlen);
void sb_entities_count_refusal(sb_entities_t *e, const char *address);
int sb_entities_refusals(sb_entities_t *e, const char *address);

/* sb_peer_dedup.c: duplicate detection by message-id per entity (thread-safe) */
sb_dedup_t *sb_dedup_new(void);
void sb_dedup_free(sb_dedup_t *d);
void sb_dedup_set_window(sb_dedup_t *d, uint64_t window_ms); /* 0: off */
/* True when entity accepted a message with the same message-id within the window (then the
 * id is copied to out_id); otherwise the id is remembered. */
bool sb_dedup_is_duplicate(sb_dedup_t *d, const char *entity, const char *bytes, size_t len,
                           char *out_id, size_t idlen);

/* sb_peer_sas.c: 200 when tok is a SAS token for audience name, signed with key under
 * key_name, unexpired, in namespace ns_host (*expiry its expiry); else 401 with why filled. */
int sb_peer_check_token(const char *ns_host, const char *key_name, const char *key,
                        const char *name, const char *tok, uint64_t *expiry, char *why,
                        size_t whylen);

#endif
