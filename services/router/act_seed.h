/* services/router/act_seed.h: the seed's PerpetualAgent.act parameters, mapped onto the ML
 * pipeline's own request shapes (docs/http-api.md "POST /v1/agents/{agent}/act").
 *
 * The seed calls
 *   act("trigger_lora_training", {"training_params": {"model_name", "data_path", "output_dir"},
 *                                 "adapters": [{"adapter_name", "task_type", "r",
 *                                               "lora_alpha", "target_modules"}]})
 *   act("run_azure_ml_pipeline", {"subscription_id", "resource_group", "workspace_name"})
 *   act("aml_infer", {"agent_id", "prompt"})
 * AOS's own shapes (docs/ml.md) are accepted unchanged; the seed's keys are translated, and
 * both may be mixed. Pure function over parsed JSON; thread-safe.
 */
#ifndef ROUTER_ACT_SEED_H
#define ROUTER_ACT_SEED_H

#include <stddef.h>

#include <json-c/json.h>

#include "aos/agents.h"
#include "aos/result.h"

/* Translate params (borrowed, may be NULL) of action for agent into a new object in AOS's
 * own shape, returned in *out (owned by the caller; json_object_put). agents (borrowed) tells
 * whether aml_infer's agent_id names an agent or an adapter. On failure nothing is returned
 * and why says what is wrong (AOS_ERR_INVALID). */
aos_result router_act_params(const aos_agents_config_t *agents, const aos_agent_def_t *agent,
                             const char *action, const json_object *params, json_object **out,
                             char *why, size_t whylen) __attribute__((warn_unused_result));

#endif
