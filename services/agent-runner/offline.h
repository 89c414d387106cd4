/* services/agent-runner/offline.h: the offline provider.
 *
 * The default when an agent has no model endpoint, so the whole system runs with no
 * credentials. Deterministic (the same prompt gives the same reply, byte for byte) and
 * clearly marked: every reply starts with "[offline <agent>]". It acknowledges the user's
 * text, names how much context it was given, and reports token counts estimated like a
 * real model would bill them (runner_estimate_tokens). Pure; any thread.
 */
#ifndef RUNNER_OFFLINE_H
#define RUNNER_OFFLINE_H

#include "aos/result.h"
#include "prompt.h"
#include "provider.h"

#define RUNNER_OFFLINE_MODEL "aos-offline-1"

aos_result runner_offline_complete(const char *agent, const runner_prompt_t *prompt,
                                   runner_completion_t *out);

#endif
