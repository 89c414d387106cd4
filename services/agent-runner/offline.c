/* The deterministic offline responder (see offline.h). */
#include "offline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copy at most max bytes of s into out as one line (newlines become spaces), never
 * splitting a UTF-8 sequence; appends "..." when cut. */
static void excerpt(const char *s, size_t max, char *out, size_t outlen)
{
    size_t n = strlen(s), k = 0;
    bool cut = n > max;
    if (cut) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    for (size_t i = 0; i < n && k + 4 < outlen; i++)
        out[k++] = (s[i] == '\n' || s[i] == '\r' || s[i] == '\t') ? ' ' : s[i];
    if (cut && k + 4 < outlen) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
}

static size_t count_role(const runner_prompt_t *p, const char *role)
{
    size_t n = 0;
    for (size_t i = 1; i + 1 < p->count; i++)
        n += strcmp(p->msgs[i].role, role) == 0;
    return n;
}

aos_result runner_offline_complete(const char *agent, const runner_prompt_t *prompt,
                                   runner_completion_t *out)
{
    if (!prompt || !out || prompt->count == 0)
        return AOS_ERR_INVALID;
    const char *name = agent && *agent ? agent : "agent";
    const char *user = runner_prompt_user_text(prompt);
    char said[320];
    excerpt(user, 240, said, sizeof said);
    size_t history = prompt->count >= 2 ? prompt->count - 2 : 0;
    char *text = NULL;
    int n = asprintf(&text,
                     "[offline %.64s] No model endpoint is configured, so this is the offline "
                     "responder. You said: \"%s\". Context: %zu earlier message%s (%zu from you), "
                     "%zu domain knowledge document%s%s.",
                     name, said, history, history == 1 ? "" : "s", count_role(prompt, "user"),
                     prompt->knowledge_used, prompt->knowledge_used == 1 ? "" : "s",
                     prompt->knowledge_truncated ? " (truncated)" : "");
    if (n < 0)
        return AOS_ERR_NOMEM;
    runner_completion_t c = {0};
    c.text = text;
    c.model = strdup(RUNNER_OFFLINE_MODEL);
    c.finish_reason = strdup("stop");
    if (!c.model || !c.finish_reason) {
        runner_completion_clear(&c);
        return AOS_ERR_NOMEM;
    }
    uint32_t pt = 0;
    for (size_t i = 0; i < prompt->count; i++)
        pt += runner_estimate_tokens(prompt->msgs[i].content) + 4; /* per-message overhead */
    c.usage.prompt_tokens = pt;
    c.usage.completion_tokens = runner_estimate_tokens(text);
    c.usage.total_tokens = c.usage.prompt_tokens + c.usage.completion_tokens;
    c.usage_reported = true;
    *out = c;
    return AOS_OK;
}
