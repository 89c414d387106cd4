/* Request building and response parsing for the HTTP model providers (aos/model.h). */
#include "aos/model.h"

#include "aos/json.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void aos_model_endpoint_from_def(const aos_endpoint_t *def, const char *adapter,
                                 aos_model_endpoint_t *out)
{
    memset(out, 0, sizeof *out);
    if (!def)
        return;
    out->kind = def->provider;
    out->name = def->url ? def->url : aos_provider_name(def->provider);
    out->url = def->url;
    out->deployment = def->deployment;
    out->api_version = def->api_version;
    out->api_key = aos_endpoint_api_key(def);
    out->auth = def->auth;
    out->model = def->model;
    out->adapter = adapter;
    out->max_tokens = def->max_tokens;
    out->temperature = def->temperature;
}

void aos_model_http_req_clear(aos_model_http_req_t *req)
{
    if (!req)
        return;
    free(req->url);
    for (size_t i = 0; i < req->header_count; i++)
        free(req->headers[i]);
    free(req->body);
    memset(req, 0, sizeof *req);
}

void aos_model_completion_clear(aos_model_completion_t *c)
{
    if (!c)
        return;
    free(c->text);
    free(c->model);
    free(c->finish_reason);
    memset(c, 0, sizeof *c);
}

static char *xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    return n < 0 ? NULL : s;
}

static bool has_text(const char *s)
{
    return s && *s;
}

/* base URL without trailing slashes, malloc'd */
static char *trim_base(const char *url)
{
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        n--;
    return strndup(url, n);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static char *build_url(const aos_model_endpoint_t *ep, char *errbuf, size_t errlen)
{
    char *base = trim_base(ep->url);
    if (!base)
        return NULL;
    char *url = NULL;
    if (ep->kind == AOS_PROVIDER_AZURE_OPENAI) {
        const char *ver =
            has_text(ep->api_version) ? ep->api_version : AOS_MODEL_DEFAULT_API_VERSION;
        if (strstr(base, "/openai/deployments/")) {
            url = strstr(base, "api-version=")
                      ? strdup(base)
                      : xprintf("%s%capi-version=%s", base, strchr(base, '?') ? '&' : '?', ver);
        } else if (!has_text(ep->deployment)) {
            aos_fail(AOS_ERR_INVALID, errbuf, errlen,
                     "endpoint %s: azure-openai needs a deployment", ep->name ? ep->name : "?");
        } else {
            url = xprintf("%s/openai/deployments/%s/chat/completions?api-version=%s", base,
                          ep->deployment, ver);
        }
    } else if (ep->kind == AOS_PROVIDER_OPENAI) {
        if (ends_with(base, "/chat/completions"))
            url = strdup(base);
        else if (ends_with(base, "/v1"))
            url = xprintf("%s/chat/completions", base);
        else
            url = xprintf("%s/v1/chat/completions", base);
    } else {
        url = strdup(base);
    }
    free(base);
    return url;
}

static aos_result check_endpoint(const aos_model_endpoint_t *ep, char *errbuf, size_t errlen)
{
    if (ep->kind == AOS_PROVIDER_OFFLINE)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "the offline provider makes no requests");
    if (!has_text(ep->url))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "endpoint %s (%s) has no url",
                        ep->name ? ep->name : "?", aos_provider_name(ep->kind));
    if (strncmp(ep->url, "http://", 7) != 0 && strncmp(ep->url, "https://", 8) != 0)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "endpoint %s: url must be http(s)",
                        ep->name ? ep->name : "?");
    return AOS_OK;
}

aos_result aos_model_url(const aos_model_endpoint_t *ep, char **out_url, char *errbuf,
                         size_t errlen)
{
    if (!ep || !out_url)
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "null argument");
    if (errbuf && errlen)
        errbuf[0] = '\0';
    AOS_RETURN_IF_FAILED(check_endpoint(ep, errbuf, errlen));
    char *url = build_url(ep, errbuf, errlen);
    if (!url)
        return errbuf && errlen && errbuf[0] ? AOS_ERR_INVALID : AOS_ERR_NOMEM;
    *out_url = url;
    return AOS_OK;
}

static aos_result add_header(aos_model_http_req_t *r, char *h)
{
    if (!h)
        return AOS_ERR_NOMEM;
    if (r->header_count >= AOS_MODEL_HTTP_MAX_HEADERS) {
        free(h);
        return AOS_ERR_INTERNAL;
    }
    r->headers[r->header_count++] = h;
    return AOS_OK;
}

static aos_result build_headers(const aos_model_endpoint_t *ep, aos_model_http_req_t *r)
{
    AOS_RETURN_IF_FAILED(add_header(r, strdup("Content-Type: application/json")));
    AOS_RETURN_IF_FAILED(add_header(
        r, strdup(ep->stream ? "Accept: text/event-stream" : "Accept: application/json")));
    if (has_text(ep->api_key)) {
        bool api_key_header =
            ep->auth == AOS_ENDPOINT_AUTH_API_KEY ||
            (ep->auth == AOS_ENDPOINT_AUTH_DEFAULT && ep->kind == AOS_PROVIDER_AZURE_OPENAI);
        if (api_key_header)
            AOS_RETURN_IF_FAILED(add_header(r, xprintf("api-key: %s", ep->api_key)));
        else
            AOS_RETURN_IF_FAILED(add_header(r, xprintf("Authorization: Bearer %s", ep->api_key)));
    }
    if (ep->kind == AOS_PROVIDER_AZUREML) {
        const char *dep = has_text(ep->adapter) ? ep->adapter : ep->deployment;
        if (has_text(dep))
            AOS_RETURN_IF_FAILED(add_header(r, xprintf("azureml-model-deployment: %s", dep)));
    }
    return AOS_OK;
}

static json_object *build_body(const aos_model_endpoint_t *ep, const aos_model_msg_t *msgs,
                               size_t count)
{
    json_object *body = json_object_new_object();
    json_object *arr = json_object_new_array();
    if (!body || !arr) {
        json_object_put(body);
        json_object_put(arr);
        return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        json_object *m = json_object_new_object();
        json_object_object_add(m, "role",
                               json_object_new_string(msgs[i].role ? msgs[i].role : "user"));
        json_object_object_add(m, "content",
                               json_object_new_string(msgs[i].content ? msgs[i].content : ""));
        json_object_array_add(arr, m);
    }
    const char *model = has_text(ep->adapter) ? ep->adapter : ep->model;
    if (ep->kind == AOS_PROVIDER_OPENAI && has_text(model))
        json_object_object_add(body, "model", json_object_new_string(model));
    json_object_object_add(body, "messages", arr);
    if (ep->max_tokens > 0)
        json_object_object_add(body, "max_tokens", json_object_new_int64(ep->max_tokens));
    if (ep->temperature >= 0)
        json_object_object_add(body, "temperature", json_object_new_double(ep->temperature));
    if (ep->stream) {
        json_object_object_add(body, "stream", json_object_new_boolean(1));
        json_object *opts = json_object_new_object();
        json_object_object_add(opts, "include_usage", json_object_new_boolean(1));
        json_object_object_add(body, "stream_options", opts);
    }
    return body;
}

aos_result aos_model_build_request(const aos_model_endpoint_t *ep, const aos_model_msg_t *msgs,
                                   size_t count, aos_model_http_req_t *out, char *errbuf,
                                   size_t errlen)
{
    if (!ep || !out || (count > 0 && !msgs))
        return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "null argument");
    aos_model_http_req_t r = {0};
    AOS_RETURN_IF_FAILED(aos_model_url(ep, &r.url, errbuf, errlen));
    aos_result rc = build_headers(ep, &r);
    json_object *body = rc == AOS_OK ? build_body(ep, msgs, count) : NULL;
    if (rc == AOS_OK && !body)
        rc = AOS_ERR_NOMEM;
    if (rc == AOS_OK) {
        size_t len = 0;
        const char *s = json_object_to_json_string_length(body, JSON_C_TO_STRING_PLAIN, &len);
        r.body = s ? strndup(s, len) : NULL;
        r.body_len = len;
        if (!r.body)
            rc = AOS_ERR_NOMEM;
    }
    json_object_put(body);
    if (rc != AOS_OK) {
        aos_model_http_req_clear(&r);
        return aos_fail(rc, errbuf, errlen, "building the request failed");
    }
    *out = r;
    return AOS_OK;
}

uint32_t aos_model_estimate_tokens(const char *text)
{
    if (!text || !*text)
        return 0;
    size_t n = strlen(text);
    size_t t = (n + 3) / 4;
    return t > UINT32_MAX ? UINT32_MAX : (uint32_t)t;
}

static uint32_t get_u32(json_object *obj, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_int))
        return 0;
    int64_t n = json_object_get_int64(v);
    return n < 0 ? 0 : n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

static const char *get_str(json_object *obj, const char *key)
{
    json_object *v;
    if (!obj || !json_object_object_get_ex(obj, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static void parse_usage(json_object *root, aos_model_completion_t *c)
{
    json_object *u;
    if (!json_object_object_get_ex(root, "usage", &u) || !json_object_is_type(u, json_type_object))
        return;
    c->usage.prompt_tokens = get_u32(u, "prompt_tokens");
    c->usage.completion_tokens = get_u32(u, "completion_tokens");
    c->usage.total_tokens = get_u32(u, "total_tokens");
    if (c->usage.total_tokens == 0)
        c->usage.total_tokens = c->usage.prompt_tokens + c->usage.completion_tokens;
    c->usage_reported = true;
}

/* Strict parse (size and depth limited, valid UTF-8, no trailing bytes). */
static json_object *parse_json(const char *body, size_t len, char *errbuf, size_t errlen)
{
    if (!body || len == 0) {
        aos_fail(AOS_ERR_PROTOCOL, errbuf, errlen, "empty response body");
        return NULL;
    }
    json_object *root = NULL;
    char why[160] = "";
    if (aos_json_parse(body, len, AOS_MODEL_MAX_RESPONSE_BYTES, 0, &root, why, sizeof why) !=
        AOS_OK) {
        aos_fail(AOS_ERR_PROTOCOL, errbuf, errlen, "response is not JSON: %s", why);
        return NULL;
    }
    return root;
}

/* Text of choices[0].message.content (string, or an array of {"type":"text","text":..}). */
static const char *choice_text(json_object *choice, json_object **out_tmp)
{
    json_object *msg, *content;
    *out_tmp = NULL;
    if (!json_object_object_get_ex(choice, "message", &msg) ||
        !json_object_is_type(msg, json_type_object))
        return get_str(choice, "text"); /* legacy completions shape */
    if (!json_object_object_get_ex(msg, "content", &content))
        return NULL;
    if (json_object_is_type(content, json_type_string))
        return json_object_get_string(content);
    if (json_object_is_type(content, json_type_null))
        return "";
    if (!json_object_is_type(content, json_type_array))
        return NULL;
    json_object *acc = json_object_new_string("");
    size_t n = json_object_array_length(content);
    for (size_t i = 0; acc && i < n; i++) {
        const char *part = get_str(json_object_array_get_idx(content, i), "text");
        if (!part)
            continue;
        const char *prev = json_object_get_string(acc);
        char *joined = xprintf("%s%s", prev, part);
        if (!joined)
            break;
        json_object_set_string(acc, joined);
        free(joined);
    }
    *out_tmp = acc;
    return acc ? json_object_get_string(acc) : NULL;
}

static aos_result parse_openai_shape(json_object *root, aos_model_completion_t *c, char *errbuf,
                                     size_t errlen)
{
    json_object *choices;
    json_object_object_get_ex(root, "choices", &choices);
    if (!json_object_is_type(choices, json_type_array) || json_object_array_length(choices) == 0)
        return aos_fail(AOS_ERR_PROTOCOL, errbuf, errlen, "response has no choices");
    json_object *choice = json_object_array_get_idx(choices, 0);
    if (!json_object_is_type(choice, json_type_object))
        return aos_fail(AOS_ERR_PROTOCOL, errbuf, errlen, "choices[0] is not an object");
    json_object *tmp = NULL;
    const char *text = choice_text(choice, &tmp);
    if (!text) {
        json_object_put(tmp);
        return aos_fail(AOS_ERR_PROTOCOL, errbuf, errlen, "choices[0] has no message content");
    }
    c->text = strdup(text);
    json_object_put(tmp);
    const char *model = get_str(root, "model");
    const char *finish = get_str(choice, "finish_reason");
    c->model = model ? strdup(model) : NULL;
    c->finish_reason = finish ? strdup(finish) : NULL;
    parse_usage(root, c);
    return c->text ? AOS_OK : AOS_ERR_NOMEM;
}

static aos_result parse_root(json_object *root, aos_model_completion_t *c, char *errbuf,
                             size_t errlen)
{
    if (json_object_is_type(root, json_type_array)) {
        json_object *first =
            json_object_array_length(root) > 0 ? json_object_array_get_idx(root, 0) : NULL;
        if (!json_object_is_type(first, json_type_string))
            return aos_fail(AOS_ERR_PROTOCOL, errbuf, errlen, "array response without a string");
        c->text = strdup(json_object_get_string(first));
        return c->text ? AOS_OK : AOS_ERR_NOMEM;
    }
    if (json_object_is_type(root, json_type_string)) {
        c->text = strdup(json_object_get_string(root));
        return c->text ? AOS_OK : AOS_ERR_NOMEM;
    }
    if (!json_object_is_type(root, json_type_object))
        return aos_fail(AOS_ERR_PROTOCOL, errbuf, errlen, "response is not a JSON object");
    json_object *err;
    if (json_object_object_get_ex(root, "error", &err) &&
        !json_object_is_type(err, json_type_null)) {
        const char *m = json_object_is_type(err, json_type_object) ? get_str(err, "message") : NULL;
        return aos_fail(AOS_ERR_PROTOCOL, errbuf, errlen, "model returned an error: %.200s",
                        m ? m : json_object_to_json_string(err));
    }
    if (json_object_object_get_ex(root, "choices", NULL))
        return parse_openai_shape(root, c, errbuf, errlen);
    json_object *output;
    if (json_object_object_get_ex(root, "output", &output)) {
        const char *text = NULL;
        if (json_object_is_type(output, json_type_string))
            text = json_object_get_string(output);
        else if (json_object_is_type(output, json_type_array) &&
                 json_object_array_length(output) > 0 &&
                 json_object_is_type(json_object_array_get_idx(output, 0), json_type_string))
            text = json_object_get_string(json_object_array_get_idx(output, 0));
        if (!text)
            return aos_fail(AOS_ERR_PROTOCOL, errbuf, errlen, "\"output\" is not text");
        c->text = strdup(text);
        parse_usage(root, c);
        return c->text ? AOS_OK : AOS_ERR_NOMEM;
    }
    return aos_fail(AOS_ERR_PROTOCOL, errbuf, errlen, "response has neither choices nor output");
}

aos_result aos_model_parse_response(const char *body, size_t len, aos_model_completion_t *out,
                                    char *errbuf, size_t errlen)
{
    if (!out)
        return AOS_ERR_INVALID;
    json_object *root = parse_json(body, len, errbuf, errlen);
    if (!root)
        return AOS_ERR_PROTOCOL;
    aos_model_completion_t c = {0};
    aos_result rc = parse_root(root, &c, errbuf, errlen);
    json_object_put(root);
    if (rc != AOS_OK) {
        aos_model_completion_clear(&c);
        return rc;
    }
    *out = c;
    return AOS_OK;
}

void aos_model_error_message(const char *body, size_t len, char *out, size_t outlen)
{
    if (!out || outlen == 0)
        return;
    out[0] = '\0';
    json_object *root = parse_json(body, len, NULL, 0);
    if (!root)
        return;
    const char *m = NULL;
    json_object *err;
    if (json_object_is_type(root, json_type_object)) {
        if (json_object_object_get_ex(root, "error", &err)) {
            m = json_object_is_type(err, json_type_object)   ? get_str(err, "message")
                : json_object_is_type(err, json_type_string) ? json_object_get_string(err)
                                                             : NULL;
        }
        if (!m)
            m = get_str(root, "message");
    }
    if (m)
        snprintf(out, outlen, "%s", m);
    json_object_put(root);
}
