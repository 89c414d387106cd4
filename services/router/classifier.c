/* The optional classifier model (config "routing.classifier"): one chat completion that
 * names the agent for a message no rule matched. Any failure falls back to the default
 * agent with a reason saying so. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/json.h"
#include "aos/log.h"
#include "bus_replies.h"
#include "router_internal.h"

static const char *SYSTEM_PROMPT = "You route messages to agents. Reply with one agent name.";

static aos_result request_body(const aos_agents_config_t *cfg, const aos_endpoint_t *ep,
                               const char *text, char **out)
{
    char *prompt = NULL;
    AOS_RETURN_IF_FAILED(router_classifier_prompt(cfg, text, &prompt));
    json_object *o = json_object_new_object(), *msgs = json_object_new_array();
    json_object *sys = json_object_new_object(), *usr = json_object_new_object();
    aos_json_add_string(sys, "role", "system");
    aos_json_add_string(sys, "content", SYSTEM_PROMPT);
    aos_json_add_string(usr, "role", "user");
    aos_json_add_string(usr, "content", prompt);
    json_object_array_add(msgs, sys);
    json_object_array_add(msgs, usr);
    if (ep->model)
        aos_json_add_string(o, "model", ep->model);
    aos_json_add(o, "messages", msgs);
    aos_json_add_int(o, "max_tokens", ep->max_tokens ? ep->max_tokens : 16);
    json_object_object_add(o, "temperature", json_object_new_double(0.0));
    aos_result r = aos_json_to_string(o, out, NULL);
    json_object_put(o);
    free(prompt);
    return r;
}

static void request_url(const aos_endpoint_t *ep, char *out, size_t outlen)
{
    size_t n = strlen(ep->url);
    const char *slash = n && ep->url[n - 1] == '/' ? "" : "/";
    if (ep->provider == AOS_PROVIDER_AZURE_OPENAI)
        snprintf(out, outlen, "%s%sopenai/deployments/%s/chat/completions?api-version=%s", ep->url,
                 slash, ep->deployment, ep->api_version ? ep->api_version : "2024-06-01");
    else if (ep->provider == AOS_PROVIDER_OPENAI)
        snprintf(out, outlen, "%s%schat/completions", ep->url, slash);
    else
        snprintf(out, outlen, "%s", ep->url);
}

static char *answer_of(const aos_http_response_t *resp)
{
    return resp->result == AOS_OK && resp->status == 200
               ? router_classifier_answer(resp->body, resp->body_len)
               : NULL;
}

static void on_classified(const aos_http_response_t *resp, void *ctx)
{
    turn_t *t = ctx;
    char *answer = answer_of(resp);
    if (!answer) {
        char status[16];
        snprintf(status, sizeof status, "%d", resp->status);
        aos_log(AOS_LOG_WARN, "classifier failed; using the default agent", "status", status,
                "detail", resp->error, NULL);
    }
    turn_classified(t, answer);
    free(answer);
}

void classifier_ask(turn_t *t)
{
    const aos_endpoint_t *ep = &t->rt->agents->routing.classifier;
    if (ep->provider == AOS_PROVIDER_OFFLINE || !ep->url) {
        turn_classified(t, NULL); /* the offline provider cannot judge: default agent */
        return;
    }
    char *body = NULL;
    if (request_body(t->rt->agents, ep, t->text, &body) != AOS_OK) {
        turn_classified(t, NULL);
        return;
    }
    char url[4096], auth[600];
    request_url(ep, url, sizeof url);
    aos_http_header_t hdr[2] = {{"Content-Type", "application/json"}, {NULL, NULL}};
    size_t nh = 1;
    const char *key = aos_endpoint_api_key(ep);
    if (key) {
        bool api_key =
            ep->auth == AOS_ENDPOINT_AUTH_API_KEY ||
            (ep->auth == AOS_ENDPOINT_AUTH_DEFAULT && ep->provider == AOS_PROVIDER_AZURE_OPENAI);
        snprintf(auth, sizeof auth, "%s%s", api_key ? "" : "Bearer ", key);
        hdr[nh++] = (aos_http_header_t){api_key ? "api-key" : "Authorization", auth};
    }
    aos_http_client_request_t r = {.method = "POST",
                                   .url = url,
                                   .headers = hdr,
                                   .header_count = nh,
                                   .body = body,
                                   .body_len = strlen(body),
                                   .timeout_ms = ep->timeout_ms};
    aos_result rc = aos_http_client_submit(t->rt->http, &r, on_classified, t, NULL);
    free(body);
    if (rc != AOS_OK)
        turn_classified(t, NULL);
}
