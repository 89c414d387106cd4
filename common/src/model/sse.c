/* Incremental text/event-stream parser and chat.completion.chunk accumulator (aos/sse.h). */
#include "aos/sse.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct buf {
    char *p;
    size_t len, cap;
} buf_t;

static aos_result buf_append(buf_t *b, const char *s, size_t n, size_t limit)
{
    if (b->len + n > limit)
        return AOS_ERR_TOO_LARGE;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return AOS_ERR_NOMEM;
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return AOS_OK;
}

struct aos_sse {
    size_t max_event;
    aos_sse_event_cb cb;
    void *ctx;
    buf_t line;
    buf_t data;
    buf_t event;
    bool have_data;
    bool last_cr; /* previous chunk ended in CR: a leading LF belongs to it */
    aos_result failed;
};

aos_result aos_sse_new(size_t max_event, aos_sse_event_cb cb, void *ctx, aos_sse_t **out_parser)
{
    if (!cb || !out_parser)
        return AOS_ERR_INVALID;
    aos_sse_t *p = calloc(1, sizeof *p);
    if (!p)
        return AOS_ERR_NOMEM;
    p->max_event = max_event ? max_event : (1u << 20);
    p->cb = cb;
    p->ctx = ctx;
    *out_parser = p;
    return AOS_OK;
}

void aos_sse_free(aos_sse_t *p)
{
    if (!p)
        return;
    free(p->line.p);
    free(p->data.p);
    free(p->event.p);
    free(p);
}

static aos_result dispatch(aos_sse_t *p)
{
    aos_result rc = AOS_OK;
    if (p->have_data) {
        /* the joined data ends in one LF too many */
        if (p->data.len > 0 && p->data.p[p->data.len - 1] == '\n')
            p->data.p[--p->data.len] = '\0';
        rc = p->cb(p->ctx, p->event.len ? p->event.p : "message", p->data.p ? p->data.p : "",
                   p->data.len);
    }
    p->data.len = 0;
    p->event.len = 0;
    if (p->event.p)
        p->event.p[0] = '\0';
    p->have_data = false;
    return rc;
}

static aos_result process_line(aos_sse_t *p, const char *line, size_t n)
{
    if (n == 0)
        return dispatch(p);
    if (line[0] == ':')
        return AOS_OK;
    const char *colon = memchr(line, ':', n);
    size_t flen = colon ? (size_t)(colon - line) : n;
    const char *val = colon ? colon + 1 : line + n;
    size_t vlen = colon ? n - flen - 1 : 0;
    if (vlen > 0 && val[0] == ' ') {
        val++;
        vlen--;
    }
    if (flen == 4 && memcmp(line, "data", 4) == 0) {
        AOS_RETURN_IF_FAILED(buf_append(&p->data, val, vlen, p->max_event));
        AOS_RETURN_IF_FAILED(buf_append(&p->data, "\n", 1, p->max_event + 1));
        p->have_data = true;
    } else if (flen == 5 && memcmp(line, "event", 5) == 0) {
        p->event.len = 0;
        AOS_RETURN_IF_FAILED(buf_append(&p->event, val, vlen, p->max_event));
    }
    return AOS_OK;
}

aos_result aos_sse_feed(aos_sse_t *p, const char *buf, size_t len)
{
    if (!p || (len && !buf))
        return AOS_ERR_INVALID;
    if (p->failed != AOS_OK)
        return p->failed;
    size_t i = 0;
    if (p->last_cr && len > 0 && buf[0] == '\n')
        i = 1;
    p->last_cr = false;
    while (i < len) {
        size_t start = i;
        while (i < len && buf[i] != '\n' && buf[i] != '\r')
            i++;
        aos_result rc = AOS_OK;
        if (i == len) { /* partial line: keep for the next chunk */
            rc = buf_append(&p->line, buf + start, i - start, p->max_event);
        } else {
            bool cr = buf[i] == '\r';
            const char *line = buf + start;
            size_t n = i - start;
            if (p->line.len) {
                rc = buf_append(&p->line, line, n, p->max_event);
                line = p->line.p;
                n = p->line.len;
            }
            if (rc == AOS_OK)
                rc = process_line(p, line, n);
            p->line.len = 0;
            i++;
            if (cr) {
                if (i < len && buf[i] == '\n')
                    i++;
                else if (i == len)
                    p->last_cr = true;
            }
        }
        if (rc != AOS_OK) {
            p->failed = rc;
            return rc;
        }
    }
    return AOS_OK;
}

/* ---- chat completion streams ---- */

struct aos_model_stream {
    aos_sse_t *sse;
    size_t max_bytes;
    buf_t text;
    char *model;
    char *finish_reason;
    aos_model_usage_t usage;
    bool usage_reported;
    bool done;
    size_t chunks;
    char err[256];
};

static const char *jstr(json_object *o, const char *key)
{
    json_object *v;
    if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static uint32_t ju32(json_object *o, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
        return 0;
    int64_t n = json_object_get_int64(v);
    return n < 0 ? 0 : n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

static aos_result chunk_fail(aos_model_stream_t *s, const char *msg, const char *detail)
{
    snprintf(s->err, sizeof s->err, "%s%s%.180s", msg, detail ? ": " : "", detail ? detail : "");
    return AOS_ERR_PROTOCOL;
}

static void set_once(char **field, const char *v)
{
    if (v && !*field)
        *field = strdup(v);
}

static aos_result apply_chunk(aos_model_stream_t *s, json_object *root)
{
    json_object *err = NULL, *choices = NULL, *usage = NULL;
    if (!json_object_is_type(root, json_type_object))
        return chunk_fail(s, "stream chunk is not a JSON object", NULL);
    if (json_object_object_get_ex(root, "error", &err) && !json_object_is_type(err, json_type_null))
        return chunk_fail(s, "model returned an error in the stream", jstr(err, "message"));
    set_once(&s->model, jstr(root, "model"));
    if (json_object_object_get_ex(root, "usage", &usage) &&
        json_object_is_type(usage, json_type_object)) {
        s->usage.prompt_tokens = ju32(usage, "prompt_tokens");
        s->usage.completion_tokens = ju32(usage, "completion_tokens");
        s->usage.total_tokens = ju32(usage, "total_tokens");
        if (!s->usage.total_tokens)
            s->usage.total_tokens = s->usage.prompt_tokens + s->usage.completion_tokens;
        s->usage_reported = true;
    }
    if (!json_object_object_get_ex(root, "choices", &choices))
        return usage ? AOS_OK : chunk_fail(s, "stream chunk has no choices", NULL);
    if (!json_object_is_type(choices, json_type_array))
        return chunk_fail(s, "stream chunk choices is not an array", NULL);
    size_t n = json_object_array_length(choices);
    for (size_t i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(choices, i), *delta, *idx;
        if (!json_object_is_type(c, json_type_object))
            return chunk_fail(s, "stream choice is not an object", NULL);
        if (json_object_object_get_ex(c, "index", &idx) && json_object_get_int(idx) != 0)
            continue; /* only the first choice is used */
        set_once(&s->finish_reason, jstr(c, "finish_reason"));
        const char *text = NULL;
        if (json_object_object_get_ex(c, "delta", &delta))
            text = jstr(delta, "content");
        else
            text = jstr(c, "text");
        if (text) {
            aos_result rc = buf_append(&s->text, text, strlen(text), s->max_bytes);
            if (rc != AOS_OK)
                return rc == AOS_ERR_TOO_LARGE
                           ? (snprintf(s->err, sizeof s->err, "streamed reply exceeds %zu bytes",
                                       s->max_bytes),
                              rc)
                           : rc;
        }
    }
    return AOS_OK;
}

static aos_result on_event(void *ctx, const char *event, const char *data, size_t len)
{
    aos_model_stream_t *s = ctx;
    if (strcmp(event, "error") == 0)
        return chunk_fail(s, "model sent an error event", data);
    if (s->done)
        return AOS_OK; /* nothing after [DONE] matters */
    if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
        s->done = true;
        return AOS_OK;
    }
    json_tokener *tok = json_tokener_new();
    if (!tok)
        return AOS_ERR_NOMEM;
    json_object *root = json_tokener_parse_ex(tok, data, (int)len);
    bool complete = root && json_tokener_get_error(tok) == json_tokener_success &&
                    json_tokener_get_parse_end(tok) == len;
    json_tokener_free(tok);
    aos_result rc =
        complete ? apply_chunk(s, root) : chunk_fail(s, "stream chunk is not JSON", NULL);
    json_object_put(root);
    s->chunks++;
    return rc;
}

aos_result aos_model_stream_new(size_t max_bytes, aos_model_stream_t **out_stream)
{
    if (!out_stream)
        return AOS_ERR_INVALID;
    aos_model_stream_t *s = calloc(1, sizeof *s);
    if (!s)
        return AOS_ERR_NOMEM;
    s->max_bytes = max_bytes ? max_bytes : (4u << 20);
    if (s->max_bytes > INT32_MAX)
        s->max_bytes = INT32_MAX;
    aos_result rc = aos_sse_new(s->max_bytes, on_event, s, &s->sse);
    if (rc != AOS_OK) {
        free(s);
        return rc;
    }
    *out_stream = s;
    return AOS_OK;
}

void aos_model_stream_free(aos_model_stream_t *s)
{
    if (!s)
        return;
    aos_sse_free(s->sse);
    free(s->text.p);
    free(s->model);
    free(s->finish_reason);
    free(s);
}

aos_result aos_model_stream_feed(aos_model_stream_t *s, const char *buf, size_t len, char *errbuf,
                                 size_t errlen)
{
    if (!s)
        return AOS_ERR_INVALID;
    aos_result rc = aos_sse_feed(s->sse, buf, len);
    if (rc == AOS_ERR_TOO_LARGE && !s->err[0])
        snprintf(s->err, sizeof s->err, "stream event exceeds %zu bytes", s->max_bytes);
    if (rc != AOS_OK)
        return aos_fail(rc, errbuf, errlen, "%s", s->err[0] ? s->err : aos_result_str(rc));
    return AOS_OK;
}

aos_result aos_model_stream_finish(aos_model_stream_t *s, aos_model_completion_t *out, char *errbuf,
                                   size_t errlen)
{
    if (!s || !out)
        return AOS_ERR_INVALID;
    /* a last event not followed by a blank line still counts (many servers end that way) */
    aos_result rc = aos_sse_feed(s->sse, "\n\n", 2);
    if (rc != AOS_OK)
        return aos_fail(rc, errbuf, errlen, "%s", s->err[0] ? s->err : aos_result_str(rc));
    if (!s->done && !s->finish_reason)
        return aos_fail(AOS_ERR_PROTOCOL, errbuf, errlen,
                        s->chunks ? "stream ended before [DONE]" : "empty stream");
    aos_model_completion_t c = {0};
    c.text = s->text.p ? s->text.p : strdup("");
    s->text.p = NULL;
    s->text.len = s->text.cap = 0;
    c.model = s->model;
    c.finish_reason = s->finish_reason;
    s->model = s->finish_reason = NULL;
    c.usage = s->usage;
    c.usage_reported = s->usage_reported;
    if (!c.text) {
        aos_model_completion_clear(&c);
        return AOS_ERR_NOMEM;
    }
    *out = c;
    return AOS_OK;
}
