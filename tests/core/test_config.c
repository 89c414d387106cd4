#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* cmocka needs the headers above first */
#include <cmocka.h>

#include "aos/config.h"
#include "aos/log.h"

typedef struct {
    char *name;
    int64_t workers;
    bool verbose;
    int64_t timeout_ms;
    int64_t max_body;
    char *mode;
    char *endpoint;
    char *listen;
    char *password;
    aos_config_common_t common;
} test_cfg_t;

static const aos_config_field_t TABLE[] = {
    {"T_NAME", "name", AOS_CONFIG_STRING, "svc", 0, 8, false, false, NULL, "Name",
     offsetof(test_cfg_t, name)},
    {"T_WORKERS", "workers", AOS_CONFIG_INT, "4", 1, 64, false, false, NULL, "Worker threads",
     offsetof(test_cfg_t, workers)},
    {"T_VERBOSE", "verbose", AOS_CONFIG_BOOL, "false", 0, 0, false, false, NULL, "Chatty",
     offsetof(test_cfg_t, verbose)},
    {"T_TIMEOUT", "timeout", AOS_CONFIG_DURATION_MS, "30s", 100, 3600000, false, false, NULL,
     "Timeout", offsetof(test_cfg_t, timeout_ms)},
    {"T_MAX_BODY", "max_body", AOS_CONFIG_SIZE, "1M", 0, 0, false, false, NULL, "Body limit",
     offsetof(test_cfg_t, max_body)},
    {"T_MODE", "mode", AOS_CONFIG_ENUM, "fast", 0, 0, false, false, "fast|safe|off", "Mode",
     offsetof(test_cfg_t, mode)},
    {"T_ENDPOINT", "endpoint", AOS_CONFIG_URL, NULL, 0, 0, false, false, "http|https", "Endpoint",
     offsetof(test_cfg_t, endpoint)},
    {"T_LISTEN", "listen", AOS_CONFIG_HOSTPORT, ":8080", 0, 0, false, false, NULL, "Listen",
     offsetof(test_cfg_t, listen)},
    {"T_PASSWORD", "password", AOS_CONFIG_STRING, NULL, 0, 0, true, true, NULL, "Password",
     offsetof(test_cfg_t, password)},
};
#define NT (sizeof TABLE / sizeof *TABLE)

static const aos_config_field_t FULL[] = {
    AOS_CONFIG_COMMON_FIELDS(test_cfg_t, common),
    {"T_WORKERS", "workers", AOS_CONFIG_INT, "4", 1, 64, false, false, NULL, "Worker threads",
     offsetof(test_cfg_t, workers)},
};

/* name=value pairs, NULL-terminated */
static const char *fake_getenv(const char *name, void *ctx)
{
    const char **kv = ctx;
    size_t n = strlen(name);
    for (; kv && *kv; kv++)
        if (strncmp(*kv, name, n) == 0 && (*kv)[n] == '=')
            return *kv + n + 1;
    return NULL;
}

static aos_result load(test_cfg_t *c, const char *json, const char **env, char *err, size_t errlen)
{
    return aos_config_load_ex(TABLE, NT, c, json, json ? strlen(json) : 0, fake_getenv, env, err,
                              errlen);
}

static void defaults_apply(void **state)
{
    (void)state;
    test_cfg_t c = {0};
    char err[512];
    const char *env[] = {"T_PASSWORD=hunter2", NULL};
    assert_int_equal(load(&c, NULL, env, err, sizeof err), AOS_OK);
    assert_string_equal(c.name, "svc");
    assert_int_equal(c.workers, 4);
    assert_false(c.verbose);
    assert_int_equal(c.timeout_ms, 30000);
    assert_int_equal(c.max_body, 1048576);
    assert_string_equal(c.mode, "fast");
    assert_null(c.endpoint);
    assert_string_equal(c.listen, ":8080");
    assert_string_equal(c.password, "hunter2");
    aos_config_free(TABLE, NT, &c);
    assert_null(c.name);
    assert_null(c.password);
}

static void file_then_env_precedence(void **state)
{
    (void)state;
    test_cfg_t c = {0};
    char err[512];
    const char *json = "{\"agents\":[],\"settings\":{\"name\":\"file\",\"workers\":8,"
                       "\"verbose\":true,\"timeout\":\"2m\",\"max_body\":\"64k\",\"mode\":\"SAFE\","
                       "\"endpoint\":\"https://u:pw@example.com:8443/x\",\"listen\":\"[::1]:0\","
                       "\"password\":\"p\",\"unknown_key\":{}}}";
    const char *env[] = {"T_WORKERS=16", "T_NAME=", NULL}; /* empty env = unset */
    assert_int_equal(load(&c, json, env, err, sizeof err), AOS_OK);
    assert_string_equal(c.name, "file");
    assert_int_equal(c.workers, 16);
    assert_true(c.verbose);
    assert_int_equal(c.timeout_ms, 120000);
    assert_int_equal(c.max_body, 65536);
    assert_string_equal(c.mode, "safe");
    assert_string_equal(c.endpoint, "https://u:pw@example.com:8443/x");
    assert_string_equal(c.listen, "[::1]:0");

    char v[128];
    aos_config_format_value(&TABLE[6], &c, v, sizeof v);
    assert_string_equal(v, "https://u:****@example.com:8443/x");
    aos_config_format_value(&TABLE[8], &c, v, sizeof v);
    assert_string_equal(v, "[redacted]");
    aos_config_format_value(&TABLE[3], &c, v, sizeof v);
    assert_string_equal(v, "120000ms");
    aos_config_format_value(&TABLE[2], &c, v, sizeof v);
    assert_string_equal(v, "true");
    aos_config_free(TABLE, NT, &c);
}

static void every_error_reported_at_once(void **state)
{
    (void)state;
    test_cfg_t c = {0};
    c.workers = 77; /* must survive a failed load */
    char err[2048];
    const char *env[] = {"T_NAME=much-too-long", "T_WORKERS=100", "T_VERBOSE=maybe",
                         "T_TIMEOUT=10x",        "T_MAX_BODY=5T", "T_MODE=slow",
                         "T_ENDPOINT=ftp://h",   "T_LISTEN=x",    NULL};
    assert_int_equal(load(&c, NULL, env, err, sizeof err), AOS_ERR_INVALID);
    const char *expect[] = {
        "T_NAME: longer than 8 bytes, got 'much-too-long'",
        "T_WORKERS: must be between 1 and 64, got '100'",
        "T_VERBOSE: expected true or false, got 'maybe'",
        "T_TIMEOUT: expected a duration like 500ms, 30s, 5m or 1h, got '10x'",
        "T_MAX_BODY: expected a size like 512, 64k, 10M or 1G, got '5T'",
        "T_MODE: expected one of fast|safe|off, got 'slow'",
        "T_ENDPOINT: expected a http|https URL (scheme://host[:port]), got 'ftp://h'",
        "T_LISTEN: expected host:port, got 'x'",
        "T_PASSWORD: required but not set",
    };
    for (size_t i = 0; i < sizeof expect / sizeof *expect; i++)
        if (!strstr(err, expect[i]))
            fail_msg("missing '%s' in:\n%s", expect[i], err);
    assert_int_equal(c.workers, 77);
    assert_null(c.name);
}

static void secrets_never_printed(void **state)
{
    (void)state;
    static const aos_config_field_t SECRET_INT[] = {
        {"T_PIN", "pin", AOS_CONFIG_INT, NULL, 0, 0, false, true, NULL, "PIN", 0},
    };
    int64_t pin = 0;
    char err[256];
    const char *env[] = {"T_PIN=s3cr3t-value", NULL};
    assert_int_equal(
        aos_config_load_ex(SECRET_INT, 1, &pin, NULL, 0, fake_getenv, env, err, sizeof err),
        AOS_ERR_INVALID);
    assert_null(strstr(err, "s3cr3t"));
    assert_non_null(strstr(err, "T_PIN: expected an integer"));

    /* the dump redacts secrets and URL passwords */
    test_cfg_t c = {0};
    const char *env2[] = {"T_PASSWORD=hunter2", "T_ENDPOINT=http://bob:pw123@h/", NULL};
    assert_int_equal(load(&c, NULL, env2, err, sizeof err), AOS_OK);
    char path[] = "/tmp/aos_cfg_dumpXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    aos_log_set_fd(fd);
    aos_config_dump(TABLE, NT, &c);
    aos_log_set_fd(1);
    char out[8192] = {0};
    ssize_t n = pread(fd, out, sizeof out - 1, 0);
    close(fd);
    unlink(path);
    assert_true(n > 0);
    assert_null(strstr(out, "hunter2"));
    assert_null(strstr(out, "pw123"));
    assert_non_null(strstr(out, "T_PASSWORD"));
    assert_non_null(strstr(out, "[redacted]"));
    assert_non_null(strstr(out, "T_WORKERS"));
    aos_config_free(TABLE, NT, &c);
}

typedef struct {
    aos_config_type type;
    const char *allowed;
    const char *text;
    bool ok;
    int64_t ival;
} case_t;

static void value_parsers(void **state)
{
    (void)state;
    const case_t cases[] = {
        {AOS_CONFIG_INT, NULL, "-42", true, -42},
        {AOS_CONFIG_INT, NULL, "+7", true, 7},
        {AOS_CONFIG_INT, NULL, "9223372036854775807", true, INT64_MAX},
        {AOS_CONFIG_INT, NULL, "-9223372036854775808", true, INT64_MIN},
        {AOS_CONFIG_INT, NULL, "9223372036854775808", false, 0},
        {AOS_CONFIG_INT, NULL, "12a", false, 0},
        {AOS_CONFIG_INT, NULL, " 1", false, 0},
        {AOS_CONFIG_INT, NULL, "", false, 0},
        {AOS_CONFIG_BOOL, NULL, "YES", true, 1},
        {AOS_CONFIG_BOOL, NULL, "off", true, 0},
        {AOS_CONFIG_BOOL, NULL, "2", false, 0},
        {AOS_CONFIG_DURATION_MS, NULL, "250", true, 250},
        {AOS_CONFIG_DURATION_MS, NULL, "250ms", true, 250},
        {AOS_CONFIG_DURATION_MS, NULL, "3s", true, 3000},
        {AOS_CONFIG_DURATION_MS, NULL, "5m", true, 300000},
        {AOS_CONFIG_DURATION_MS, NULL, "1h", true, 3600000},
        {AOS_CONFIG_DURATION_MS, NULL, "1d", true, 86400000},
        {AOS_CONFIG_DURATION_MS, NULL, "1.5s", false, 0},
        {AOS_CONFIG_DURATION_MS, NULL, "-1s", false, 0},
        {AOS_CONFIG_DURATION_MS, NULL, "99999999999999999d", false, 0},
        {AOS_CONFIG_SIZE, NULL, "10", true, 10},
        {AOS_CONFIG_SIZE, NULL, "2k", true, 2048},
        {AOS_CONFIG_SIZE, NULL, "2KiB", true, 2048},
        {AOS_CONFIG_SIZE, NULL, "3M", true, 3145728},
        {AOS_CONFIG_SIZE, NULL, "1gb", true, 1073741824},
        {AOS_CONFIG_SIZE, NULL, "1 G", false, 0},
        {AOS_CONFIG_SIZE, NULL, "k", false, 0},
        {AOS_CONFIG_ENUM, "a|bb|c", "BB", true, 0},
        {AOS_CONFIG_ENUM, "a|bb|c", "b", false, 0},
        {AOS_CONFIG_ENUM, "a|bb|c", "", false, 0},
        {AOS_CONFIG_URL, NULL, "amqp://localhost", true, 0},
        {AOS_CONFIG_URL, NULL, "amqps://u:p@ns.servicebus.windows.net:5671/x?y#z", true, 0},
        {AOS_CONFIG_URL, NULL, "http://[::1]:80/", true, 0},
        {AOS_CONFIG_URL, NULL, "http://host:0", false, 0},
        {AOS_CONFIG_URL, NULL, "http://host:99999", false, 0},
        {AOS_CONFIG_URL, NULL, "http:///path", false, 0},
        {AOS_CONFIG_URL, NULL, "localhost:5672", false, 0},
        {AOS_CONFIG_URL, NULL, "http://a b", false, 0},
        {AOS_CONFIG_URL, NULL, "1http://x", false, 0},
        {AOS_CONFIG_URL, "amqp|amqps", "AMQPS://x", true, 0},
        {AOS_CONFIG_URL, "amqp|amqps", "http://x", false, 0},
        {AOS_CONFIG_HOSTPORT, NULL, "0.0.0.0:8080", true, 0},
        {AOS_CONFIG_HOSTPORT, NULL, ":0", true, 0},
        {AOS_CONFIG_HOSTPORT, NULL, "[::]:443", true, 0},
        {AOS_CONFIG_HOSTPORT, NULL, "my-host.local:65535", true, 0},
        {AOS_CONFIG_HOSTPORT, NULL, "host:65536", false, 0},
        {AOS_CONFIG_HOSTPORT, NULL, "host", false, 0},
        {AOS_CONFIG_HOSTPORT, NULL, "host:", false, 0},
        {AOS_CONFIG_HOSTPORT, NULL, "a b:1", false, 0},
        {AOS_CONFIG_HOSTPORT, NULL, "[zz]:1", false, 0},
        {AOS_CONFIG_HOSTPORT, NULL, "::1:80", false, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        aos_config_field_t f = {"V",   "v",   cases[i].type,    NULL, 0, 0,
                                false, false, cases[i].allowed, "d",  0};
        union {
            char *s;
            int64_t i;
            bool b;
        } out = {0};
        char err[256];
        char json[256];
        snprintf(json, sizeof json, "{\"settings\":{\"v\":\"%s\"}}", cases[i].text);
        aos_result r = aos_config_parse_json(json, strlen(json), &f, 1, &out, err, sizeof err);
        if ((r == AOS_OK) != cases[i].ok)
            fail_msg("case %zu (%s): expected %s, got %d '%s'", i, cases[i].text,
                     cases[i].ok ? "ok" : "error", r, r == AOS_OK ? "" : err);
        if (r != AOS_OK)
            continue;
        if (cases[i].type == AOS_CONFIG_INT || cases[i].type == AOS_CONFIG_DURATION_MS ||
            cases[i].type == AOS_CONFIG_SIZE)
            assert_int_equal(out.i, cases[i].ival);
        else if (cases[i].type == AOS_CONFIG_BOOL)
            assert_int_equal(out.b, cases[i].ival);
        else if (cases[i].type == AOS_CONFIG_ENUM)
            assert_string_equal(out.s, "bb");
        if (cases[i].type >= AOS_CONFIG_ENUM)
            free(out.s);
    }
}

static void bad_files(void **state)
{
    (void)state;
    test_cfg_t c = {0};
    char err[512];
    const char *env[] = {"T_PASSWORD=x", NULL};
    const char *no_env[] = {NULL};
    assert_int_equal(load(&c, "{", env, err, sizeof err), AOS_ERR_INVALID);
    assert_non_null(strstr(err, "AOS_CONFIG: "));
    assert_int_equal(load(&c, "[]", env, err, sizeof err), AOS_ERR_INVALID);
    assert_non_null(strstr(err, "must hold a JSON object"));
    assert_int_equal(load(&c, "{\"settings\":[]}", env, err, sizeof err), AOS_ERR_INVALID);
    assert_non_null(strstr(err, "\"settings\" must be an object"));
    assert_int_equal(load(&c,
                          "{\"settings\":{\"workers\":[1],\"verbose\":3,\"name\":5,"
                          "\"password\":\"a\\u0000b\"}}",
                          no_env, err, sizeof err),
                     AOS_ERR_INVALID);
    assert_non_null(strstr(err, "T_WORKERS: settings.workers must be a number or string"));
    assert_non_null(strstr(err, "T_VERBOSE: settings.verbose must be a boolean or string"));
    assert_non_null(strstr(err, "T_NAME: settings.name must be a string"));
    if (!strstr(err, "T_PASSWORD: settings.password contains a NUL byte"))
        fail_msg("got: %s", err);
    assert_int_equal(
        load(&c, "{\"settings\":{\"timeout\":18446744073709551615}}", env, err, sizeof err),
        AOS_ERR_INVALID);
    assert_non_null(strstr(err, "T_TIMEOUT: expected a duration"));
    assert_int_equal(load(&c, "{\"settings\":{\"workers\":0}}", env, err, sizeof err),
                     AOS_ERR_INVALID);
    assert_string_equal(err, "T_WORKERS: must be between 1 and 64, got '0' (from the config file)");
    /* a file that does not exist */
    assert_int_equal(aos_config_load(TABLE, NT, &c, "/nonexistent/aos.json", err, sizeof err),
                     AOS_ERR_NOT_FOUND);
    assert_non_null(strstr(err, "AOS_CONFIG: cannot open '/nonexistent/aos.json'"));
    /* settings null is no settings; a tiny errbuf does not overflow */
    char tiny[8];
    assert_int_equal(
        load(&c, "{\"settings\":{\"workers\":-1,\"mode\":\"x\"}}", env, tiny, sizeof tiny),
        AOS_ERR_INVALID);
    assert_int_equal(strlen(tiny), 7);
    assert_int_equal(load(&c, "{\"settings\":null}", env, err, sizeof err), AOS_OK);
    aos_config_free(TABLE, NT, &c);
}

static void real_file_and_process_env(void **state)
{
    (void)state;
    char path[] = "/tmp/aos_cfg_fileXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *doc = "{\"settings\":{\"http_addr\":\"127.0.0.1:18080\",\"log_level\":\"debug\"}}";
    assert_int_equal(write(fd, doc, strlen(doc)), (ssize_t)strlen(doc));
    close(fd);
    setenv("AOS_LOG_LEVEL", "warn", 1);
    setenv("T_WORKERS", "2", 1);
    unsetenv("AOS_INSTANCE_ID");
    test_cfg_t c = {0};
    char err[512];
    assert_int_equal(aos_config_load(FULL, sizeof FULL / sizeof *FULL, &c, path, err, sizeof err),
                     AOS_OK);
    assert_string_equal(c.common.http_addr, "127.0.0.1:18080");
    assert_string_equal(c.common.log_level, "warn");
    assert_string_equal(c.common.bus_profile, "auto");
    assert_string_equal(c.common.storage_backend, "sqlite");
    assert_null(c.common.eventgrid_key);
    assert_int_equal(c.workers, 2);
    assert_int_equal(aos_config_common_finish(&c.common), AOS_OK);
    assert_non_null(c.common.instance_id);
    aos_config_free(FULL, sizeof FULL / sizeof *FULL, &c);

    /* the standalone common table and loader */
    setenv("AOS_CONFIG", path, 1);
    setenv("AOS_INSTANCE_ID", "router-0", 1);
    aos_config_common_t cc = {0};
    assert_int_equal(aos_config_common_load(&cc, err, sizeof err), AOS_OK);
    assert_string_equal(cc.http_addr, "127.0.0.1:18080");
    assert_string_equal(cc.instance_id, "router-0");
    assert_string_equal(cc.config_path, path);
    aos_config_free(aos_config_common_table, AOS_CONFIG_COMMON_COUNT, &cc);
    setenv("AOS_BUS_PROFILE", "kafka", 1);
    setenv("AOS_EVENTGRID_ENDPOINT", "not a url", 1);
    assert_int_equal(aos_config_common_load(&cc, err, sizeof err), AOS_ERR_INVALID);
    assert_non_null(strstr(err, "AOS_BUS_PROFILE: expected one of auto|rabbitmq|servicebus"));
    assert_non_null(strstr(err, "AOS_EVENTGRID_ENDPOINT: expected a http|https URL"));
    unsetenv("AOS_BUS_PROFILE");
    unsetenv("AOS_EVENTGRID_ENDPOINT");
    unsetenv("AOS_CONFIG");
    unsetenv("AOS_INSTANCE_ID");
    unsetenv("AOS_LOG_LEVEL");
    unlink(path);
}

static void file_sizes(void **state)
{
    (void)state;
    char path[] = "/tmp/aos_cfg_bigXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    /* 300 KB of agents (forces the reader past its first chunk), then the settings */
    const char *head = "{\"agents\":[";
    assert_int_equal(write(fd, head, strlen(head)), (ssize_t)strlen(head));
    for (int i = 0; i < 10000; i++) {
        const char *item = i ? ",{\"name\":\"agent-xxxxxxxxx\"}" : "{\"name\":\"agent-xxxxxxxxx\"}";
        assert_int_equal(write(fd, item, strlen(item)), (ssize_t)strlen(item));
    }
    const char *tail = "],\"settings\":{\"workers\":9,\"password\":\"p\"}}";
    assert_int_equal(write(fd, tail, strlen(tail)), (ssize_t)strlen(tail));
    close(fd);
    test_cfg_t c = {0};
    char err[512];
    unsetenv("T_WORKERS");
    unsetenv("T_PASSWORD");
    assert_int_equal(aos_config_load(TABLE, NT, &c, path, err, sizeof err), AOS_OK);
    assert_int_equal(c.workers, 9);
    aos_config_free(TABLE, NT, &c);
    /* over 16 MiB is refused */
    assert_int_equal(truncate(path, 17 * 1024 * 1024), 0);
    assert_int_equal(aos_config_load(TABLE, NT, &c, path, err, sizeof err), AOS_ERR_TOO_LARGE);
    assert_non_null(strstr(err, "larger than 16 MiB"));
    unlink(path);
}

/* The one reader of a configuration file (AOS_CONFIG, the agents config, the API key file,
 * the JWKS file): all of it, or a clear error. */
static void read_file_whole_or_error(void **state)
{
    (void)state;
    char path[] = "/tmp/aos-read-file-XXXXXX", err[512] = "", *buf = NULL;
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "{\"a\":1}", 7), 7);
    close(fd);
    size_t n = 0;
    assert_int_equal(aos_config_read_file(path, 1024, &buf, &n, err, sizeof err), AOS_OK);
    assert_int_equal(n, 7);
    assert_string_equal(buf, "{\"a\":1}");
    free(buf);
    buf = (char *)"not cleared";
    assert_int_equal(aos_config_read_file(path, 6, &buf, &n, err, sizeof err), AOS_ERR_TOO_LARGE);
    assert_null(buf);
    assert_non_null(strstr(err, "larger than 6 bytes"));
    unlink(path);
    assert_int_equal(aos_config_read_file(path, 1024, &buf, &n, err, sizeof err),
                     AOS_ERR_NOT_FOUND);
    assert_non_null(strstr(err, path));
}

static void markdown_table(void **state)
{
    (void)state;
    char *md = NULL;
    assert_int_equal(aos_config_markdown(aos_config_common_table, AOS_CONFIG_COMMON_COUNT, &md),
                     AOS_OK);
    assert_non_null(strstr(md, "| Variable | Settings key | Type | Default | Description |"));
    assert_non_null(strstr(
        md, "| `AOS_BUS_PROFILE` | `bus_profile` | enum: auto\\|rabbitmq\\|servicebus | `auto` |"));
    assert_non_null(strstr(md, "`AOS_EVENTGRID_KEY`"));
    assert_non_null(strstr(md, "Secret: never logged."));
    /* one header, one rule, one row per field */
    size_t lines = 0;
    for (const char *p = md; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, AOS_CONFIG_COMMON_COUNT + 2);
    free(md);
    char *md2 = NULL;
    assert_int_equal(aos_config_markdown(TABLE, NT, &md2), AOS_OK);
    assert_non_null(strstr(md2, "**Required.** Password. Secret: never logged."));
    assert_non_null(strstr(md2, "integer, 1–64"));
    free(md2);
}

/* docs/configuration.md carries the generated table verbatim. */
static void docs_match_table(void **state)
{
    (void)state;
    const char *src = getenv("AOS_SOURCE_DIR");
    if (!src)
        skip();
    char path[1024];
    snprintf(path, sizeof path, "%s/docs/configuration.md", src);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char doc[256 * 1024];
    size_t n = fread(doc, 1, sizeof doc - 1, f);
    fclose(f);
    doc[n] = '\0';
    char *md = NULL;
    assert_int_equal(aos_config_markdown(aos_config_common_table, AOS_CONFIG_COMMON_COUNT, &md),
                     AOS_OK);
    if (!strstr(doc, md))
        fail_msg("docs/configuration.md is out of date; regenerate its table from:\n%s", md);
    free(md);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_apply),
        cmocka_unit_test(file_then_env_precedence),
        cmocka_unit_test(every_error_reported_at_once),
        cmocka_unit_test(secrets_never_printed),
        cmocka_unit_test(value_parsers),
        cmocka_unit_test(bad_files),
        cmocka_unit_test(real_file_and_process_env),
        cmocka_unit_test(file_sizes),
        cmocka_unit_test(read_file_whole_or_error),
        cmocka_unit_test(markdown_table),
        cmocka_unit_test(docs_match_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
