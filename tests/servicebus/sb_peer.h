/* sb_peer: a small AMQP 1.0 server that behaves like Azure Service Bus for CBS, for tests.
 *
 * Listens on 127.0.0.1:<free port> (SASL ANONYMOUS, no TLS) on its own Proton proactor thread.
 * It accepts "$cbs" links and answers put-token requests after checking them the way the
 * service does: operation/type/name present, token fields sr/sig/se/skn, skn = the known key
 * name, sig = base64(HMAC-SHA256(key, sr-as-sent + "\n" + se)) recomputed here with OpenSSL,
 * se in the future, decoded sr = name, and name inside sb://<namespace>/. It answers
 * status-code 200 or 400/401 with correlation-id = the request's message-id, on the link whose
 * target is the request's reply-to. A link attach on any other address is refused (attach +
 * detach with amqp:unauthorized-access) unless a valid token covering sb://<namespace>/<address>
 * was put on that connection; transfers on authorized links are accepted and counted.
 *
 * The event log (sb_peer_log) records "token-ok <audience>", "token-refused <status> <why>",
 * "attach-ok <address>", "attach-refused <address>", "transfer <address>" in order.
 * All functions are thread-safe.
 */
#ifndef AOS_TEST_SB_PEER_H
#define AOS_TEST_SB_PEER_H

#include <stddef.h>
#include <stdint.h>

typedef struct sb_peer sb_peer_t;

typedef struct sb_peer_stats {
    int tokens_ok;
    int tokens_refused;
    int attaches_ok;
    int attaches_refused;
    int transfers;
} sb_peer_stats_t;

/* Start a peer for namespace host ns_host (e.g. "aos-test.servicebus.windows.net") with one
 * authorization rule key_name/key. Returns NULL (message on stderr) if it cannot listen. */
sb_peer_t *sb_peer_start(const char *ns_host, const char *key_name, const char *key);
int sb_peer_port(const sb_peer_t *p);
/* Make queues whose name starts with one of the comma-separated prefixes session-enabled
 * (see sb_peer_sessions.c): transfers need a group-id (SessionId) and are stored; receivers
 * must attach with com.microsoft:session-filter, get one session each (the attach answer
 * names it) and its messages in order. Log: "session-lock <queue> <session>",
 * "session-unlock …", "attach-refused <queue> <condition>", "transfer-refused …". */
void sb_peer_set_session_queues(sb_peer_t *p, const char *prefixes);
/* Declare the entities that exist (comma-separated names: queues and topics; their
 * "$deadletterqueue", "Subscriptions/<s>" and "$management" follow). A link to anything else
 * is refused like Service Bus does: attach, then detach with amqp:not-found. NULL (the
 * default): every address exists. */
void sb_peer_set_entities(sb_peer_t *p, const char *names);
/* Duplicate detection on every queue (Service Bus requiresDuplicateDetection): a message
 * whose message-id the entity accepted within window_ms is acknowledged as accepted and
 * dropped (log "duplicate-dropped <entity> <message-id>"). 0 (the default): off. */
void sb_peer_set_duplicate_detection(sb_peer_t *p, uint64_t window_ms);
/* Attach attempts on address that were refused (any condition). */
int sb_peer_attach_refusals(sb_peer_t *p, const char *address);
void sb_peer_get_stats(sb_peer_t *p, sb_peer_stats_t *out);
/* Copy of the event log, one event per line. */
void sb_peer_log(sb_peer_t *p, char *out, size_t outlen);
/* Transfers accepted on address. */
int sb_peer_transfers_to(sb_peer_t *p, const char *address);
/* Stop the thread, close everything, free. NULL is a no-op. */
void sb_peer_stop(sb_peer_t *p);

#endif
