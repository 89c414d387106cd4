/* aos/config.h: table-driven configuration (librdkafka style).
 *
 * A service describes its settings once, as a table of aos_config_field_t; the table drives
 * loading, validation, the start-up dump and the documentation. Sources, lowest to highest
 * precedence: the field's default, the JSON config file's "settings" object (key json_key),
 * the environment variable (name env; an empty value counts as unset). Keys in "settings" that
 * no field names are ignored: one file serves every service, each with its own table.
 *
 * Loading validates EVERY field in one pass and reports every problem in errbuf, one per
 * line, each naming the variable:
 *   AOS_HTTP_ADDR: expected host:port, got 'x'
 *   AOS_EVENTGRID_KEY: required but not set
 * Values of secret fields never appear in errors, dumps or logs. On failure the output
 * struct is left untouched.
 *
 * Storage per type (at the field's offset in the caller's struct):
 *   STRING, URL, HOSTPORT, ENUM -> char *   (malloc'd, owned by the struct; NULL when unset;
 *                                            free with aos_config_free)
 *   INT, DURATION_MS, SIZE      -> int64_t
 *   BOOL                        -> bool
 *
 * Thread-safety: loading reads the environment; call it at start-up before threads that
 * call setenv exist. Everything else is pure.
 */
#ifndef AOS_CONFIG_H
#define AOS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aos/result.h"

typedef enum aos_config_type {
    AOS_CONFIG_STRING = 0,
    AOS_CONFIG_INT,         /* decimal integer */
    AOS_CONFIG_BOOL,        /* true/false, 1/0, yes/no, on/off */
    AOS_CONFIG_DURATION_MS, /* "250ms", "30s", "5m", "1h"; a bare number is milliseconds */
    AOS_CONFIG_SIZE,        /* bytes; suffix k, M, G (powers of 1024), optional "B"/"iB" */
    AOS_CONFIG_ENUM,        /* one of allowed ("a|b|c"), matched case-insensitively */
    AOS_CONFIG_URL,         /* scheme://host...; allowed = permitted schemes ("http|https") */
    AOS_CONFIG_HOSTPORT,    /* host:port, [v6]:port or :port; port 0-65535 */
} aos_config_type;

typedef struct aos_config_field {
    const char *env;      /* environment variable, e.g. "AOS_BUS_URL"; NULL = file only */
    const char *json_key; /* key in the file's "settings" object; NULL = env only */
    aos_config_type type;
    const char *default_value; /* text, parsed like any input; NULL = no default */
    int64_t min, max;          /* INT/DURATION/SIZE range, STRING max length; 0,0 = none */
    bool required;
    bool secret;             /* never printed */
    const char *allowed;     /* ENUM values or URL schemes, '|'-separated */
    const char *description; /* one line, for the docs table */
    size_t offset;           /* offsetof(your_struct, member) */
} aos_config_field_t;

/* Look up a variable; return NULL when unset. */
typedef const char *(*aos_config_getenv_fn)(const char *name, void *ctx);

/* Read the whole of a configuration file (a pipe or a Kubernetes ConfigMap symlink too) of at
 * most max bytes: *out malloc'd and NUL-terminated, *out_len its length. AOS_ERR_NOT_FOUND
 * (cannot open), AOS_ERR_IO, AOS_ERR_TOO_LARGE (over max), AOS_ERR_NOMEM, each with the path
 * in errbuf and *out NULL. Thread-safe. */
aos_result aos_config_read_file(const char *path, size_t max, char **out, size_t *out_len,
                                char *errbuf, size_t errlen);

/* Read json_file (NULL = no file) and the process environment. */
aos_result aos_config_load(const aos_config_field_t *table, size_t n, void *out_struct,
                           const char *json_file, char *errbuf, size_t errlen);

/* The pure core: JSON config text (NULL/0 = none) plus an injectable environment
 * (getenv_fn NULL = no environment). This is what the fuzz target drives. */
aos_result aos_config_load_ex(const aos_config_field_t *table, size_t n, void *out_struct,
                              const char *json, size_t json_len, aos_config_getenv_fn getenv_fn,
                              void *getenv_ctx, char *errbuf, size_t errlen);

/* The same pass over an already parsed "settings" object (NULL = none; not owned): how the
 * agents config (aos/agents.h) reads its keys of the object the services' tables share. A
 * field with env NULL is file-only and named "settings.<json_key>" in errors. */
typedef struct json_object json_object;
aos_result aos_config_load_settings(const aos_config_field_t *table, size_t n, void *out_struct,
                                    json_object *settings, aos_config_getenv_fn getenv_fn,
                                    void *getenv_ctx, char *errbuf, size_t errlen);

/* aos_config_load_ex with JSON only, no environment. */
aos_result aos_config_parse_json(const char *json, size_t len, const aos_config_field_t *table,
                                 size_t n, void *out_struct, char *errbuf, size_t errlen);

/* Free the strings a load stored into out_struct and set them to NULL. */
void aos_config_free(const aos_config_field_t *table, size_t n, void *out_struct);

/* Render one field's effective value for humans: secrets as "[redacted]" (or "" when unset),
 * URL passwords masked. Writes a NUL-terminated string into buf. */
void aos_config_format_value(const aos_config_field_t *f, const void *in_struct, char *buf,
                             size_t len);

/* Log the effective configuration at info level (one record per field, secrets redacted). */
void aos_config_dump(const aos_config_field_t *table, size_t n, const void *in_struct);

/* The table as a Markdown table (for docs). *out_md is malloc'd. */
aos_result aos_config_markdown(const aos_config_field_t *table, size_t n, char **out_md);

/* For a service's main(): when argv[1] is "--config-doc", print the rows of table that are
 * not among the standard variables (aos_config_common_table) as a Markdown table on stdout
 * and return the exit code (0); otherwise return -1 and do nothing. scripts/config-doc.sh
 * gathers these into docs/configuration.md. */
int aos_config_doc_flag(int argc, char **argv, const aos_config_field_t *table, size_t n);

/* ---- the standard AOS variables (docs/design.md §8) ---- */

typedef struct aos_config_common {
    char *bus_url;
    char *bus_profile;
    char *servicebus_connection_string;
    char *http_addr;
    char *admin_addr;
    char *log_level;
    char *storage_backend;
    char *sqlite_path;
    char *azure_storage_connection_string;
    char *eventgrid_endpoint;
    char *eventgrid_key;
    char *kafka_brokers;
    char *config_path;
    char *instance_id;
    char *kafka_connection_string;
    bool dev_mode; /* AOS_DEV_MODE: credential checks off (aos/secure.h) */
} aos_config_common_t;

#define AOS_CONFIG_COMMON_COUNT 16

/* Table fragment for a service struct that embeds aos_config_common_t as MEMBER:
 *   static const aos_config_field_t TABLE[] = {
 *       AOS_CONFIG_COMMON_FIELDS(router_config_t, common),
 *       {"AOS_ROUTER_TIMEOUT", "router_timeout", AOS_CONFIG_DURATION_MS, "30s", ...},
 *   };                                                                               */
/* clang-format off */
#define AOS_CONFIG_COMMON_FIELDS(TYPE, MEMBER)                                                     \
    {"AOS_BUS_URL", "bus_url", AOS_CONFIG_URL, NULL, 0, 0, false, false, "amqp|amqps",              \
     "AMQP 1.0 broker URL; a password in the URL is masked in logs. Unset: the Endpoint of "       \
     "`AOS_SERVICEBUS_CONNECTION_STRING` when that is set, else "                                  \
     "`amqp://guest:guest@127.0.0.1:5672`.",                                                       \
     offsetof(TYPE, MEMBER.bus_url)},                                                              \
    {"AOS_BUS_PROFILE", "bus_profile", AOS_CONFIG_ENUM, "auto", 0, 0, false, false,                \
     "auto|rabbitmq|servicebus",                                                                   \
     "Broker profile; `auto` picks `servicebus` for a `*.servicebus.windows.net` "                 \
     "host.",                                                                                      \
     offsetof(TYPE, MEMBER.bus_profile)},                                                          \
    {"AOS_SERVICEBUS_CONNECTION_STRING", "servicebus_connection_string",                           \
     AOS_CONFIG_STRING, NULL, 0, 0, false, true, NULL,                                             \
     "Service Bus connection string (`Endpoint=sb://…;SharedAccessKeyName=…;"                      \
     "SharedAccessKey=…`).",                                                                       \
     offsetof(TYPE, MEMBER.servicebus_connection_string)},                                         \
    {"AOS_HTTP_ADDR", "http_addr", AOS_CONFIG_HOSTPORT, "0.0.0.0:8080", 0, 0, false, false,        \
     NULL,                                                                                         \
     "Listen address of the public HTTP API (router).",                                            \
     offsetof(TYPE, MEMBER.http_addr)},                                                            \
    {"AOS_ADMIN_ADDR", "admin_addr", AOS_CONFIG_HOSTPORT, "0.0.0.0:9090", 0, 0, false, false,      \
     NULL,                                                                                         \
     "Listen address of `/healthz`, `/readyz` and `/metrics`.",                                    \
     offsetof(TYPE, MEMBER.admin_addr)},                                                           \
    {"AOS_LOG_LEVEL", "log_level", AOS_CONFIG_ENUM, "info", 0, 0, false, false,                    \
     "debug|info|warn|error|off",                                                                  \
     "Minimum level of the JSON log lines on stdout.",                                             \
     offsetof(TYPE, MEMBER.log_level)},                                                            \
    {"AOS_STORAGE_BACKEND", "storage_backend", AOS_CONFIG_ENUM, "sqlite", 0, 0, false, false,      \
     "sqlite|azure",                                                                               \
     "Backend of aos-storage.",                                                                    \
     offsetof(TYPE, MEMBER.storage_backend)},                                                      \
    {"AOS_SQLITE_PATH", "sqlite_path", AOS_CONFIG_STRING, "aos.db", 0, 4096, false, false,         \
     NULL,                                                                                         \
     "SQLite database file (WAL mode) of the sqlite backend.",                                     \
     offsetof(TYPE, MEMBER.sqlite_path)},                                                          \
    {"AZURE_STORAGE_CONNECTION_STRING", "azure_storage_connection_string",                         \
     AOS_CONFIG_STRING, NULL, 0, 0, false, true, NULL,                                             \
     "Azure Storage connection string of the azure backend "                                       \
     "(`UseDevelopmentStorage=true` for Azurite).",                                                \
     offsetof(TYPE, MEMBER.azure_storage_connection_string)},                                      \
    {"AOS_EVENTGRID_ENDPOINT", "eventgrid_endpoint", AOS_CONFIG_URL, NULL, 0, 0, false, false,     \
     "http|https",                                                                                 \
     "Event Grid topic endpoint for outbound CloudEvents; unset = off.",                           \
     offsetof(TYPE, MEMBER.eventgrid_endpoint)},                                                   \
    {"AOS_EVENTGRID_KEY", "eventgrid_key", AOS_CONFIG_STRING, NULL, 0, 0, false, true,             \
     NULL,                                                                                         \
     "Event Grid topic access key (`aeg-sas-key`).",                                               \
     offsetof(TYPE, MEMBER.eventgrid_key)},                                                        \
    {"AOS_KAFKA_BROKERS", "kafka_brokers", AOS_CONFIG_STRING, NULL, 0, 4096, false, false,         \
     NULL,                                                                                         \
     "Comma-separated Kafka bootstrap servers for outbound events; unset = off.",                  \
     offsetof(TYPE, MEMBER.kafka_brokers)},                                                        \
    {"AOS_KAFKA_CONNECTION_STRING", "kafka_connection_string", AOS_CONFIG_STRING, NULL, 0, 0,      \
     false, true, NULL,                                                                            \
     "Event Hubs namespace connection string for its Kafka endpoint (SASL_SSL, PLAIN); "           \
     "the brokers then default to `<namespace>:9093`.",                                            \
     offsetof(TYPE, MEMBER.kafka_connection_string)},                                              \
    {"AOS_CONFIG", NULL, AOS_CONFIG_STRING, NULL, 0, 4096, false, false,                           \
     NULL,                                                                                         \
     "Path of the JSON config file (agents, routes, `settings`).",                                 \
     offsetof(TYPE, MEMBER.config_path)},                                                          \
    {"AOS_INSTANCE_ID", "instance_id", AOS_CONFIG_STRING, NULL, 0, 128, false, false,              \
     NULL,                                                                                         \
     "Name of this replica (reply queue `aos.reply.<id>` on RabbitMQ, session `<id>` of `aos.reply` on Service Bus); defaults to the host "                  \
     "name.",                                                                                      \
     offsetof(TYPE, MEMBER.instance_id)},                                                          \
    {"AOS_DEV_MODE", NULL, AOS_CONFIG_BOOL, "false", 0, 0, false, false, NULL,                     \
     "Development mode: a service starts without credentials (no API keys, the default "          \
     "bus account) and says so; never in production (`docs/security.md`).",                       \
     offsetof(TYPE, MEMBER.dev_mode)}
/* clang-format on */

/* The fragment with offsets into aos_config_common_t itself (AOS_CONFIG_COMMON_COUNT rows). */
extern const aos_config_field_t aos_config_common_table[AOS_CONFIG_COMMON_COUNT];

/* Fill derived defaults after a load: instance_id from the host name when unset. */
aos_result aos_config_common_finish(aos_config_common_t *c);

/* Load only the common variables: file from $AOS_CONFIG (if set), then the environment,
 * then aos_config_common_finish. */
aos_result aos_config_common_load(aos_config_common_t *out, char *errbuf, size_t errlen);

#endif
