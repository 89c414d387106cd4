/* aos/model.h: model providers as pure functions over bytes — the one home of the URL
 * rules, auth headers, request bodies and response shapes of every model endpoint AOS calls
 * (the agent-runner's turns, the router's classifier, the ML pipeline's inference). Calls
 * (timeouts, retries, deadline, breakers, fallback, metrics) are aos/model_call.h; streamed
 * answers are aos/sse.h.
 *
 * Each provider is: build an HTTP request from an endpoint description and a list of chat
 * messages, and parse the HTTP response (a JSON body, or a server-sent-events stream) into a
 * completion. No I/O happens here, so every function is unit-tested against the fake
 * server's real wire formats and the parsers are fuzzed.
 *
 * URL rules (aos_model_url; the base URL's trailing slashes are ignored):
 *   openai        an OpenAI-compatible server (OpenAI, vLLM, Ollama, LiteLLM, the fake):
 *                   {base}/v1/chat/completions      base without a version ("https://h:8000")
 *                   {base}/chat/completions         base ending in "/v1" ("https://h/v1")
 *                   {base}                          base already ending in "/chat/completions"
 *                 "Authorization: Bearer K" when a key is set; "model" = the adapter when one
 *                 is set, else the endpoint's model
 *   azure-openai  Azure OpenAI deployments:
 *                   {base}/openai/deployments/{deployment}/chat/completions?api-version=V
 *                   {base} as given when it already names a deployment
 *                   ("/openai/deployments/" in it), with ?api-version=V added if missing
 *                 V = api_version or AOS_MODEL_DEFAULT_API_VERSION; "api-key: K" header, or
 *                 "Authorization: Bearer T" with auth "bearer" (an Entra token)
 *   azureml       an Azure ML managed online endpoint: {base} as given (the scoring URI,
 *                 ".../score"); "Authorization: Bearer K"; "azureml-model-deployment: D" with
 *                 D = the adapter, else the deployment (routes to one deployment of the
 *                 endpoint); the response is OpenAI-shaped or {"output": "..."} / ["..."]
 *   offline       no HTTP at all (aos_model_offline_complete)
 *
 * Ownership: every out struct owns its strings; clear it with the matching _clear function.
 * Thread-safety: all functions are pure and may be called from any thread.
 */
#ifndef AOS_MODEL_H
#define AOS_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aos/agents.h"
#include "aos/result.h"

#define AOS_MODEL_DEFAULT_API_VERSION "2024-06-01"

/* One model endpoint. Strings are borrowed (the caller keeps them alive while using it). */
typedef struct aos_model_endpoint {
    aos_provider kind;
    const char *name;        /* label for logs, metrics and the circuit breaker */
    const char *url;         /* base URL (see the table above); required unless offline */
    const char *deployment;  /* azure-openai deployment; azureml default deployment */
    const char *api_version; /* azure-openai; NULL -> AOS_MODEL_DEFAULT_API_VERSION */
    const char *api_key;     /* secret, never logged; NULL: no auth header */
    aos_endpoint_auth auth;  /* how api_key is sent (DEFAULT: per provider, see above) */
    const char *model;       /* openai model name when no adapter is set */
    const char *adapter;     /* LoRA adapter: openai model name / azureml deployment */
    bool stream;             /* ask for an SSE stream */
    uint32_t max_tokens;     /* 0: not sent */
    double temperature;      /* < 0: not sent */
} aos_model_endpoint_t;

typedef struct aos_model_msg {
    const char *role; /* "system", "user", "assistant" */
    const char *content;
} aos_model_msg_t;

#define AOS_MODEL_HTTP_MAX_HEADERS 8
#define AOS_MODEL_MAX_RESPONSE_BYTES (16u << 20) /* largest response body accepted */

typedef struct aos_model_http_req {
    char *url;
    char *headers[AOS_MODEL_HTTP_MAX_HEADERS]; /* "Name: value" */
    size_t header_count;
    char *body; /* JSON, NUL-terminated */
    size_t body_len;
} aos_model_http_req_t;

/* Fill *out from a configured endpoint (borrowing its strings): the key comes from the
 * endpoint's api_key_env, the adapter is the agent's (may be NULL). */
void aos_model_endpoint_from_def(const aos_endpoint_t *def, const char *adapter,
                                 aos_model_endpoint_t *out);

/* The request URL for ep by the rules above (malloc'd into *out_url). AOS_ERR_INVALID (with
 * detail) when ep lacks what its provider needs (a url; an azure-openai deployment). */
aos_result aos_model_url(const aos_model_endpoint_t *ep, char **out_url, char *errbuf,
                         size_t errlen);

/* Free what *req owns and zero it. */
void aos_model_http_req_clear(aos_model_http_req_t *req);

/* Build the HTTP request for a chat completion. AOS_ERR_INVALID (with detail) when the
 * endpoint lacks what its provider needs or kind is offline; *out is untouched on error. */
aos_result aos_model_build_request(const aos_model_endpoint_t *ep, const aos_model_msg_t *msgs,
                                   size_t count, aos_model_http_req_t *out, char *errbuf,
                                   size_t errlen);

typedef struct aos_model_usage {
    uint32_t prompt_tokens;
    uint32_t completion_tokens;
    uint32_t total_tokens;
} aos_model_usage_t;

typedef struct aos_model_completion {
    char *text;          /* the assistant's reply, never NULL after a successful parse */
    char *model;         /* as reported by the server, may be NULL */
    char *finish_reason; /* may be NULL */
    aos_model_usage_t usage;
    bool usage_reported; /* false: usage was estimated, not reported by the server */
} aos_model_completion_t;

void aos_model_completion_clear(aos_model_completion_t *c);

/* Parse a non-streamed response body: OpenAI chat.completion ({"choices":[{"message":
 * {"content":..}}], "usage":{..}}), or the Azure ML shapes {"output": "..."} / ["..."].
 * AOS_ERR_PROTOCOL with detail on anything else (including an {"error":..} body). */
aos_result aos_model_parse_response(const char *body, size_t len, aos_model_completion_t *out,
                                    char *errbuf, size_t errlen);

/* Extract a human message from an error body ({"error":{"message":..}} or {"message":..}),
 * truncated to fit; writes "" when there is none. */
void aos_model_error_message(const char *body, size_t len, char *out, size_t outlen);

/* Rough token estimate used when the server reports no usage (and by the offline
 * provider): about four characters per token, at least one for non-empty text. */
uint32_t aos_model_estimate_tokens(const char *text);

/* ---- the offline provider ----
 *
 * The default when an agent has no model endpoint, so the whole system runs with no
 * credentials. Deterministic (the same prompt gives the same reply, byte for byte) and
 * clearly marked: every reply starts with "[offline <agent>]". It acknowledges the user's
 * text (the last message), names how much context it was given (msgs[0] is the system
 * prompt; knowledge_used / knowledge_truncated describe the documents in it), and reports
 * token counts estimated like a real model would bill them (aos_model_estimate_tokens). */
#define AOS_MODEL_OFFLINE_MODEL "aos-offline-1"

aos_result aos_model_offline_complete(const char *agent, const aos_model_msg_t *msgs, size_t count,
                                      size_t knowledge_used, bool knowledge_truncated,
                                      aos_model_completion_t *out);

/* ---- a default endpoint from the environment ----
 *
 * So that `make run` uses a real model when credentials are present, agents whose config
 * names no endpoint get one from the environment (an agent with an explicit endpoint,
 * including an explicit "offline" one, is left alone):
 *   AZURE_OPENAI_ENDPOINT   (+ AZURE_OPENAI_API_KEY, AZURE_OPENAI_DEPLOYMENT [gpt-4o-mini],
 *                            AZURE_OPENAI_API_VERSION)         -> provider azure-openai
 *   AOS_OPENAI_BASE_URL     (+ AOS_OPENAI_API_KEY, AOS_OPENAI_MODEL [gpt-4o-mini])
 *                                                              -> provider openai
 * Azure wins when both are set. Keys are referenced by variable name (api_key_env), never
 * copied. Not thread-safe: call before the config is shared. *out_applied (may be NULL) =
 * number of agents that got the endpoint. */
aos_result aos_model_env_endpoint_apply(aos_agents_config_t *cfg, size_t *out_applied);

#endif
