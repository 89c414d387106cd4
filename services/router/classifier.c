/* The optional classifier model (config "routing.classifier"): one chat completion that
 * names the agent for a message no rule matched, called through common's model module
 * (aos/model_call.h: the same URL rules, auth, breaker and metrics as every model call).
 * Any failure falls back to the default agent with a reason saying so. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/log.h"
#include "aos/model_call.h"
#include "router_internal.h"

static const char *SYSTEM_PROMPT = "You route messages to agents. Reply with one agent name.";

typedef struct ask {
    router_classified_fn cb;
    void *ctx;
    char *prompt;
    aos_model_msg_t msgs[2];
} ask_t;

static void on_answer(void *arg, aos_model_result_t *res)
{
    ask_t *a = arg;
    const char *answer = res->result == AOS_OK ? res->completion.text : NULL;
    if (!answer)
        aos_log(AOS_LOG_WARN, "classifier failed; using the default agent", "detail", res->error,
                NULL);
    a->cb(a->ctx, answer);
    free(a->prompt);
    free(a);
}

void router_classify(aos_model_t *model, const aos_agents_config_t *cfg, const char *text,
                     router_classified_fn cb, void *ctx)
{
    const aos_endpoint_t *ep = &cfg->routing.classifier;
    if (!model || ep->provider == AOS_PROVIDER_OFFLINE || !ep->url) {
        cb(ctx, NULL); /* the offline provider cannot judge: default agent */
        return;
    }
    ask_t *a = calloc(1, sizeof *a);
    if (!a || router_classifier_prompt(cfg, text, &a->prompt) != AOS_OK) {
        free(a);
        cb(ctx, NULL);
        return;
    }
    a->cb = cb;
    a->ctx = ctx;
    a->msgs[0] = (aos_model_msg_t){"system", SYSTEM_PROMPT};
    a->msgs[1] = (aos_model_msg_t){"user", a->prompt};
    aos_model_request_t req = {.endpoints = ep,
                               .endpoint_count = 1,
                               .msgs = a->msgs,
                               .msg_count = 2,
                               .max_tokens = 16,
                               .temperature = 0.0,
                               .agent = "classifier"};
    if (aos_model_call(model, &req, on_answer, a) != AOS_OK) {
        free(a->prompt);
        free(a);
        cb(ctx, NULL);
    }
}

static void on_classified(void *ctx, const char *answer)
{
    turn_classified(ctx, answer);
}

void classifier_ask(turn_t *t)
{
    router_classify(t->rt->model, t->rt->agents, t->text, on_classified, t);
}
