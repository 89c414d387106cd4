/* services/agent-runner/knowledge.h: agents' domain knowledge, loaded from storage blobs
 * and cached.
 *
 * An agent's domain_knowledge lists blob references; the first turn that needs them makes
 * one loader thread fetch them (aos_storage_blob_get_buffer_sync, so a blob is verified
 * against its checksum), later turns share the cached text until ttl_ms passes. A document
 * that cannot be used (missing, too large, failing its checksum, not UTF-8 text) is skipped
 * with a warning and aos_runner_knowledge_skipped_total (the agent still answers without it);
 * only a transient failure (storage unreachable) fails the waiting turns, which release.
 *
 * Threads: runner_knowledge_get and its callback run ON THE LOOP THREAD; new/free from the
 * owning thread (free after the loop stopped).
 */
#ifndef RUNNER_KNOWLEDGE_H
#define RUNNER_KNOWLEDGE_H

#include <stddef.h>
#include <stdint.h>

#include "aos/agents.h"
#include "aos/result.h"
#include "aos/storage_client.h"
#include "loop.h"
#include "prompt.h"

typedef struct runner_knowledge runner_knowledge_t;

/* docs are borrowed for the call. */
typedef void (*runner_knowledge_fn)(void *ctx, aos_result r, const runner_knowledge_doc_t *docs,
                                    size_t count, const char *errmsg);

/* storage may be NULL only when no agent has domain knowledge. max_doc_bytes 0: 64 KiB. */
aos_result runner_knowledge_new(runner_loop_t *loop, aos_storage_client_t *storage, uint32_t ttl_ms,
                                size_t max_doc_bytes, runner_knowledge_t **out);
void runner_knowledge_free(runner_knowledge_t *k);

/* Deliver agent's documents to fn. fn may run before this returns (nothing to load, or
 * cached). agent must outlive the cache. */
aos_result runner_knowledge_get(runner_knowledge_t *k, const aos_agent_def_t *agent,
                                runner_knowledge_fn fn, void *ctx);

#endif
