/* End-to-end: HTTP -> aos-router -> bus (RabbitMQ fixture) -> aos-agent-runner -> aos-storage
 * and back, with the real binaries. Covers sync and async turns, stickiness, the conversation
 * read, agent health from heartbeats, a Copilot-Studio-shaped activity (expectReplies, with a
 * Bot Framework JWT signed by a key generated here), a normal-mode activity whose reply is
 * POSTed to a fake Bot Connector (the one external service here), Event Grid validation and
 * delivery, the CloudEvents webhook handshake, act without an ML pipeline, auth and input
 * errors, probes and a graceful SIGTERM. Fails when a binary is not built. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <pthread.h>

#include "aos/base64.h"
#include "aos/envelope.h"
#include "aos/http_server.h"
#include "aos/json.h"
#include "e2e_support.h"

#define API_KEY "e2e-key-0123456789abcdef"
#define APP_ID "e2e-skill-app"
#define ISSUER "https://api.botframework.com"

static e2e_stack_t g_stack;
static char g_config[300], g_jwks[300];
static EVP_PKEY *g_key;
static aos_http_server_t *g_connector;
static pthread_mutex_t g_conn_mu = PTHREAD_MUTEX_INITIALIZER;
static char g_conn_path[1024], g_conn_body[16384], g_conn_auth[512], g_token_form[2048];
static int g_conn_posts;

/* ---- helpers ---- */

/* base64url of in into out, which the caller sized for it (aos/base64.h) */
static void b64url(const unsigned char *in, size_t len, char *out)
{
    assert_int_equal(aos_base64url_encode_into(in, len, out, aos_base64_encoded_len(len) + 1),
                     AOS_OK);
}

static void make_jwt(const char *payload, char *out, size_t outlen)
{
    char h[256], p[1024], sig64[700];
    const char *hdr = "{\"alg\":\"RS256\",\"kid\":\"e2e\",\"typ\":\"JWT\"}";
    b64url((const unsigned char *)hdr, strlen(hdr), h);
    b64url((const unsigned char *)payload, strlen(payload), p);
    snprintf(out, outlen, "%s.%s", h, p);
    unsigned char sig[512];
    size_t siglen = sizeof sig;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, g_key);
    EVP_DigestSign(md, sig, &siglen, (unsigned char *)out, strlen(out));
    EVP_MD_CTX_free(md);
    b64url(sig, siglen, sig64);
    size_t n = strlen(out);
    snprintf(out + n, outlen - n, ".%s", sig64);
}

static int write_jwks(const char *path)
{
    BIGNUM *n = NULL, *e = NULL;
    unsigned char nb[600], eb[16];
    char n64[900], e64[32];
    if (EVP_PKEY_get_bn_param(g_key, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
        EVP_PKEY_get_bn_param(g_key, OSSL_PKEY_PARAM_RSA_E, &e) != 1)
        return -1;
    b64url(nb, (size_t)BN_bn2bin(n, nb), n64);
    b64url(eb, (size_t)BN_bn2bin(e, eb), e64);
    BN_free(n);
    BN_free(e);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(
        f,
        "{\"keys\":[{\"kty\":\"RSA\",\"use\":\"sig\",\"kid\":\"e2e\",\"n\":\"%s\",\"e\":\"%s\"}]}",
        n64, e64);
    fclose(f);
    return 0;
}

static int api(const char *method, const char *path, const char *body, const char *extra_hdr,
               e2e_resp_t *out)
{
    char url[1024];
    snprintf(url, sizeof url, "%s%s", g_stack.api, path);
    const char *hdr[] = {"Authorization: Bearer " API_KEY, "Content-Type: application/json",
                         extra_hdr, NULL};
    return e2e_http(method, url, hdr, body, body ? strlen(body) : 0, 30000, out);
}

static json_object *json_of(const e2e_resp_t *r)
{
    json_object *o = NULL;
    if (aos_json_parse(r->body, r->len, 0, 0, &o, NULL, 0) != AOS_OK)
        fail_msg("response is not JSON (status %ld): %s", r->status, r->body);
    return o;
}

static const char *str_at(json_object *o, const char *k)
{
    const char *s = NULL;
    aos_json_get_string(o, k, AOS_JSON_OPTIONAL, &s, NULL, 0);
    return s ? s : "";
}

static void expect_status(const e2e_resp_t *r, long want)
{
    if (r->status != want)
        fail_msg("status %ld (want %ld): %s", r->status, want, r->body);
}

/* Messages of a conversation ("" on a failed read). */
static int count_role(const char *conv, const char *role, const char *id_prefix)
{
    char path[256];
    snprintf(path, sizeof path, "/v1/conversations/%s?limit=200", conv);
    e2e_resp_t r;
    api("GET", path, NULL, NULL, &r);
    int n = 0;
    json_object *o = NULL, *msgs = NULL;
    if (r.status == 200 && aos_json_parse(r.body, r.len, 0, 0, &o, NULL, 0) == AOS_OK &&
        aos_json_get_array(o, "messages", AOS_JSON_REQUIRED, &msgs, NULL, 0) == AOS_OK)
        for (size_t i = 0; i < json_object_array_length(msgs); i++) {
            json_object *m = json_object_array_get_idx(msgs, i);
            if (strcmp(str_at(m, "role"), role) == 0 &&
                (!id_prefix || strncmp(str_at(m, "id"), id_prefix, strlen(id_prefix)) == 0))
                n++;
        }
    json_object_put(o);
    e2e_resp_free(&r);
    return n;
}

/* ---- the fake Bot Connector (serviceUrl of normal-mode activities) ---- */

static void connector_post(aos_http_request_t *req, void *ctx)
{
    (void)ctx;
    size_t len = 0;
    const char *body = aos_http_request_body(req, &len);
    pthread_mutex_lock(&g_conn_mu);
    snprintf(g_conn_path, sizeof g_conn_path, "%s", aos_http_request_path(req));
    snprintf(g_conn_body, sizeof g_conn_body, "%.*s", (int)len, body);
    const char *auth = aos_http_request_header(req, "Authorization");
    snprintf(g_conn_auth, sizeof g_conn_auth, "%s", auth ? auth : "");
    g_conn_posts++;
    pthread_mutex_unlock(&g_conn_mu);
    aos_http_respond_json(req, 200, "{\"id\":\"connector-1\"}");
}

/* The Entra token endpoint the router uses for its outbound Bot Framework token. */
static void token_post(aos_http_request_t *req, void *ctx)
{
    (void)ctx;
    size_t len = 0;
    const char *body = aos_http_request_body(req, &len);
    pthread_mutex_lock(&g_conn_mu);
    snprintf(g_token_form, sizeof g_token_form, "%.*s", (int)len, body);
    pthread_mutex_unlock(&g_conn_mu);
    aos_http_respond_json(req, 200,
                          "{\"token_type\":\"Bearer\",\"expires_in\":3600,"
                          "\"access_token\":\"e2e-bf-token\"}");
}

static int start_connector(void)
{
    aos_http_server_config_t c = {.bind_addr = "127.0.0.1:0", .name = "connector"};
    if (aos_http_server_new(&c, &g_connector, NULL, 0) != AOS_OK ||
        aos_http_server_route(g_connector, "POST", "/v3/conversations/{conv}/activities/{id}",
                              connector_post, NULL) != AOS_OK ||
        aos_http_server_route(g_connector, "POST", "/token", token_post, NULL) != AOS_OK ||
        aos_http_server_start(g_connector, NULL, 0) != AOS_OK)
        return -1;
    return 0;
}

/* ---- stack ---- */

static int setup(void **state)
{
    (void)state;
    const char *src = getenv("AOS_SOURCE_DIR");
    char sample[512];
    snprintf(sample, sizeof sample, "%s/deploy/config/aos.json", src ? src : ".");
    snprintf(g_config, sizeof g_config, "/tmp/aos-e2e-%d.json", (int)getpid());
    snprintf(g_jwks, sizeof g_jwks, "/tmp/aos-e2e-jwks-%d.json", (int)getpid());
    const char *keys[] = {"sync_timeout_ms",
                          "act_timeout_ms",
                          "heartbeat_interval_ms",
                          "heartbeat_stale_ms",
                          "max_body_bytes",
                          "max_text_bytes",
                          NULL};
    const int values[] = {20000, 1500, 1000, 10000, 65536, 4096};
    g_key = EVP_RSA_gen(2048);
    if (!g_key || write_jwks(g_jwks) != 0 ||
        e2e_write_config(sample, g_config, keys, values) != 0 || start_connector() != 0)
        return -1;
    char jwks[400], token_url[128];
    snprintf(jwks, sizeof jwks, "AOS_BOT_JWKS_FILE=%s", g_jwks);
    snprintf(token_url, sizeof token_url, "AOS_BOT_TOKEN_URL=http://127.0.0.1:%u/token",
             aos_http_server_port(g_connector));
    const char *router_env[] = {jwks, "AOS_BOT_APP_ID=" APP_ID, "AOS_API_KEYS=" API_KEY,
                                "AOS_BOT_APP_PASSWORD=e2e-secret/+&", token_url,
                                /* the fake Bot Connector is plain http: the bot token goes
                                 * to http serviceUrls only in development mode */
                                "AOS_DEV_MODE=1", "AOS_BOT_ALLOWED_CALLERS=*", NULL};
    if (e2e_stack_start(&g_stack, NULL, g_config, router_env, "Authorization: Bearer " API_KEY) !=
        0) {
        fprintf(stderr, "the stack did not come up\n");
        e2e_dump_log(&g_stack.storage, 30);
        e2e_dump_log(&g_stack.runner, 30);
        e2e_dump_log(&g_stack.router, 30);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    e2e_stack_stop(&g_stack);
    aos_http_server_free(g_connector);
    EVP_PKEY_free(g_key);
    unlink(g_config);
    unlink(g_jwks);
    return 0;
}

/* ---- cases ---- */

static void test_auth_and_bad_input(void **state)
{
    (void)state;
    e2e_resp_t r;
    char url[256];
    snprintf(url, sizeof url, "%s/v1/messages", g_stack.api);
    const char *no_key[] = {"Content-Type: application/json", NULL};
    e2e_http("POST", url, no_key, "{\"text\":\"hi\"}", 13, 5000, &r);
    expect_status(&r, 401);
    assert_non_null(strstr(r.body, "\"unauthenticated\""));
    e2e_resp_free(&r);
    const char *bad_key[] = {"Authorization: Bearer e2e-key-0123456789abcdeX", NULL};
    e2e_http("POST", url, bad_key, "{\"text\":\"hi\"}", 13, 5000, &r);
    expect_status(&r, 401);
    e2e_resp_free(&r);
    /* issue 9 item 8: a cross-site form or text/plain POST never reaches the handler (415);
     * two Authorization headers are ambiguous (400); duplicate JSON keys are refused (400) */
    const char *plain[] = {"Authorization: Bearer " API_KEY, "Content-Type: text/plain", NULL};
    e2e_http("POST", url, plain, "{\"text\":\"hi\"}", 13, 5000, &r);
    expect_status(&r, 415);
    assert_non_null(strstr(r.body, "\"unsupported_media_type\""));
    e2e_resp_free(&r);
    const char *form[] = {"Authorization: Bearer " API_KEY,
                          "Content-Type: application/x-www-form-urlencoded", NULL};
    e2e_http("POST", url, form, "text=hi", 7, 5000, &r);
    expect_status(&r, 415);
    e2e_resp_free(&r);
    const char *two_auth[] = {"Authorization: Bearer " API_KEY, "Authorization: Bearer " API_KEY,
                              "Content-Type: application/json", NULL};
    e2e_http("POST", url, two_auth, "{\"text\":\"hi\"}", 13, 5000, &r);
    expect_status(&r, 400);
    e2e_resp_free(&r);
    api("POST", "/v1/messages", "{\"text\":\"hi\",\"text\":\"ho\"}", NULL, &r);
    expect_status(&r, 400);
    assert_non_null(strstr(r.body, "duplicate"));
    e2e_resp_free(&r);

    struct {
        const char *body;
        long status;
        const char *needle;
    } cases[] = {
        {"{\"text\":", 400, "JSON"},
        {"{\"text\":\"\xc3\x28\"}", 400, "invalid_argument"},
        {"{\"text\":\"hi\",\"agent\":\"cto\"}", 400, "unknown agent \\\"cto\\\""},
        {"{\"txt\":\"hi\"}", 400, "unknown field 'txt'"},
        {"{\"text\":\"hi\",\"conversation_id\":\"../etc\"}", 400, "conversation_id"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        api("POST", "/v1/messages", cases[i].body, NULL, &r);
        expect_status(&r, cases[i].status);
        if (!strstr(r.body, cases[i].needle))
            fail_msg("case %zu: %s lacks %s", i, r.body, cases[i].needle);
        e2e_resp_free(&r);
    }
    static char big[70000];
    memset(big, 'a', sizeof big - 1);
    memcpy(big, "{\"text\":\"", 9);
    memcpy(big + sizeof big - 3, "\"}", 2);
    api("POST", "/v1/messages", big, NULL, &r);
    expect_status(&r, 413);
    e2e_resp_free(&r);
    char text[5000] = "{\"text\":\"";
    memset(text + 9, 'b', 4200);
    strcpy(text + 9 + 4200, "\"}");
    api("POST", "/v1/messages", text, NULL, &r);
    expect_status(&r, 413);
    e2e_resp_free(&r);
    api("GET", "/v1/conversations/c-does-not-exist", NULL, NULL, &r);
    expect_status(&r, 404);
    e2e_resp_free(&r);
}

static void test_sync_turn_and_stickiness(void **state)
{
    (void)state;
    e2e_resp_t r;
    api("POST", "/v1/messages", "{\"text\":\"What is our budget for Q3?\",\"user\":\"alice\"}",
        NULL, &r);
    expect_status(&r, 200);
    json_object *o = json_of(&r);
    assert_string_equal(str_at(o, "agent"), "cfo");
    assert_non_null(strstr(str_at(o, "reply"), "offline"));
    json_object *routing = NULL, *usage = NULL;
    aos_json_get_object(o, "routing", AOS_JSON_REQUIRED, &routing, NULL, 0);
    assert_string_equal(str_at(routing, "reason"), "keyword:budget");
    assert_int_equal(aos_json_get_object(o, "usage", AOS_JSON_REQUIRED, &usage, NULL, 0), AOS_OK);
    char conv[160], body[400];
    snprintf(conv, sizeof conv, "%s", str_at(o, "conversation_id"));
    json_object_put(o);
    e2e_resp_free(&r);

    /* a marketing question in the same conversation stays with the CFO */
    snprintf(body, sizeof body,
             "{\"text\":\"And the marketing campaign?\",\"conversation_id\":\"%s\"}", conv);
    api("POST", "/v1/messages", body, NULL, &r);
    expect_status(&r, 200);
    o = json_of(&r);
    assert_string_equal(str_at(o, "agent"), "cfo");
    aos_json_get_object(o, "routing", AOS_JSON_REQUIRED, &routing, NULL, 0);
    assert_string_equal(str_at(routing, "reason"), "sticky");
    json_object_put(o);
    e2e_resp_free(&r);
    /* explicit beats sticky */
    snprintf(body, sizeof body,
             "{\"text\":\"Your view?\",\"conversation_id\":\"%s\",\"agent\":"
             "\"ceo\"}",
             conv);
    api("POST", "/v1/messages", body, NULL, &r);
    expect_status(&r, 200);
    o = json_of(&r);
    assert_string_equal(str_at(o, "agent"), "ceo");
    json_object_put(o);
    e2e_resp_free(&r);

    assert_int_equal(count_role(conv, "user", NULL), 3);
    assert_int_equal(count_role(conv, "assistant", NULL), 3);
    char path[256];
    snprintf(path, sizeof path, "/v1/conversations/%s?limit=2", conv);
    api("GET", path, NULL, NULL, &r);
    expect_status(&r, 200);
    o = json_of(&r);
    json_object *c = NULL;
    aos_json_get_object(o, "conversation", AOS_JSON_REQUIRED, &c, NULL, 0);
    assert_string_equal(str_at(c, "agent"), "cfo");
    assert_true(strlen(str_at(o, "next_cursor")) > 0);
    json_object_put(o);
    e2e_resp_free(&r);
}

static void test_async_turn(void **state)
{
    (void)state;
    e2e_resp_t r;
    api("POST", "/v1/messages", "{\"text\":\"Plan a brand campaign\"}", "Prefer: respond-async",
        &r);
    expect_status(&r, 202);
    char loc[256];
    assert_true(e2e_header(&r, "Location", loc, sizeof loc));
    json_object *o = json_of(&r);
    assert_string_equal(str_at(o, "agent"), "cmo");
    assert_string_equal(str_at(o, "status"), "accepted");
    char conv[160];
    snprintf(conv, sizeof conv, "%s", str_at(o, "conversation_id"));
    json_object_put(o);
    e2e_resp_free(&r);
    char want[256];
    snprintf(want, sizeof want, "/v1/conversations/%s", conv);
    assert_string_equal(loc, want);
    int answers = 0;
    for (long long end = e2e_now_ms() + 30000; e2e_now_ms() < end && answers == 0;
         stack_sleep_ms(100))
        answers = count_role(conv, "assistant", NULL);
    assert_int_equal(answers, 1);
}

static void test_agents_health(void **state)
{
    (void)state;
    e2e_resp_t r;
    api("GET", "/v1/agents", NULL, NULL, &r);
    expect_status(&r, 200);
    json_object *o = json_of(&r), *agents = NULL;
    assert_string_equal(str_at(o, "default_agent"), "default");
    aos_json_get_array(o, "agents", AOS_JSON_REQUIRED, &agents, NULL, 0);
    assert_int_equal(json_object_array_length(agents), 4);
    bool cfo = false;
    for (size_t i = 0; i < json_object_array_length(agents); i++) {
        json_object *a = json_object_array_get_idx(agents, i), *h = NULL;
        if (strcmp(str_at(a, "name"), "cfo") != 0)
            continue;
        cfo = true;
        aos_json_get_object(a, "health", AOS_JSON_REQUIRED, &h, NULL, 0);
        assert_string_equal(str_at(h, "status"), "healthy");
    }
    assert_true(cfo);
    json_object_put(o);
    e2e_resp_free(&r);
}

static void activity_json(char *out, size_t outlen, const char *id, const char *conv,
                          const char *mode, const char *text)
{
    snprintf(out, outlen,
             "{\"type\":\"message\",\"id\":\"%s\",\"timestamp\":\"2026-11-24T01:00:00.000Z\","
             "\"serviceUrl\":\"http://127.0.0.1:%u/\",\"channelId\":\"pva-studio\","
             "\"from\":{\"id\":\"user-1\",\"name\":\"Alice\",\"role\":\"user\"},"
             "\"conversation\":{\"id\":\"%s\"},\"recipient\":{\"id\":\"" APP_ID
             "\",\"name\":\"aos\",\"role\":\"skill\"},\"text\":\"%s\",\"locale\":\"en-US\""
             "%s%s%s}",
             id, aos_http_server_port(g_connector), conv, text, mode ? ",\"deliveryMode\":\"" : "",
             mode ? mode : "", mode ? "\"" : "");
}

static void bot_post(const char *body, const char *token, e2e_resp_t *r)
{
    char url[256], auth[4096];
    snprintf(url, sizeof url, "%s/api/messages", g_stack.api);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token ? token : "");
    const char *hdr[] = {"Content-Type: application/json", token ? auth : NULL, NULL};
    e2e_http("POST", url, hdr, body, strlen(body), 30000, r);
}

static void valid_token(char *tok, size_t len)
{
    char claims[512];
    snprintf(claims, sizeof claims,
             "{\"iss\":\"" ISSUER "\",\"aud\":\"" APP_ID "\",\"exp\":%lld,\"nbf\":%lld,"
             "\"appid\":\"copilot-studio\"}",
             (long long)time(NULL) + 600, (long long)time(NULL) - 60);
    make_jwt(claims, tok, len);
}

static void test_copilot_expect_replies(void **state)
{
    (void)state;
    char id[64], conv[64], body[2048], tok[4096];
    char u[37];
    aos_uuid4(u);
    snprintf(id, sizeof id, "act-%.8s|0001", u);
    snprintf(conv, sizeof conv, "conv-%.8s|livechat", u);
    activity_json(body, sizeof body, id, conv, "expectReplies", "What is our go-to-market plan?");
    e2e_resp_t r;
    bot_post(body, NULL, &r);
    expect_status(&r, 401);
    e2e_resp_free(&r);
    char expired[512];
    snprintf(expired, sizeof expired,
             "{\"iss\":\"" ISSUER "\",\"aud\":\"" APP_ID "\",\"exp\":%lld}",
             (long long)time(NULL) - 3600);
    make_jwt(expired, tok, sizeof tok);
    bot_post(body, tok, &r);
    expect_status(&r, 401);
    assert_non_null(strstr(r.body, "expired"));
    e2e_resp_free(&r);

    valid_token(tok, sizeof tok);
    bot_post(body, tok, &r);
    expect_status(&r, 200);
    json_object *o = json_of(&r), *acts = NULL;
    aos_json_get_array(o, "activities", AOS_JSON_REQUIRED, &acts, NULL, 0);
    assert_int_equal(json_object_array_length(acts), 1);
    json_object *a = json_object_array_get_idx(acts, 0), *from = NULL, *cv = NULL;
    assert_string_equal(str_at(a, "type"), "message");
    assert_string_equal(str_at(a, "replyToId"), id);
    assert_non_null(strstr(str_at(a, "text"), "[offline cmo]"));
    aos_json_get_object(a, "from", AOS_JSON_REQUIRED, &from, NULL, 0);
    assert_string_equal(str_at(from, "id"), APP_ID);
    aos_json_get_object(a, "conversation", AOS_JSON_REQUIRED, &cv, NULL, 0);
    assert_string_equal(str_at(cv, "id"), conv);
    json_object_put(o);
    e2e_resp_free(&r);

    /* the same activity redelivered is the same turn: still one user message */
    bot_post(body, tok, &r);
    expect_status(&r, 200);
    e2e_resp_free(&r);
    /* a conversationUpdate is acknowledged without a turn */
    const char *upd = "{\"type\":\"conversationUpdate\",\"conversation\":{\"id\":\"x\"},"
                      "\"deliveryMode\":\"expectReplies\"}";
    bot_post(upd, tok, &r);
    expect_status(&r, 200);
    assert_string_equal(r.body, "{\"activities\":[]}");
    e2e_resp_free(&r);
}

static void test_bot_reply_to_service_url(void **state)
{
    (void)state;
    char id[64], conv[64], body[2048], tok[4096], u[37];
    aos_uuid4(u);
    snprintf(id, sizeof id, "act-%.8s", u);
    snprintf(conv, sizeof conv, "conv/%.8s", u);
    activity_json(body, sizeof body, id, conv, NULL, "How is our cash flow?");
    valid_token(tok, sizeof tok);
    pthread_mutex_lock(&g_conn_mu);
    int before = g_conn_posts;
    pthread_mutex_unlock(&g_conn_mu);
    e2e_resp_t r;
    bot_post(body, tok, &r);
    expect_status(&r, 202);
    e2e_resp_free(&r);
    int posts = before;
    for (long long end = e2e_now_ms() + 30000; e2e_now_ms() < end && posts == before;
         stack_sleep_ms(50)) {
        pthread_mutex_lock(&g_conn_mu);
        posts = g_conn_posts;
        pthread_mutex_unlock(&g_conn_mu);
    }
    assert_int_equal(posts, before + 1);
    char want[256];
    snprintf(want, sizeof want, "/v3/conversations/conv/%.8s/activities/%s", u, id);
    pthread_mutex_lock(&g_conn_mu);
    assert_string_equal(g_conn_path, want); /* %2F decoded by the server */
    assert_non_null(strstr(g_conn_body, "[offline cfo]"));
    assert_non_null(strstr(g_conn_body, "\"replyToId\""));
    assert_string_equal(g_conn_auth, "Bearer e2e-bf-token");
    assert_non_null(strstr(g_token_form, "grant_type=client_credentials"));
    assert_non_null(strstr(g_token_form, "client_id=" APP_ID));
    assert_non_null(strstr(g_token_form, "client_secret=e2e-secret%2F%2B%26"));
    assert_non_null(strstr(g_token_form, "scope=https%3A%2F%2Fapi.botframework.com%2F.default"));
    pthread_mutex_unlock(&g_conn_mu);
}

static void test_eventgrid(void **state)
{
    (void)state;
    e2e_resp_t r;
    const char *val = "[{\"id\":\"2d1781af-3a4c-4d7c-bd0c-e34b19da4e66\",\"topic\":\"/s/x\","
                      "\"subject\":\"\",\"data\":{\"validationCode\":\"512d38b6-c7b8-40c8\","
                      "\"validationUrl\":\"https://rp-eastus2.eventgrid.azure.net/x\"},"
                      "\"eventType\":\"Microsoft.EventGrid.SubscriptionValidationEvent\","
                      "\"eventTime\":\"2018-01-25T22:12:19.4556811Z\",\"metadataVersion\":\"1\","
                      "\"dataVersion\":\"1\"}]";
    api("POST", "/v1/events", val, "aeg-event-type: SubscriptionValidation", &r);
    expect_status(&r, 200);
    assert_string_equal(r.body, "{\"validationResponse\":\"512d38b6-c7b8-40c8\"}");
    e2e_resp_free(&r);

    int before = count_role("events-cfo", "assistant", NULL);
    char u[37], body[1024];
    aos_uuid4(u);
    snprintf(body, sizeof body,
             "[{\"topic\":\"/subscriptions/s/storageAccounts/acct\",\"subject\":\"/blobServices/"
             "default/containers/invoices/blobs/%s.pdf\",\"eventType\":\"Microsoft.Storage."
             "BlobCreated\",\"eventTime\":\"2026-11-24T01:00:00.9584103Z\",\"id\":\"%s\","
             "\"data\":{\"api\":\"PutBlockList\",\"contentLength\":524288},\"dataVersion\":\"\","
             "\"metadataVersion\":\"1\"}]",
             u, u);
    api("POST", "/v1/events", body, "aeg-event-type: Notification", &r);
    expect_status(&r, 200);
    assert_non_null(strstr(r.body, "\"agents\":[\"cfo\"]"));
    assert_non_null(strstr(r.body, "\"turns\":1"));
    e2e_resp_free(&r);
    int after = before;
    for (long long end = e2e_now_ms() + 30000; e2e_now_ms() < end && after == before;
         stack_sleep_ms(100))
        after = count_role("events-cfo", "assistant", NULL);
    assert_int_equal(after, before + 1);

    /* redelivery of the same event does not make a second turn */
    api("POST", "/v1/events", body, NULL, &r);
    expect_status(&r, 200);
    e2e_resp_free(&r);
    stack_sleep_ms(1500);
    assert_int_equal(count_role("events-cfo", "assistant", NULL), before + 1);
    /* an event nobody subscribes to is accepted with no turns */
    api("POST", "/v1/events",
        "{\"specversion\":\"1.0\",\"id\":\"x1\",\"type\":\"org.nobody.cares\",\"source\":\"/t\"}",
        "Content-Type: application/cloudevents+json", &r);
    expect_status(&r, 200);
    assert_non_null(strstr(r.body, "\"turns\":0"));
    e2e_resp_free(&r);
    api("POST", "/v1/events", "[{\"eventType\":\"x\"}]", NULL, &r);
    expect_status(&r, 400);
    e2e_resp_free(&r);
}

static void test_cloudevents_handshake(void **state)
{
    (void)state;
    e2e_resp_t r;
    api("OPTIONS", "/v1/events", NULL, "WebHook-Request-Origin: eventgrid.azure.net", &r);
    expect_status(&r, 200);
    char v[128];
    assert_true(e2e_header(&r, "WebHook-Allowed-Origin", v, sizeof v));
    assert_string_equal(v, "eventgrid.azure.net");
    e2e_resp_free(&r);
}

static void test_act_without_pipeline(void **state)
{
    (void)state;
    e2e_resp_t r;
    api("POST", "/v1/agents/cfo/act", "{\"action\":\"trigger_lora_training\",\"params\":{}}", NULL,
        &r);
    expect_status(&r, 503);
    assert_non_null(strstr(r.body, "no ML pipeline answered"));
    e2e_resp_free(&r);
    api("POST", "/v1/agents/cfo/act", "{\"action\":\"dance\"}", NULL, &r);
    expect_status(&r, 400);
    e2e_resp_free(&r);
    api("POST", "/v1/agents/nobody/act", "{\"action\":\"aml_infer\"}", NULL, &r);
    expect_status(&r, 404);
    e2e_resp_free(&r);
}

static void test_probes_and_sigterm(void **state)
{
    (void)state;
    e2e_resp_t r;
    char url[128];
    snprintf(url, sizeof url, "%s/metrics", g_stack.admin);
    e2e_http("GET", url, NULL, NULL, 0, 5000, &r);
    expect_status(&r, 200);
    assert_non_null(strstr(r.body, "aos_router_turns_total{result=\"ok\"}"));
    e2e_resp_free(&r);
    snprintf(url, sizeof url, "%s/healthz", g_stack.api);
    e2e_http("GET", url, NULL, NULL, 0, 5000, &r);
    expect_status(&r, 200);
    e2e_resp_free(&r);
    assert_int_equal(e2e_stop(&g_stack.router, 20000), 0);
}

int main(void)
{
    if (!e2e_have_stack(false))
        return E2E_MISSING;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth_and_bad_input),
        cmocka_unit_test(test_sync_turn_and_stickiness),
        cmocka_unit_test(test_async_turn),
        cmocka_unit_test(test_agents_health),
        cmocka_unit_test(test_copilot_expect_replies),
        cmocka_unit_test(test_bot_reply_to_service_url),
        cmocka_unit_test(test_eventgrid),
        cmocka_unit_test(test_cloudevents_handshake),
        cmocka_unit_test(test_act_without_pipeline),
        cmocka_unit_test(test_probes_and_sigterm),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    if (rc != 0) {
        e2e_dump_log(&g_stack.router, 40);
        e2e_dump_log(&g_stack.runner, 20);
    }
    curl_global_cleanup();
    return rc;
}
