/* aos/servicebus.h: Azure Service Bus specifics of the bus: connection strings, SAS tokens
 * and the CBS (claims-based security) put-token exchange on "$cbs".
 *
 * Three parts, all free of I/O:
 *   - aos_sb_connstr_*: parse the standard connection string (pure; thread-safe).
 *   - aos_sb_sas_*:     compute / take apart SharedAccessSignature tokens (pure; thread-safe).
 *   - aos_cbs_*:        a CBS client component driven by the caller's Proton event loop. It
 *                       opens its own session and two links on the caller's connection and
 *                       consumes only the events of those; the caller owns the connection,
 *                       the proactor and the transport (TLS, SASL ANONYMOUS).
 *
 * Secrets (key, sas, tokens) are never logged by this module.
 */
#ifndef AOS_SERVICEBUS_H
#define AOS_SERVICEBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <proton/connection.h>
#include <proton/event.h>

#include "aos/result.h"

/* ---------------------------------------------------------------- connection strings ---- */

/* A parsed connection string. All strings are owned by the struct (freed by
 * aos_sb_connstr_free); absent optional parts are NULL.
 *
 * Accepted forms (keys case-insensitive, any order, ';' separated, empty parts and
 * surrounding whitespace ignored, values may contain '=' as base64 does):
 *   Endpoint=sb://<ns>.servicebus.windows.net/;SharedAccessKeyName=<n>;SharedAccessKey=<k>[;EntityPath=<e>]
 *   Endpoint=sb://<ns>.servicebus.windows.net/;SharedAccessSignature=SharedAccessSignature
 * sr=..&sig=..&se=..&skn=..[;EntityPath=<e>]
 *   Endpoint=sb://localhost;SharedAccessKeyName=..;SharedAccessKey=..;UseDevelopmentEmulator=true
 * The Endpoint scheme may be sb://, amqps:// (TLS, 5671) or amqp:// (plain, 5672); an explicit
 * ":port" wins. UseDevelopmentEmulator=true (the Service Bus emulator) means plain AMQP on
 * 5672. Either a key name + key or a SharedAccessSignature is required, not both. */
typedef struct aos_sb_connstr {
    char *endpoint;    /* the Endpoint value as given */
    char *host;        /* "<ns>.servicebus.windows.net" */
    uint16_t port;     /* 5671 with TLS, 5672 without, or the explicit port */
    bool use_tls;      /* false for amqp:// and the emulator */
    bool emulator;     /* UseDevelopmentEmulator=true */
    char *key_name;    /* SharedAccessKeyName, or NULL with a SharedAccessSignature */
    char *key;         /* SharedAccessKey (secret), or NULL */
    char *entity_path; /* EntityPath, or NULL */
    char *sas;         /* SharedAccessSignature value (secret), or NULL */
} aos_sb_connstr_t;

/* Parse s. On success *out is the caller's (aos_sb_connstr_free). On failure returns
 * AOS_ERR_INVALID with errbuf naming the missing or bad part (never echoing a secret) and
 * leaves *out NULL. */
aos_result aos_sb_connstr_parse(const char *s, aos_sb_connstr_t **out, char *errbuf, size_t errlen);

/* NULL is a no-op. Secret fields are wiped before being freed. */
void aos_sb_connstr_free(aos_sb_connstr_t *cs);

/* The CBS audience / SAS resource URI for cs: "sb://<host>/" or, with an EntityPath,
 * "sb://<host>/<entity>". AOS_ERR_TOO_LARGE if outlen is too small. */
aos_result aos_sb_connstr_audience(const aos_sb_connstr_t *cs, char *out, size_t outlen);

/* ------------------------------------------------------------------------ SAS tokens ---- */

/* Compute "SharedAccessSignature sr=<enc(uri)>&sig=<enc(sig)>&se=<expiry>&skn=<enc(key_name)>"
 * where sig = base64(HMAC-SHA256(key bytes as given, enc(uri) + "\n" + decimal expiry)) and
 * enc = aos_pct_encode(AOS_PCT_FORM) (aos/percent.h). resource_uri is used as given (callers pass
 * it lower-case, as the SDKs do). AOS_ERR_INVALID for NULL/empty arguments, AOS_ERR_TOO_LARGE if
 * outlen is too small (256 + 3 * (strlen(uri) + strlen(key_name)) bytes are always enough). */
aos_result aos_sb_sas_token(const char *resource_uri, const char *key_name, const char *key,
                            uint64_t expiry_unix, char *out, size_t outlen);

/* The fields of a SAS token, URL-decoded, owned by the struct. */
typedef struct aos_sb_sas_fields {
    char *sr;     /* resource URI (decoded) */
    char *sr_raw; /* sr exactly as it appears in the token: the signed string */
    char *sig;    /* base64 signature (decoded) */
    char *skn;    /* key name (decoded), NULL if the token has none */
    uint64_t se;  /* expiry, unix seconds */
} aos_sb_sas_fields_t;

/* Take apart a token ("SharedAccessSignature " prefix optional, fields in any order).
 * AOS_ERR_INVALID with detail if a field is missing, repeated or malformed. On success
 * *out is the caller's (aos_sb_sas_fields_free). */
aos_result aos_sb_sas_parse(const char *token, aos_sb_sas_fields_t **out, char *errbuf,
                            size_t errlen);
void aos_sb_sas_fields_free(aos_sb_sas_fields_t *f);

/* ------------------------------------------------------------------------------- CBS ---- */

typedef struct aos_cbs aos_cbs_t;

typedef enum aos_cbs_state {
    AOS_CBS_IDLE = 0,   /* not started (or connection gone; call aos_cbs_start again) */
    AOS_CBS_PENDING,    /* put-token sent (or links opening), no answer yet */
    AOS_CBS_AUTHORIZED, /* the last put-token was answered 200/202 */
    AOS_CBS_FAILED,     /* refused (status-code, link error or no token possible) */
} aos_cbs_state;

/* Wall-clock source in unix milliseconds; tests inject their own. */
typedef uint64_t (*aos_cbs_clock_fn)(void *ctx);

/* Called on the caller's event-loop thread, from inside aos_cbs_handle, whenever the state
 * changes. detail: status-description or link error on FAILED, else "". */
typedef void (*aos_cbs_state_cb)(void *ctx, aos_cbs_state state, const char *detail);

typedef struct aos_cbs_config {
    /* The token's resource URI and the put-token "name", e.g. "sb://ns.servicebus.windows.net/"
     * (namespace-wide) or "sb://ns.servicebus.windows.net/aos.storage". Required. */
    const char *audience;
    /* Either key_name + key (tokens are computed and refreshed), ... */
    const char *key_name;
    const char *key;
    /* ... or a fixed token ("SharedAccessSignature sr=..."), put as is and never refreshed. */
    const char *sas;
    /* Lifetime of computed tokens (0: 3600 s). Refresh is due at 80% of it. */
    uint32_t token_ttl_s;
    aos_cbs_clock_fn clock; /* NULL: CLOCK_REALTIME */
    void *clock_ctx;
    aos_cbs_state_cb on_state; /* optional */
    void *on_state_ctx;
} aos_cbs_config_t;

/* Create a CBS component (no I/O). Strings are copied. AOS_ERR_INVALID with detail for a
 * missing audience or credentials. *out is the caller's (aos_cbs_free). */
aos_result aos_cbs_new(const aos_cbs_config_t *cfg, aos_cbs_t **out, char *errbuf, size_t errlen);

/* Same, with audience and credentials from a parsed connection string
 * (aos_sb_connstr_audience), wall clock, no state callback. */
aos_result aos_cbs_new_from_connstr(const aos_sb_connstr_t *cs, uint32_t token_ttl_s,
                                    aos_cbs_t **out, char *errbuf, size_t errlen);

/* Everything below: call only while handling an event batch of conn's connection (Proton
 * objects may be touched only there). A PN_PROACTOR_TIMEOUT batch is not the connection's:
 * from it, pn_connection_wake(conn) and call aos_cbs_refresh on the PN_CONNECTION_WAKE. */

/* Begin on conn (borrowed; must outlive the CBS use or be followed by another start): open a
 * session, a sender with target "$cbs" and a receiver with source "$cbs" and target
 * "cbs-reply-<random>", and send a put-token as soon as the sender has credit. Call after
 * pn_connection_open (or at PN_CONNECTION_INIT/REMOTE_OPEN); call again on the new connection
 * after a reconnect (the old links are forgotten, not touched). State becomes PENDING. */
aos_result aos_cbs_start(aos_cbs_t *cbs, pn_connection_t *conn);

/* Offer every event of the connection to the CBS first. Returns true if the event belongs to
 * the CBS session, its links or their deliveries (the caller must then ignore it), false
 * otherwise (connection and transport events always return false, but the CBS notes
 * PN_TRANSPORT_CLOSED / PN_CONNECTION_FINAL and goes IDLE). Never blocks. */
bool aos_cbs_handle(aos_cbs_t *cbs, pn_event_t *ev);

aos_cbs_state aos_cbs_get_state(const aos_cbs_t *cbs);
/* Detail of the last failure ("" when none). Valid until the next CBS call. */
const char *aos_cbs_error(const aos_cbs_t *cbs);
/* Name of a state: "idle", "pending", "authorized", "failed". */
const char *aos_cbs_state_str(aos_cbs_state s);

/* Milliseconds from now_ms (unix ms, same clock as the config's) until aos_cbs_refresh should
 * be called: 0 when due (80% of the token lifetime passed), -1 when no refresh applies (not
 * authorized yet, a put-token in flight, fixed SAS, idle). The caller schedules a timer
 * (pn_proactor_set_timeout or its own) and calls aos_cbs_refresh when it fires. A put-token
 * that is never answered leaves the state PENDING: the caller bounds that with its own
 * connect/authorize deadline (e.g. aos_bus_wait_connected's timeout). */
int64_t aos_cbs_refresh_due_ms(const aos_cbs_t *cbs, uint64_t now_ms);

/* Unix seconds at which the current token expires (0 before the first put-token). */
uint64_t aos_cbs_token_expiry(const aos_cbs_t *cbs);

/* Put a fresh token on the existing links (state stays AUTHORIZED while it is pending; a
 * refusal makes it FAILED). AOS_ERR_CLOSED if not started, AOS_ERR_UNSUPPORTED for a fixed
 * SAS. */
aos_result aos_cbs_refresh(aos_cbs_t *cbs);

/* NULL is a no-op. Does not touch the connection's Proton objects (they belong to it). Keys
 * are wiped. */
void aos_cbs_free(aos_cbs_t *cbs);

#endif
