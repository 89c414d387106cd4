/* The deterministic offline responder (aos/model.h). */
#include "aos/model.h"

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

static size_t count_role(const aos_model_msg_t *msgs, size_t count, const char *role)
{
    size_t n = 0;
    for (size_t i = 1; i + 1 < count; i++)
        n += msgs[i].role && strcmp(msgs[i].role, role) == 0;
    return n;
}

aos_result aos_model_offline_complete(const char *agent, const aos_model_msg_t *msgs, size_t count,
                                      size_t knowledge_used, bool knowledge_truncated,
                                      aos_model_completion_t *out)
{
    if (!msgs || !out || count == 0)
        return AOS_ERR_INVALID;
    const char *name = agent && *agent ? agent : "agent";
    const char *user = msgs[count - 1].content ? msgs[count - 1].content : "";
    char said[320];
    excerpt(user, 240, said, sizeof said);
    size_t history = count >= 2 ? count - 2 : 0;
    char *text = NULL;
    int n = asprintf(&text,
                     "[offline %.64s] No model endpoint is configured, so this is the offline "
                     "responder. You said: \"%s\". Context: %zu earlier message%s (%zu from you), "
                     "%zu domain knowledge document%s%s.",
                     name, said, history, history == 1 ? "" : "s", count_role(msgs, count, "user"),
                     knowledge_used, knowledge_used == 1 ? "" : "s",
                     knowledge_truncated ? " (truncated)" : "");
    if (n < 0)
        return AOS_ERR_NOMEM;
    aos_model_completion_t c = {0};
    c.text = text;
    c.model = strdup(AOS_MODEL_OFFLINE_MODEL);
    c.finish_reason = strdup("stop");
    if (!c.model || !c.finish_reason) {
        aos_model_completion_clear(&c);
        return AOS_ERR_NOMEM;
    }
    uint32_t pt = 0;
    for (size_t i = 0; i < count; i++)
        pt += aos_model_estimate_tokens(msgs[i].content) + 4; /* per-message overhead */
    c.usage.prompt_tokens = pt;
    c.usage.completion_tokens = aos_model_estimate_tokens(text);
    c.usage.total_tokens = c.usage.prompt_tokens + c.usage.completion_tokens;
    c.usage_reported = true;
    *out = c;
    return AOS_OK;
}
