/* aos/claim_check.h: large event data travels by reference (the claim-check pattern,
 * docs/design.md §2/§3; docs/bus.md "Message size").
 *
 * Every bus send honours the peer's max-message-size (aos_bus_* fail with AOS_ERR_TOO_LARGE,
 * never retry). So that large payloads still travel, a sender offloads data over a configured
 * size to a store (blob storage through aos-storage: aos_storage_claim_store in
 * aos/storage_client.h) and sends a small reference; the receiver resolves it before use:
 *
 *   sender:   aos_claim_check_offload(&store, ev, threshold, &moved, …); aos_bus_send(…, ev, …)
 *   receiver: aos_claim_check_resolve(&store, ev, max_len, …)   (ev is then as it was sent)
 *
 * The reference: extension attribute "aosclaim" = the blob name, and data replaced by
 * {"aos_claim":{"container":"aos-claims","name":…,"size":N,"datacontenttype":…}}
 * (application/json, so the bus's envelope checks pass). The blob name is derived from the
 * event id, so a retried send stores the same blob (idempotent).
 *
 * Threads: the store's functions block (they are storage requests): call these from your
 * worker threads, never from a bus callback. Pure otherwise; thread-safe for distinct events.
 */
#ifndef AOS_CLAIM_CHECK_H
#define AOS_CLAIM_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aos/envelope.h"
#include "aos/result.h"

#define AOS_CLAIM_EXT "aosclaim"
#define AOS_CLAIM_CONTAINER "aos-claims"
/* Event data over this many bytes travels by reference (AOS_CLAIM_THRESHOLD): under Service
 * Bus Standard's 256 KiB with room for the envelope and properties. */
#define AOS_CLAIM_THRESHOLD_DEFAULT (192u * 1024u)
/* The largest payload a receiver resolves (a reply of one page or turn context). */
#define AOS_CLAIM_MAX (8u * 1024u * 1024u)

/* The AOS_CLAIM_THRESHOLD row of a service's config table (aos/config.h), one description for
 * every service (docs/configuration.md lists it once). MEMBER is an int64_t (bytes). */
#define AOS_CLAIM_THRESHOLD_FIELD(TYPE, MEMBER)                                                    \
    {                                                                                              \
        "AOS_CLAIM_THRESHOLD", NULL, AOS_CONFIG_SIZE, "192k", 1024, 104857600, false, false, NULL, \
            "Event data over this many bytes travels by reference through blob storage (claim "    \
            "check, "                                                                              \
            "container aos-claims; docs/bus.md \"Message size\"). Keep it under the broker's "     \
            "max-message-size minus a few KiB of envelope.",                                       \
            offsetof(TYPE, MEMBER)                                                                 \
    }

typedef struct aos_claim_store {
    /* Store len bytes under name (replacing what is there). */
    aos_result (*put)(void *ctx, const char *name, const void *data, size_t len, char *errbuf,
                      size_t errlen);
    /* Fetch name into a malloc'd *out (AOS_ERR_TOO_LARGE over max_len). */
    aos_result (*get)(void *ctx, const char *name, size_t max_len, void **out, size_t *out_len,
                      char *errbuf, size_t errlen);
    void *ctx;
} aos_claim_store_t;

/* When ev->data_len > threshold, store the data and replace it by the reference; *out_moved
 * says whether it did. On failure ev is unchanged. */
aos_result aos_claim_check_offload(const aos_claim_store_t *store, aos_event_t *ev,
                                   size_t threshold, bool *out_moved, char *errbuf, size_t errlen)
    __attribute__((warn_unused_result));

/* When ev carries a reference, fetch the data (at most max_len bytes) and restore ev as it
 * was sent (data, datacontenttype; the extension removed). No reference: AOS_OK, unchanged.
 * On failure ev is unchanged. */
aos_result aos_claim_check_resolve(const aos_claim_store_t *store, aos_event_t *ev, size_t max_len,
                                   char *errbuf, size_t errlen) __attribute__((warn_unused_result));

/* Replace ev's data by the reference to blob `name` (already stored, in AOS_CLAIM_CONTAINER);
 * the sender's half of aos_claim_check_offload without the store. On failure ev is unchanged. */
aos_result aos_claim_check_reference(aos_event_t *ev, const char *name)
    __attribute__((warn_unused_result));

/* The blob name a claim of ev is stored under ("bus/<event id>"); AOS_ERR_INVALID when the id
 * cannot name a blob. */
aos_result aos_claim_check_name(const aos_event_t *ev, char *out, size_t len);

/* A store on blob storage through aos-storage (container AOS_CLAIM_CONTAINER), for services
 * that have a storage client. c is borrowed and must outlive the store. Implemented in the
 * storage client library (common/src/storage_client/storage_claim.c; link aos_storage_client). */
struct aos_storage_client;
void aos_storage_claim_store(struct aos_storage_client *c, aos_claim_store_t *out_store);

/* ---- the same through aos-storage without blocking
 * (common/src/storage_client/storage_claim_async.c)
 *
 * For code that runs on the bus thread or an event loop (the router, the runner). Each call
 * takes ev and hands it back, exactly once, to cb: with r AOS_OK the event as it should now
 * travel (offload) or be used (resolve), else ev unchanged and errmsg says why. cb owns ev
 * (aos_event_free). cb runs on the bus I/O thread; when there is nothing to do (data under the
 * threshold, no reference) it runs before the call returns, on the calling thread (c may then
 * be NULL). A non-OK return means cb was not called and ev is still the caller's. */
typedef void (*aos_claim_cb)(void *ctx, aos_result r, aos_event_t *ev, const char *errmsg);

aos_result aos_storage_claim_offload_async(struct aos_storage_client *c, aos_event_t *ev,
                                           size_t threshold, aos_claim_cb cb, void *ctx);
aos_result aos_storage_claim_resolve_async(struct aos_storage_client *c, aos_event_t *ev,
                                           size_t max_len, aos_claim_cb cb, void *ctx);
/* Fire and forget: delete the claim blob `name` (a receiver that settled its message). */
void aos_storage_claim_delete_async(struct aos_storage_client *c, const char *name);

#endif
