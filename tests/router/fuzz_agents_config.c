/* Fuzz target: the agents config parser (outside bytes: the AOS_CONFIG file). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "aos/agents.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    aos_agents_config_t *cfg = NULL;
    if (aos_agents_config_parse((const char *)data, size, &cfg, err, sizeof err) != AOS_OK)
        return 0;
    /* Exercise the matchers on the parsed config with the input itself as text. */
    char text[256];
    size_t n = size < sizeof text - 1 ? size : sizeof text - 1;
    memcpy(text, data, n);
    text[n] = '\0';
    for (size_t i = 0; i < cfg->agent_count; i++) {
        aos_agent_match_keywords(&cfg->agents[i], text, NULL);
        aos_agent_match_patterns(&cfg->agents[i], text, NULL);
        aos_agent_subscribed(&cfg->agents[i], text);
        time_t next;
        if (cfg->agents[i].schedule.enabled)
            aos_schedule_next(&cfg->agents[i].schedule, 1700000000, &next);
    }
    aos_agents_config_free(cfg);
    return 0;
}
