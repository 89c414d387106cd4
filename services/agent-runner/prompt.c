/* Prompt assembly under a character budget (see prompt.h). */
#include "prompt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CUT_MARKER "\n[... truncated]"

typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf_t;

static void sb_add(sbuf_t *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 512;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(sbuf_t *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

/* Do not cut a UTF-8 sequence in half: back up to a lead byte. */
static size_t utf8_cut(const char *s, size_t n)
{
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

/* Append knowledge documents using at most `allow` characters. */
static void add_knowledge(sbuf_t *b, const runner_prompt_input_t *in, size_t allow,
                          runner_prompt_t *out)
{
    static const char head[] = "\n\nDomain knowledge:";
    if (in->knowledge_count == 0 || allow <= sizeof head + 64)
        return;
    size_t start = b->len;
    sb_str(b, head);
    for (size_t i = 0; i < in->knowledge_count; i++) {
        const char *name = in->knowledge[i].name ? in->knowledge[i].name : "document";
        const char *text = in->knowledge[i].content ? in->knowledge[i].content : "";
        size_t used = b->len - start;
        size_t hlen = strlen(name) + 6;
        if (used + hlen + sizeof CUT_MARKER + 16 >= allow) {
            out->knowledge_truncated = true;
            break;
        }
        sb_str(b, "\n\n## ");
        sb_str(b, name);
        sb_str(b, "\n");
        size_t room = allow - (b->len - start);
        size_t tlen = strlen(text);
        out->knowledge_used++;
        if (tlen + 1 <= room) {
            sb_add(b, text, tlen);
            continue;
        }
        sb_add(b, text, utf8_cut(text, room - sizeof CUT_MARKER));
        sb_str(b, CUT_MARKER);
        out->knowledge_truncated = true;
        break;
    }
}

static char *system_text(const runner_prompt_input_t *in, size_t budget, size_t knowledge_allow,
                         runner_prompt_t *out)
{
    sbuf_t b = {0};
    const char *agent = in->agent && *in->agent ? in->agent : "assistant";
    char intro[160];
    snprintf(intro, sizeof intro, "You are the %.64s agent.", agent);
    sb_str(&b, intro);
    const char *purpose = in->purpose && *in->purpose ? in->purpose : NULL;
    if (purpose) {
        size_t cap = budget / 4, n = strlen(purpose);
        sb_str(&b, " ");
        if (n > cap) {
            sb_add(&b, purpose, utf8_cut(purpose, cap));
            sb_str(&b, CUT_MARKER);
        } else {
            sb_add(&b, purpose, n);
        }
    } else {
        sb_str(&b, " Answer helpfully and concisely.");
    }
    add_knowledge(&b, in, knowledge_allow, out);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

void runner_prompt_clear(runner_prompt_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->count; i++) {
        free((char *)p->msgs[i].role);
        free((char *)p->msgs[i].content);
    }
    free(p->msgs);
    memset(p, 0, sizeof *p);
}

static bool push(runner_prompt_t *p, const char *role, const char *content, bool take)
{
    char *r = strdup(role);
    char *c = take ? (char *)content : strdup(content);
    if (!r || !c) {
        free(r);
        free(c);
        return false;
    }
    p->msgs[p->count].role = r;
    p->msgs[p->count].content = c;
    p->count++;
    p->chars += strlen(c);
    return true;
}

static bool history_role_ok(const char *role)
{
    return role && (strcmp(role, "user") == 0 || strcmp(role, "assistant") == 0 ||
                    strcmp(role, "system") == 0);
}

aos_result runner_prompt_build(const runner_prompt_input_t *in, runner_prompt_t *out, char *errbuf,
                               size_t errlen)
{
    if (!in || !out || !in->user_text)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "prompt needs the user text");
    if (in->history_count && !in->history)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "history count without history");
    if (in->knowledge_count && !in->knowledge)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "knowledge count without documents");
    size_t budget = in->budget_chars ? in->budget_chars : RUNNER_PROMPT_DEFAULT_BUDGET;
    size_t user_len = strlen(in->user_text);
    size_t purpose_len = in->purpose ? strlen(in->purpose) : 0;
    if (purpose_len > budget / 4)
        purpose_len = budget / 4 + sizeof CUT_MARKER;
    size_t fixed = user_len + purpose_len + 96;
    size_t remaining = fixed < budget ? budget - fixed : 0;

    runner_prompt_t p = {0};
    size_t max_hist = in->max_history < in->history_count ? in->max_history : in->history_count;
    p.msgs = calloc(max_hist + 2, sizeof *p.msgs);
    char *sys = p.msgs ? system_text(in, budget, remaining / 2, &p) : NULL;
    if (!sys || !push(&p, "system", sys, true)) {
        if (!p.count)
            free(sys);
        runner_prompt_clear(&p);
        return aos_fail(AOS_ERR_NOMEM, errbuf, errlen, "out of memory building the prompt");
    }
    size_t sys_len = strlen(p.msgs[0].content);
    size_t room = budget > sys_len + user_len ? budget - sys_len - user_len : 0;
    /* newest first: find how many of the last max_hist fit, then add them oldest first */
    size_t take = 0, used = 0;
    for (size_t k = 0; k < max_hist; k++) {
        const aos_model_msg_t *m = &in->history[in->history_count - 1 - k];
        size_t n = m->content ? strlen(m->content) : 0;
        if (used + n > room)
            break;
        used += n;
        take++;
    }
    bool ok = true;
    for (size_t k = in->history_count - take; ok && k < in->history_count; k++) {
        const aos_model_msg_t *m = &in->history[k];
        ok = push(&p, history_role_ok(m->role) ? m->role : "user", m->content ? m->content : "",
                  false);
        p.history_used += ok;
    }
    if (!ok || !push(&p, "user", in->user_text, false)) {
        runner_prompt_clear(&p);
        return aos_fail(AOS_ERR_NOMEM, errbuf, errlen, "out of memory building the prompt");
    }
    *out = p;
    return AOS_OK;
}

const char *runner_prompt_user_text(const runner_prompt_t *p)
{
    return p && p->count ? p->msgs[p->count - 1].content : NULL;
}
