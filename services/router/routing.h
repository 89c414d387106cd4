/* services/router/routing.h: which agent handles a turn, and why (docs/design.md §3 Query turn).
 *
 * Order: the explicit agent of the request, then conversation stickiness (the agent that
 * already owns the conversation, from storage), then the agents' keyword / pattern rules,
 * then the optional classifier model, then the default agent. Every decision carries a
 * reason that is logged and returned to the caller, e.g. "explicit", "sticky",
 * "keyword:budget", "pattern:\bq[1-4] results\b", "classifier", "default".
 *
 * Pure functions over a parsed config; thread-safe.
 */
#ifndef ROUTER_ROUTING_H
#define ROUTER_ROUTING_H

#include <stdbool.h>
#include <stddef.h>

#include "aos/agents.h"
#include "aos/result.h"

#define ROUTER_REASON_MAX 160

typedef struct router_decision {
    const aos_agent_def_t *agent; /* borrowed from the config; NULL when pending */
    char reason[ROUTER_REASON_MAX];
    /* True when no rule decided and a classifier is configured: ask it with
     * router_classifier_prompt() and finish with router_route_classified(). agent is the
     * default agent meanwhile (the fallback if the classifier fails). */
    bool needs_classifier;
} router_decision_t;

/* Decide. explicit_agent and sticky_agent may be NULL. An explicit agent that is not
 * configured is AOS_ERR_NOT_FOUND ("unknown agent \"x\"" in errbuf). A sticky agent that is
 * no longer configured is ignored (the conversation is re-routed). */
aos_result router_route(const aos_agents_config_t *cfg, const char *explicit_agent,
                        const char *sticky_agent, const char *text, router_decision_t *out,
                        char *errbuf, size_t errlen);

/* The user prompt for the classifier: the agents' names and the first line of their
 * purposes, and the text; the model must answer with one agent name. *out is malloc'd. */
aos_result router_classifier_prompt(const aos_agents_config_t *cfg, const char *text, char **out);

/* Finish a pending decision with the classifier's answer (may be NULL when the call
 * failed): the first configured agent name found in the answer as a whole word wins
 * ("classifier"); otherwise the default agent ("default:classifier-unsure" or
 * "default:classifier-failed"). */
void router_route_classified(const aos_agents_config_t *cfg, const char *answer,
                             router_decision_t *d);

#endif
