/* Fuzz target: POST /v1/agents/{agent}/act params, the seed's shapes mapped onto AOS's own
 * (services/router/act_seed.c), for each of the three actions. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "act_seed.h"
#include "aos/json.h"

static const char CFG[] = "{\"default_agent\":\"cfo\",\"agents\":["
                          "{\"name\":\"cfo\",\"purpose\":\"Money.\",\"adapter\":\"cfo-lora\"},"
                          "{\"name\":\"cmo\",\"purpose\":\"Marketing.\"}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static aos_agents_config_t *cfg;
    if (!cfg && aos_agents_config_parse(CFG, strlen(CFG), &cfg, NULL, 0) != AOS_OK)
        abort();
    json_object *p = NULL;
    if (aos_json_parse_object((const char *)data, size, size + 1, 0, &p, NULL, 0) != AOS_OK)
        return 0;
    static const char *const actions[] = {"trigger_lora_training", "run_azure_ml_pipeline",
                                          "aml_infer"};
    for (size_t i = 0; i < 3; i++) {
        json_object *out = NULL;
        char why[256];
        if (router_act_params(cfg, aos_agents_find(cfg, "cmo"), actions[i], p, &out, why,
                              sizeof why) == AOS_OK) {
            if (!out)
                abort();
            json_object_put(out);
        } else if (out) {
            abort();
        }
    }
    json_object_put(p);
    return 0;
}
