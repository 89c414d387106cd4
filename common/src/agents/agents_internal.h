/* Internal helpers of the agents module (not part of the public API). */
#ifndef AOS_AGENTS_INTERNAL_H
#define AOS_AGENTS_INTERNAL_H

#include <regex.h>

#include "aos/agents.h"

struct aos_agent_regex {
    regex_t *re;
    size_t count;
};

/* Compile the agent's patterns (case-insensitive ERE); on error names the pattern index. */
aos_result aos_agents_compile_patterns(aos_agent_def_t *agent, const char *path, char *errbuf,
                                       size_t errlen);
void aos_agents_free_patterns(aos_agent_def_t *agent);

#endif
