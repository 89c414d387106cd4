/* services/storage/service_claim.h: the claim check at aos-storage (docs/bus.md "Message size").
 *
 * aos-storage owns the blobs, so it does its half of the claim check through its own backend,
 * never through a bus round trip to itself:
 *   - a request that arrives by reference (aos/claim_check.h) is resolved before dispatch;
 *   - a reply whose data is over the threshold is stored as blob aos-claims/bus/<reply id> and
 *     sent as a reference (the storage client resolves it and deletes the blob);
 *   - claims left behind (events, unmatched replies, a receiver that died) are deleted by the
 *     sweep once older than the retention.
 * Threads: the caller's, with a backend instance of that thread. Blocking (backend calls).
 */
#ifndef AOS_STORAGE_SERVICE_CLAIM_H
#define AOS_STORAGE_SERVICE_CLAIM_H

#include <stdint.h>

#include "aos/claim_check.h"
#include "backend.h"

/* A claim store on the backend (container AOS_CLAIM_CONTAINER). be is borrowed. */
void storage_claim_store(storage_backend_t *be, aos_claim_store_t *out_store);

/* req carries a reference: *out_resolved = a copy with the data restored (free it); no
 * reference: AOS_OK and *out_resolved NULL. A claim that is gone is AOS_ERR_INVALID with the
 * reason (it never comes back: no redelivery helps). */
aos_result storage_claim_resolve_request(storage_backend_t *be, const aos_event_t *req,
                                         aos_event_t **out_resolved, char *errbuf, size_t errlen);

/* Delete a claim blob (a request's, once it was answered). Best effort. */
void storage_claim_forget(storage_backend_t *be, const char *name);

/* Delete claims (aos-claims/bus/…) last written more than retention_ms ago; returns how many. */
size_t storage_claim_sweep(storage_backend_t *be, int64_t retention_ms);

#endif
