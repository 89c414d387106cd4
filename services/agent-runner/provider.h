/* services/agent-runner/provider.h: model providers as pure functions over bytes.
 *
 * Each provider is: build an HTTP request from an endpoint description and a list of chat
 * messages, and parse the HTTP response (a JSON body, or a server-sent-events stream, see
 * sse.h) into a completion. No I/O happens here, so every function is unit-tested against
 * the fake server's real wire formats and the parsers are fuzzed.
 *
 *   azure-openai  POST {url}/openai/deployments/{deployment}/chat/completions?api-version=V
 *                 "api-key: K" header, or "Authorization: Bearer T" (Entra token)
 *   openai        POST {url}[/v1]/chat/completions, "Authorization: Bearer K" when a key is
 *                 set; "model" = the adapter name when one is set, else the endpoint model
 *   azureml       POST {url} (the online endpoint's scoring URI), "Authorization: Bearer K",
 *                 "azureml-model-deployment: <adapter or deployment>"; the response is either
 *                 OpenAI-shaped or {"output": "..."}
 *   offline       no HTTP at all (offline.h)
 *
 * Ownership: every out struct owns its strings; clear it with the matching _clear function.
 * Thread-safety: all functions are pure and may be called from any thread.
 */
#ifndef RUNNER_PROVIDER_H
#define RUNNER_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aos/agents.h"
#include "aos/result.h"

#define RUNNER_DEFAULT_API_VERSION "2024-06-01"

/* One model endpoint. Strings are borrowed (the caller keeps them alive while using it). */
typedef struct runner_endpoint {
    aos_provider kind;
    const char *name;        /* label for logs, metrics and the circuit breaker */
    const char *url;         /* base URL (see the table above); required unless offline */
    const char *deployment;  /* azure-openai deployment; azureml default deployment */
    const char *api_version; /* azure-openai; NULL -> RUNNER_DEFAULT_API_VERSION */
    const char *api_key;     /* secret, never logged; NULL: no auth header */
    aos_endpoint_auth auth;  /* how api_key is sent (DEFAULT: per provider, see above) */
    const char *model;       /* openai model name when no adapter is set */
    const char *adapter;     /* LoRA adapter: openai model name / azureml deployment */
    bool stream;             /* ask for an SSE stream */
    uint32_t max_tokens;     /* 0: not sent */
    double temperature;      /* < 0: not sent */
} runner_endpoint_t;

typedef struct runner_chat_msg {
    const char *role; /* "system", "user", "assistant" */
    const char *content;
} runner_chat_msg_t;

#define RUNNER_HTTP_MAX_HEADERS 8
#define RUNNER_MAX_RESPONSE_BYTES (16u << 20) /* largest response body accepted */

typedef struct runner_http_req {
    char *url;
    char *headers[RUNNER_HTTP_MAX_HEADERS]; /* "Name: value" */
    size_t header_count;
    char *body; /* JSON, NUL-terminated */
    size_t body_len;
} runner_http_req_t;

/* Fill *out from a configured endpoint (borrowing its strings): the key comes from the
 * endpoint's api_key_env, the adapter is the agent's (may be NULL). */
void runner_endpoint_from_def(const aos_endpoint_t *def, const char *adapter,
                              runner_endpoint_t *out);

/* Free what *req owns and zero it. */
void runner_http_req_clear(runner_http_req_t *req);

/* Build the HTTP request for a chat completion. AOS_ERR_INVALID (with detail) when the
 * endpoint lacks what its provider needs or kind is offline; *out is untouched on error. */
aos_result runner_provider_build_request(const runner_endpoint_t *ep, const runner_chat_msg_t *msgs,
                                         size_t count, runner_http_req_t *out, char *errbuf,
                                         size_t errlen);

typedef struct runner_usage {
    uint32_t prompt_tokens;
    uint32_t completion_tokens;
    uint32_t total_tokens;
} runner_usage_t;

typedef struct runner_completion {
    char *text;          /* the assistant's reply, never NULL after a successful parse */
    char *model;         /* as reported by the server, may be NULL */
    char *finish_reason; /* may be NULL */
    runner_usage_t usage;
    bool usage_reported; /* false: usage was estimated, not reported by the server */
} runner_completion_t;

void runner_completion_clear(runner_completion_t *c);

/* Parse a non-streamed response body: OpenAI chat.completion ({"choices":[{"message":
 * {"content":..}}], "usage":{..}}), or the Azure ML shapes {"output": "..."} / ["..."].
 * AOS_ERR_PROTOCOL with detail on anything else (including an {"error":..} body). */
aos_result runner_chat_parse_response(const char *body, size_t len, runner_completion_t *out,
                                      char *errbuf, size_t errlen);

/* Extract a human message from an error body ({"error":{"message":..}} or {"message":..}),
 * truncated to fit; writes "" when there is none. */
void runner_chat_error_message(const char *body, size_t len, char *out, size_t outlen);

/* Rough token estimate used when the server reports no usage (and by the offline
 * provider): about four characters per token, at least one for non-empty text. */
uint32_t runner_estimate_tokens(const char *text);

#endif
