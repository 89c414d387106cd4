/* services/agent-runner/env_model.h: a default model endpoint from the environment.
 *
 * So that `make run` uses a real model when credentials are present, agents whose config
 * names no endpoint get one from the environment (an agent with an explicit endpoint,
 * including an explicit "offline" one, is left alone):
 *   AZURE_OPENAI_ENDPOINT   (+ AZURE_OPENAI_API_KEY, AZURE_OPENAI_DEPLOYMENT [gpt-4o-mini],
 *                            AZURE_OPENAI_API_VERSION)         -> provider azure-openai
 *   AOS_OPENAI_BASE_URL     (+ AOS_OPENAI_API_KEY, AOS_OPENAI_MODEL [gpt-4o-mini])
 *                                                              -> provider openai
 * Azure wins when both are set. Keys are referenced by variable name (api_key_env), never
 * copied. Not thread-safe: call before the config is shared.
 */
#ifndef RUNNER_ENV_MODEL_H
#define RUNNER_ENV_MODEL_H

#include <stddef.h>

#include "aos/agents.h"
#include "aos/result.h"

/* *out_applied (may be NULL) = number of agents that got the endpoint. */
aos_result runner_apply_env_endpoint(aos_agents_config_t *cfg, size_t *out_applied);

#endif
