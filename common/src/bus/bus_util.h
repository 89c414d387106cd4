/* bus_util.h (internal to aos_bus): the pure parts of the bus, free of I/O and Proton
 * objects so that they are unit-tested and fuzzed on their own: URL parsing, profile
 * inference, logical-name checks, address mapping and reconnect backoff.
 * Thread-safety: every function is pure and thread-safe.
 */
#ifndef AOS_BUS_UTIL_H
#define AOS_BUS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aos/bus.h"

#define AOS_BUS_URL_FIELD 256
/* Longest logical name (Service Bus entity paths allow 260 characters). */
#define AOS_BUS_NAME_MAX 200

/* A parsed amqp[s]://[user[:password]@]host[:port][/] URL. user and password are
 * percent-decoded; the password is a secret and is never logged. */
typedef struct aos_bus_url {
    bool tls;
    bool has_user;
    char user[AOS_BUS_URL_FIELD];
    char password[AOS_BUS_URL_FIELD];
    char host[AOS_BUS_URL_FIELD]; /* without the [] of an IPv6 literal */
    uint16_t port;                /* explicit, or 5671 for amqps and 5672 for amqp */
} aos_bus_url_t;

/* Parse url (NUL-terminated). AOS_ERR_INVALID with a reason in errbuf (never echoing the
 * password) on anything else: other schemes, empty host, bad port, bad %-escape, control
 * characters, a path other than "/", a query or fragment, over-long fields. */
aos_result aos_bus_url_parse(const char *url, aos_bus_url_t *out, char *errbuf, size_t errlen);

/* Resolve AOS_BUS_PROFILE_AUTO: env_profile (read by aos_bus_profile_parse; NULL, "" or "auto"
 * infer) first,
 * then a host ending in ".servicebus.windows.net" (case-insensitive) or a connection string
 * means servicebus, anything else rabbitmq. AOS_ERR_INVALID for an unknown env_profile. */
aos_result aos_bus_profile_resolve(aos_bus_profile requested, const char *env_profile,
                                   const char *host, bool has_connection_string,
                                   aos_bus_profile *out);

/* A logical name (queue, topic, event type, instance id): 1..AOS_BUS_NAME_MAX characters of
 * [A-Za-z0-9._-]. */
bool aos_bus_name_valid(const char *name);

/* Address of queue / topic publication / reply queue / dead-letter queue per profile.
 * AOS_ERR_INVALID for an invalid name, AOS_ERR_TOO_LARGE if out is too small. */
aos_result aos_bus_map_queue(aos_bus_profile p, const char *queue, char *out, size_t outlen);
aos_result aos_bus_map_topic(aos_bus_profile p, const char *topic, const char *event_type,
                             char *out, size_t outlen);
aos_result aos_bus_map_reply(aos_bus_profile p, const char *instance_id, char *out, size_t outlen);
/* The dead-letter address for messages consumed from address: RabbitMQ "/amq/queue/<q>.dlq"
 * for a "/amq/queue/<q>" or "/queue/<q>" address, Service Bus "<entity>/$deadletterqueue".
 * AOS_ERR_UNSUPPORTED when address is not a queue address of the profile. */
aos_result aos_bus_map_dead_letter(aos_bus_profile p, const char *address, char *out,
                                   size_t outlen);
/* The queue name inside a RabbitMQ queue address ("/amq/queue/<q>" or "/queue/<q>"), or NULL. */
const char *aos_bus_rabbitmq_queue_name(const char *address);

/* Reconnect delay for the given attempt (0-based) with exponential backoff and full jitter:
 * uniform in [min_ms, min(max_ms, min_ms * 2^attempt)], using rnd as the random source. */
uint32_t aos_bus_backoff_ms(uint32_t min_ms, uint32_t max_ms, uint32_t attempt, uint64_t rnd);

/* Is a message's content-type one the services process as a turn: application/json, text/json
 * or any "+json" structured suffix (application/cloudevents+json), with or without parameters
 * (case-insensitive)? NULL (absent) counts as JSON (the envelope's default). */
bool aos_bus_content_type_is_json(const char *content_type);

/* Has a message expired at now_ms (unix ms)? absolute_expiry_ms (AMQP properties
 * absolute-expiry-time) when set, else creation_ms + ttl_ms when both are set. 0 = unset. */
bool aos_bus_message_expired(int64_t absolute_expiry_ms, int64_t creation_ms, uint32_t ttl_ms,
                             int64_t now_ms);

/* The lock token Service Bus expects on $management (renew-lock "lock-tokens", a uuid) for a
 * message delivered with the 16-byte delivery tag tag: the tag is the token's .NET
 * Guid.ToByteArray() form, so the first three groups are byte-swapped (4, 2, 2 bytes; the last
 * eight stay). Microsoft's SDK does the same (@azure/service-bus reorderLockToken: "the order
 * of bytes needed to make Service Bus recognize the token"). The swap is its own inverse. */
void aos_bus_lock_token_from_tag(const unsigned char tag[16], unsigned char out[16]);

#endif
