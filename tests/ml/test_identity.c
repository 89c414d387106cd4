/* Entra tokens for Azure APIs (common/src/identity, aos/identity.h) against a fake that speaks
 * Entra's v2.0 token endpoint and the managed identity endpoint (tests/ml/fake_azureml.js,
 * which also plays ARM and accepts only unexpired tokens it issued):
 *   - client secret: a token, cached, refreshed at half the life of a short-lived token, and
 *     accepted by ARM; a wrong secret is refused with Entra's words and no secret in them;
 *   - workload identity: the federated token file is the client assertion;
 *   - managed identity (IMDS), expires_on as a string;
 *   - configuration from the SDKs' environment variables; the answer parser;
 *   - the non-blocking read of the cached token and a whole token URL instead of
 *     authority/tenant (the router's Bot Framework token: AOS_BOT_TOKEN_URL). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "aos/http_client.h"
#include "aos/identity.h"
#include "aos/json.h"

extern char **environ;

#define TTL_S 4
#define SCOPE "https://management.azure.com/.default"

static struct {
    pid_t fake;
    char base[128];
    char fed_file[128];
    aos_http_client_t *http;
} S;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int setup(void **state)
{
    (void)state;
    const char *src = getenv("AOS_SOURCE_DIR");
    char script[600], port_file[128], ttl[16];
    snprintf(script, sizeof script, "%s/tests/ml/fake_azureml.js",
             src ? src : AOS_SOURCE_DIR_DEFAULT);
    snprintf(port_file, sizeof port_file, "/tmp/aos-identity-%d.port", (int)getpid());
    snprintf(ttl, sizeof ttl, "%d", TTL_S);
    unlink(port_file);
    char *argv[] = {"node",        script,        "--port-file", port_file,         "--token-ttl",
                    ttl,           "--client-id", "aos-app",     "--client-secret", "s3cr3t!&=",
                    "--federated", "fed-token-1", NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    int rc = posix_spawnp(&S.fake, "node", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return -1;
    for (int i = 0; i < 300 && !S.base[0]; i++) {
        sleep_ms(50);
        FILE *f = fopen(port_file, "r");
        int port = 0;
        if (f && fscanf(f, "%d", &port) == 1 && port > 0)
            snprintf(S.base, sizeof S.base, "http://127.0.0.1:%d", port);
        if (f)
            fclose(f);
    }
    unlink(port_file);
    snprintf(S.fed_file, sizeof S.fed_file, "/tmp/aos-identity-fed-%d", (int)getpid());
    char err[256];
    return S.base[0] && aos_http_client_new(NULL, &S.http, err, sizeof err) == AOS_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    aos_http_client_free(S.http);
    if (S.fake > 0) {
        kill(S.fake, SIGTERM);
        waitpid(S.fake, NULL, 0);
    }
    unlink(S.fed_file);
    return 0;
}

static json_object *fake_state(void)
{
    char url[256];
    snprintf(url, sizeof url, "%s/_state", S.base);
    aos_http_client_request_t req = {.method = "GET", .url = url, .timeout_ms = 5000};
    aos_http_response_t *resp = NULL;
    assert_int_equal(aos_http_client_do(S.http, &req, &resp, NULL, 0), AOS_OK);
    json_object *o = NULL;
    assert_int_equal(aos_json_parse_object(resp->body, resp->body_len, 0, 0, &o, NULL, 0), AOS_OK);
    aos_http_response_free(resp);
    return o;
}

static int64_t issued(void)
{
    json_object *o = fake_state();
    int64_t n = 0;
    aos_json_get_int(o, "tokens_issued", AOS_JSON_REQUIRED, &n, NULL, NULL, 0);
    json_object_put(o);
    return n;
}

/* An ARM call with the token: 404 (no such job) means the token was accepted. */
static int arm_status(const char *token)
{
    char url[512], auth[4200];
    snprintf(url, sizeof url,
             "%s/subscriptions/s/resourceGroups/r/providers/"
             "Microsoft.MachineLearningServices/workspaces/w/jobs/nope?api-version=2024-04-01",
             S.base);
    snprintf(auth, sizeof auth, "Bearer %s", token);
    aos_http_header_t h[] = {{"Authorization", auth}};
    aos_http_client_request_t req = {
        .method = "GET", .url = url, .headers = h, .header_count = 1, .timeout_ms = 5000};
    aos_http_response_t *resp = NULL;
    assert_int_equal(aos_http_client_do(S.http, &req, &resp, NULL, 0), AOS_OK);
    int st = resp->status;
    aos_http_response_free(resp);
    return st;
}

static aos_identity_t *secret_identity(const char *secret)
{
    char authority[160];
    snprintf(authority, sizeof authority, "%s", S.base);
    aos_identity_config_t c = {.kind = AOS_IDENTITY_CLIENT_SECRET,
                               .tenant_id = "tenant-1",
                               .client_id = "aos-app",
                               .client_secret = secret,
                               .authority_host = authority,
                               .scope = SCOPE};
    aos_identity_t *id = NULL;
    char err[256];
    assert_int_equal(aos_identity_new(&c, S.http, &id, err, sizeof err), AOS_OK);
    return id;
}

static void test_client_secret_cached_and_refreshed(void **state)
{
    (void)state;
    aos_identity_t *id = secret_identity("s3cr3t!&=");
    char t1[4096], t2[4096], t3[4096], tc[4096], err[256];
    int64_t before = issued();
    assert_int_equal(aos_identity_token_cached(id, tc, sizeof tc), AOS_ERR_NOT_FOUND);
    assert_int_equal(aos_identity_token(id, t1, sizeof t1, err, sizeof err), AOS_OK);
    assert_int_equal(aos_identity_token(id, t2, sizeof t2, err, sizeof err), AOS_OK);
    assert_string_equal(t1, t2); /* cached */
    assert_int_equal(aos_identity_token_cached(id, tc, sizeof tc), AOS_OK);
    assert_string_equal(tc, t1);
    assert_int_equal(issued(), before + 1);
    assert_int_equal(arm_status(t1), 404);
    /* a token living TTL_S is refreshed at half its life, before it expires */
    sleep_ms(TTL_S * 1000 / 2 + 600);
    /* due for refresh: the non-blocking read says so rather than hand out the old one */
    assert_int_equal(aos_identity_token_cached(id, tc, sizeof tc), AOS_ERR_NOT_FOUND);
    assert_int_equal(aos_identity_token(id, t3, sizeof t3, err, sizeof err), AOS_OK);
    assert_string_not_equal(t1, t3);
    assert_int_equal(issued(), before + 2);
    assert_int_equal(arm_status(t3), 404);
    sleep_ms(TTL_S * 1000 / 2 + 200); /* t1 has expired by now: ARM says so */
    assert_int_equal(arm_status(t1), 401);
    char small[4];
    assert_int_equal(aos_identity_token(id, small, sizeof small, err, sizeof err),
                     AOS_ERR_TOO_LARGE);
    aos_identity_free(id);
}

static void test_wrong_secret_refused(void **state)
{
    (void)state;
    aos_identity_t *id = secret_identity("not-the-secret");
    char tok[4096], err[512] = "";
    assert_int_equal(aos_identity_token(id, tok, sizeof tok, err, sizeof err), AOS_ERR_AUTH);
    assert_non_null(strstr(err, "invalid_client"));
    assert_non_null(strstr(err, "AADSTS7000215"));
    assert_null(strstr(err, "not-the-secret"));
    aos_identity_free(id);
}

static void test_workload_identity(void **state)
{
    (void)state;
    FILE *f = fopen(S.fed_file, "w");
    fputs("fed-token-1\n", f);
    fclose(f);
    aos_identity_config_t c = {.kind = AOS_IDENTITY_WORKLOAD,
                               .tenant_id = "tenant-1",
                               .client_id = "aos-app",
                               .federated_token_file = S.fed_file,
                               .authority_host = S.base,
                               .scope = SCOPE};
    aos_identity_t *id = NULL;
    char tok[4096], err[256];
    assert_int_equal(aos_identity_new(&c, S.http, &id, err, sizeof err), AOS_OK);
    assert_int_equal(aos_identity_token(id, tok, sizeof tok, err, sizeof err), AOS_OK);
    assert_int_equal(arm_status(tok), 404);
    json_object *st = fake_state(), *grants = NULL;
    assert_true(json_object_object_get_ex(st, "grants", &grants));
    size_t n = json_object_array_length(grants);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(grants, n - 1)),
                        "federated");
    json_object_put(st);
    aos_identity_free(id);
    /* a file the kubelet has not written (yet) */
    unlink(S.fed_file);
    assert_int_equal(aos_identity_new(&c, S.http, &id, err, sizeof err), AOS_OK);
    assert_int_equal(aos_identity_token(id, tok, sizeof tok, err, sizeof err), AOS_ERR_AUTH);
    assert_non_null(strstr(err, "AZURE_FEDERATED_TOKEN_FILE"));
    aos_identity_free(id);
}

static void test_managed_identity(void **state)
{
    (void)state;
    char imds[200];
    snprintf(imds, sizeof imds, "%s/metadata/identity/oauth2/token", S.base);
    setenv("AOS_AZURE_MANAGED_IDENTITY", "1", 1);
    setenv("AOS_AZURE_IMDS_ENDPOINT", imds, 1);
    aos_identity_config_t c;
    char tok[4096], err[256];
    assert_int_equal(aos_identity_config_from_env(SCOPE, &c, err, sizeof err), AOS_OK);
    assert_int_equal(c.kind, AOS_IDENTITY_MANAGED);
    aos_identity_t *id = NULL;
    assert_int_equal(aos_identity_new(&c, S.http, &id, err, sizeof err), AOS_OK);
    assert_int_equal(aos_identity_token(id, tok, sizeof tok, err, sizeof err), AOS_OK);
    assert_int_equal(arm_status(tok), 404);
    aos_identity_free(id);
    unsetenv("AOS_AZURE_MANAGED_IDENTITY");
    unsetenv("AOS_AZURE_IMDS_ENDPOINT");
}

/* A whole token URL (AOS_BOT_TOKEN_URL): no tenant needed, and it is the URL used. */
static void test_token_url(void **state)
{
    (void)state;
    char url[200], tok[4096], err[256];
    snprintf(url, sizeof url, "%s/tenant-2/oauth2/v2.0/token", S.base);
    aos_identity_config_t c = {.kind = AOS_IDENTITY_CLIENT_SECRET,
                               .client_id = "aos-app",
                               .client_secret = "s3cr3t!&=",
                               .authority_host = "http://127.0.0.1:9", /* not this */
                               .token_url = url,
                               .scope = SCOPE};
    aos_identity_t *id = NULL;
    assert_int_equal(aos_identity_new(&c, S.http, &id, err, sizeof err), AOS_OK);
    assert_int_equal(aos_identity_token(id, tok, sizeof tok, err, sizeof err), AOS_OK);
    assert_int_equal(arm_status(tok), 404);
    aos_identity_free(id);
    /* a half configuration is refused at once */
    c.client_secret = NULL;
    assert_int_equal(aos_identity_new(&c, S.http, &id, err, sizeof err), AOS_ERR_INVALID);
    assert_null(id);
    c.kind = AOS_IDENTITY_CERTIFICATE;
    assert_int_equal(aos_identity_new(&c, S.http, &id, err, sizeof err), AOS_ERR_INVALID);
    assert_non_null(strstr(err, "certificate"));
    /* a certificate file that is not there: the token service is not asked */
    c.certificate_file = "/nonexistent/cert.pem";
    int64_t before = issued();
    assert_int_equal(aos_identity_new(&c, S.http, &id, err, sizeof err), AOS_OK);
    assert_int_equal(aos_identity_token(id, tok, sizeof tok, err, sizeof err), AOS_ERR_AUTH);
    assert_non_null(strstr(err, "/nonexistent/cert.pem"));
    assert_int_equal(issued(), before);
    aos_identity_free(id);
}

static void test_config_from_env(void **state)
{
    (void)state;
    aos_identity_config_t c;
    char err[256];
    assert_int_equal(aos_identity_config_from_env(SCOPE, &c, err, sizeof err), AOS_ERR_NOT_FOUND);
    setenv("AZURE_CLIENT_SECRET", "x", 1);
    assert_int_equal(aos_identity_config_from_env(SCOPE, &c, err, sizeof err), AOS_ERR_INVALID);
    assert_non_null(strstr(err, "AZURE_TENANT_ID"));
    setenv("AZURE_TENANT_ID", "t", 1);
    setenv("AZURE_CLIENT_ID", "c", 1);
    assert_int_equal(aos_identity_config_from_env(SCOPE, &c, err, sizeof err), AOS_OK);
    assert_int_equal(c.kind, AOS_IDENTITY_CLIENT_SECRET);
    setenv("AZURE_FEDERATED_TOKEN_FILE", "/var/run/secrets/azure/tokens/azure-identity-token", 1);
    assert_int_equal(aos_identity_config_from_env(SCOPE, &c, err, sizeof err), AOS_OK);
    assert_int_equal(c.kind, AOS_IDENTITY_WORKLOAD); /* AKS workload identity first */
    unsetenv("AZURE_CLIENT_SECRET");
    unsetenv("AZURE_FEDERATED_TOKEN_FILE");
    setenv("AZURE_CLIENT_CERTIFICATE_PATH", "/etc/aos/app.pem", 1);
    assert_int_equal(aos_identity_config_from_env(SCOPE, &c, err, sizeof err), AOS_OK);
    assert_int_equal(c.kind, AOS_IDENTITY_CERTIFICATE);
    assert_string_equal(c.certificate_file, "/etc/aos/app.pem");
    unsetenv("AZURE_CLIENT_CERTIFICATE_PATH");
    unsetenv("AZURE_TENANT_ID");
    unsetenv("AZURE_CLIENT_ID");
    unsetenv("AZURE_FEDERATED_TOKEN_FILE");
}

static void test_parse(void **state)
{
    (void)state;
    char *tok = NULL, err[256];
    int64_t exp = 0;
    const char *v2 = "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"ext_expires_in\":3599,"
                     "\"access_token\":\"eyJ0\"}";
    assert_int_equal(aos_identity_token_parse(v2, strlen(v2), 1000, &tok, &exp, err, sizeof err),
                     AOS_OK);
    assert_string_equal(tok, "eyJ0");
    assert_int_equal(exp, 1000 + 3599);
    free(tok);
    const char *mi =
        "{\"access_token\":\"eyJ1\",\"expires_on\":\"1796673000\",\"expires_in\":\"86399\","
        "\"resource\":\"https://management.azure.com\",\"token_type\":\"Bearer\"}";
    assert_int_equal(
        aos_identity_token_parse(mi, strlen(mi), 1796600000, &tok, &exp, err, sizeof err), AOS_OK);
    assert_int_equal(exp, 1796673000);
    free(tok);
    const char *bad[] = {"{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215\"}",
                         "{\"access_token\":\"x\"}", "{\"access_token\":\"\",\"expires_in\":5}",
                         "{\"access_token\":\"x\",\"expires_in\":\"soon\"}", "[]", "not json",
                         /* would split the Authorization header */
                         "{\"access_token\":\"x\\r\\nX-Evil: 1\",\"expires_in\":60}",
                         "{\"access_token\":\"a b\",\"expires_in\":60}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_not_equal(
            aos_identity_token_parse(bad[i], strlen(bad[i]), 1000, &tok, &exp, err, sizeof err),
            AOS_OK);
        assert_null(tok);
    }
}

int main(void)
{
    if (system("node --version >/dev/null 2>&1") != 0) {
        fprintf(stderr, "node is not installed: cannot run\n");
        return 1; /* a missing dependency fails the test */
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_config_from_env),
        cmocka_unit_test(test_token_url),
        cmocka_unit_test(test_client_secret_cached_and_refreshed),
        cmocka_unit_test(test_wrong_secret_refused),
        cmocka_unit_test(test_workload_identity),
        cmocka_unit_test(test_managed_identity),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
