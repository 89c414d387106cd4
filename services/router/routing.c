/* Routing decisions (see routing.h). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routing.h"

static void set_reason(router_decision_t *d, const char *kind, const char *hint)
{
    if (hint)
        snprintf(d->reason, sizeof d->reason, "%s:%s", kind, hint);
    else
        snprintf(d->reason, sizeof d->reason, "%s", kind);
}

/* Rules: the agent with the most keyword/pattern hits wins; ties go to config order. */
static const aos_agent_def_t *match_rules(const aos_agents_config_t *cfg, const char *text,
                                          const char **out_kind, const char **out_hint)
{
    const aos_agent_def_t *best = NULL;
    int best_score = 0;
    for (size_t i = 0; i < cfg->agent_count; i++) {
        const aos_agent_def_t *a = &cfg->agents[i];
        int score = 0;
        const char *kw_hint = NULL, *pat_hint = NULL;
        for (size_t k = 0; k < a->keyword_count; k++) {
            aos_agent_def_t one = *a;
            one.keywords = &a->keywords[k];
            one.keyword_count = 1;
            const char *h = NULL;
            if (aos_agent_match_keywords(&one, text, &h)) {
                score++;
                if (!kw_hint)
                    kw_hint = h;
            }
        }
        if (aos_agent_match_patterns(a, text, &pat_hint))
            score++;
        if (score > best_score) {
            best_score = score;
            best = a;
            *out_kind = kw_hint ? "keyword" : "pattern";
            *out_hint = kw_hint ? kw_hint : pat_hint;
        }
    }
    return best;
}

aos_result router_route(const aos_agents_config_t *cfg, const char *explicit_agent,
                        const char *sticky_agent, const char *text, router_decision_t *out,
                        char *errbuf, size_t errlen)
{
    if (!cfg || !out)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "no config");
    memset(out, 0, sizeof *out);
    if (explicit_agent) {
        out->agent = aos_agents_find(cfg, explicit_agent);
        if (!out->agent)
            return aos_fail(AOS_ERR_NOT_FOUND, errbuf, errlen, "unknown agent \"%.64s\"",
                            explicit_agent);
        set_reason(out, "explicit", NULL);
        return AOS_OK;
    }
    if (sticky_agent && cfg->routing.sticky) {
        out->agent = aos_agents_find(cfg, sticky_agent);
        if (out->agent) {
            set_reason(out, "sticky", NULL);
            return AOS_OK;
        }
    }
    const char *kind = NULL, *hint = NULL;
    if (text && (out->agent = match_rules(cfg, text, &kind, &hint)) != NULL) {
        set_reason(out, kind, hint);
        return AOS_OK;
    }
    out->agent = aos_agents_default(cfg);
    if (cfg->routing.has_classifier && text && text[0]) {
        out->needs_classifier = true;
        set_reason(out, "classifier", NULL);
        return AOS_OK;
    }
    set_reason(out, "default", NULL);
    return AOS_OK;
}

static size_t first_line_len(const char *s, size_t max)
{
    size_t n = 0;
    while (s[n] && s[n] != '\n' && n < max)
        n++;
    return n;
}

aos_result router_classifier_prompt(const aos_agents_config_t *cfg, const char *text, char **out)
{
    if (!cfg || !text || !out)
        return AOS_ERR_INVALID;
    size_t cap = 512 + strlen(text);
    for (size_t i = 0; i < cfg->agent_count; i++)
        cap += strlen(cfg->agents[i].name) + 8 + first_line_len(cfg->agents[i].purpose, 300);
    char *buf = malloc(cap);
    if (!buf)
        return AOS_ERR_NOMEM;
    size_t off = (size_t)snprintf(buf, cap,
                                  "Pick the one agent best suited to answer the message. "
                                  "Answer with the agent name only.\nAgents:\n");
    for (size_t i = 0; i < cfg->agent_count; i++) {
        const aos_agent_def_t *a = &cfg->agents[i];
        off += (size_t)snprintf(buf + off, cap - off, "- %s: %.*s\n", a->name,
                                (int)first_line_len(a->purpose, 300), a->purpose);
    }
    snprintf(buf + off, cap - off, "Message:\n%s\n", text);
    *out = buf;
    return AOS_OK;
}

static bool name_in(const char *answer, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = strcasestr(answer, name); p; p = strcasestr(p + 1, name)) {
        bool left = p == answer || !(isalnum((unsigned char)p[-1]) || p[-1] == '-' || p[-1] == '_');
        bool right = !(isalnum((unsigned char)p[n]) || p[n] == '-' || p[n] == '_');
        if (left && right)
            return true;
    }
    return false;
}

void router_route_classified(const aos_agents_config_t *cfg, const char *answer,
                             router_decision_t *d)
{
    d->needs_classifier = false;
    if (answer) {
        for (size_t i = 0; i < cfg->agent_count; i++)
            if (name_in(answer, cfg->agents[i].name)) {
                d->agent = &cfg->agents[i];
                set_reason(d, "classifier", NULL);
                return;
            }
    }
    d->agent = aos_agents_default(cfg);
    set_reason(d, answer ? "default:classifier-unsure" : "default:classifier-failed", NULL);
}
