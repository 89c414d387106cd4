/* services/agent-runner/prompt.h: the chat prompt for one turn, within a budget.
 *
 * Layout: one system message (who the agent is, its purpose, then its domain knowledge),
 * the newest max_history stored messages oldest-first, then the user's text. The budget
 * is in characters (about four per token). What always goes in: the purpose (capped at a
 * quarter of the budget) and the whole user text. Domain knowledge may use up to half of
 * what remains (documents in order, the last one cut with a marker); history fills the rest
 * newest-first and stays contiguous (an older message is never kept while a newer one is
 * dropped). Pure; the result owns copies of every string.
 */
#ifndef RUNNER_PROMPT_H
#define RUNNER_PROMPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aos/model.h"
#include "aos/result.h"

typedef struct runner_knowledge_doc {
    const char *name;    /* blob reference, shown as a heading */
    const char *content; /* text */
} runner_knowledge_doc_t;

typedef struct runner_prompt_input {
    const char *agent;   /* agent name */
    const char *purpose; /* system prompt; NULL or "" -> a generic one */
    const runner_knowledge_doc_t *knowledge;
    size_t knowledge_count;
    const aos_model_msg_t *history; /* stored messages, oldest first */
    size_t history_count;
    uint32_t max_history; /* 0: no history */
    const char *user_text;
    size_t budget_chars; /* 0: RUNNER_PROMPT_DEFAULT_BUDGET */
} runner_prompt_input_t;

#define RUNNER_PROMPT_DEFAULT_BUDGET 24000

typedef struct runner_prompt {
    aos_model_msg_t *msgs; /* owned, as are the strings they point to */
    size_t count;
    size_t chars;          /* total content characters */
    size_t history_used;   /* history messages included */
    size_t knowledge_used; /* documents included (fully or cut) */
    bool knowledge_truncated;
} runner_prompt_t;

aos_result runner_prompt_build(const runner_prompt_input_t *in, runner_prompt_t *out, char *errbuf,
                               size_t errlen);
void runner_prompt_clear(runner_prompt_t *p);

/* The user message (the last one). NULL for an empty prompt. */
const char *runner_prompt_user_text(const runner_prompt_t *p);

#endif
