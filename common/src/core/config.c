/* Table-driven configuration: sources, one-pass validation with every error reported. The
 * value parsers are in config_parse.c; the dump and Markdown output in config_doc.c. */
#include "aos/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aos/json.h"
#include "config_internal.h"

#define CONFIG_FILE_MAX_BYTES (16u * 1024u * 1024u)

typedef struct {
    char *buf;
    size_t len;
    size_t used;
    int count;
} errlist_t;

static void add_error(errlist_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_error(errlist_t *e, const char *fmt, ...)
{
    e->count++;
    if (!e->buf || e->len == 0 || e->used + 1 >= e->len)
        return;
    if (e->used > 0)
        e->buf[e->used++] = '\n';
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(e->buf + e->used, e->len - e->used, fmt, ap);
    va_end(ap);
    if (n > 0)
        e->used += (size_t)n < e->len - e->used ? (size_t)n : e->len - e->used - 1;
    e->buf[e->used] = '\0';
}

/* A value quoted for an error message: at most 64 bytes, control bytes as '?'. */
static void quote_value(const char *v, char out[72])
{
    size_t n = 0;
    for (; v[n] && n < 64; n++)
        out[n] = (v[n] >= 0 && v[n] < 0x20) || v[n] == 0x7F ? '?' : v[n];
    out[n] = '\0';
    if (v[n])
        strcpy(out + n, "...");
}

/* "AOS_X: " for a field with an environment variable, "" for a file-only one. */
static const char *env_prefix(const aos_config_field_t *f, char buf[80])
{
    if (!f->env)
        return "";
    snprintf(buf, 80, "%s: ", f->env);
    return buf;
}

/* How errors name a field: its environment variable, else "settings.<json_key>". */
static const char *field_name(const aos_config_field_t *f, char buf[80])
{
    if (f->env)
        return f->env;
    snprintf(buf, 80, "settings.%s", f->json_key ? f->json_key : "?");
    return buf;
}

/* Where a field's text comes from, and that text (borrowed). */
typedef struct {
    const char *text;
    const char *origin; /* "env", "file", "default" */
    char scratch[40];   /* for JSON numbers and booleans rendered as text */
} raw_t;

static bool raw_from_json(const aos_config_field_t *f, json_object *v, raw_t *raw, errlist_t *e)
{
    switch (json_object_get_type(v)) {
    case json_type_string:
        if (strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v)) {
            char pb[80];
            add_error(e, "%ssettings.%s contains a NUL byte", env_prefix(f, pb), f->json_key);
            return false;
        }
        raw->text = json_object_get_string(v);
        return true;
    case json_type_int:
        if (f->type == AOS_CONFIG_INT || f->type == AOS_CONFIG_DURATION_MS ||
            f->type == AOS_CONFIG_SIZE) {
            if (json_object_get_int64(v) == INT64_MAX) /* larger values are kept as uint64 */
                snprintf(raw->scratch, sizeof raw->scratch, "%llu",
                         (unsigned long long)json_object_get_uint64(v));
            else
                snprintf(raw->scratch, sizeof raw->scratch, "%lld",
                         (long long)json_object_get_int64(v));
            raw->text = raw->scratch;
            return true;
        }
        break;
    case json_type_boolean:
        if (f->type == AOS_CONFIG_BOOL) {
            raw->text = json_object_get_boolean(v) ? "true" : "false";
            return true;
        }
        break;
    default:
        break;
    }
    char pb[80];
    add_error(e, "%ssettings.%s must be a %s", env_prefix(f, pb), f->json_key,
              f->type == AOS_CONFIG_INT || f->type == AOS_CONFIG_DURATION_MS ||
                      f->type == AOS_CONFIG_SIZE
                  ? "number or string"
              : f->type == AOS_CONFIG_BOOL ? "boolean or string"
                                           : "string");
    return false;
}

static bool resolve(const aos_config_field_t *f, json_object *settings,
                    aos_config_getenv_fn getenv_fn, void *ctx, raw_t *raw, errlist_t *e)
{
    raw->text = NULL;
    raw->origin = "default";
    const char *env = getenv_fn && f->env ? getenv_fn(f->env, ctx) : NULL;
    if (env && *env) {
        raw->text = env;
        raw->origin = "env";
        return true;
    }
    json_object *v = NULL;
    if (settings && f->json_key && json_object_object_get_ex(settings, f->json_key, &v) && v) {
        raw->origin = "file";
        return raw_from_json(f, v, raw, e);
    }
    raw->text = f->default_value;
    return true;
}

static void free_values(const aos_config_field_t *table, size_t n, aos_config_value_t *vals)
{
    for (size_t i = 0; i < n; i++)
        if (aos_config_type_is_string(table[i].type))
            free(vals[i].s);
    free(vals);
}

static void commit(const aos_config_field_t *table, size_t n, void *out, aos_config_value_t *vals)
{
    for (size_t i = 0; i < n; i++) {
        char *slot = (char *)out + table[i].offset;
        if (aos_config_type_is_string(table[i].type)) {
            char **p = (char **)(void *)slot;
            free(*p);
            *p = vals[i].s;
            vals[i].s = NULL;
        } else if (table[i].type == AOS_CONFIG_BOOL) {
            *(bool *)(void *)slot = vals[i].b;
        } else {
            *(int64_t *)(void *)slot = vals[i].i;
        }
    }
}

static json_object *settings_of(const char *json, size_t json_len, json_object **root, errlist_t *e)
{
    *root = NULL;
    if (!json || json_len == 0)
        return NULL;
    char jerr[200];
    aos_result r =
        aos_json_parse(json, json_len, CONFIG_FILE_MAX_BYTES, 64, root, jerr, sizeof jerr);
    if (r != AOS_OK) {
        add_error(e, "AOS_CONFIG: %s", jerr);
        return NULL;
    }
    if (!json_object_is_type(*root, json_type_object)) {
        add_error(e, "AOS_CONFIG: the config file must hold a JSON object");
        return NULL;
    }
    json_object *settings = NULL;
    if (!json_object_object_get_ex(*root, "settings", &settings) || !settings)
        return NULL;
    if (!json_object_is_type(settings, json_type_object)) {
        add_error(e, "AOS_CONFIG: \"settings\" must be an object");
        return NULL;
    }
    return settings;
}

/* The one pass over the table: every field from the environment, settings or its default. */
static aos_result load_fields(const aos_config_field_t *table, size_t n, void *out_struct,
                              json_object *settings, aos_config_getenv_fn getenv_fn,
                              void *getenv_ctx, errlist_t *e)
{
    aos_config_value_t *vals = calloc(n ? n : 1, sizeof *vals);
    if (!vals)
        return AOS_ERR_NOMEM;
    bool nomem = false;
    for (size_t i = 0; i < n; i++) {
        const aos_config_field_t *f = &table[i];
        raw_t raw;
        char nb[80];
        if (!resolve(f, settings, getenv_fn, getenv_ctx, &raw, e))
            continue;
        if (!raw.text) {
            if (f->required)
                add_error(e, "%s: required but not set", field_name(f, nb));
            continue;
        }
        char why[128] = "";
        aos_result r = aos_config_parse_value(f, raw.text, &vals[i], why, sizeof why);
        if (r == AOS_ERR_NOMEM) {
            nomem = true;
            break;
        }
        if (r == AOS_OK)
            continue;
        const char *from =
            strcmp(raw.origin, "file") == 0 && f->env ? " (from the config file)" : "";
        if (f->secret) {
            add_error(e, "%s: %s%s", field_name(f, nb), why, from);
        } else {
            char q[72];
            quote_value(raw.text, q);
            add_error(e, "%s: %s, got '%s'%s", field_name(f, nb), why, q, from);
        }
    }
    if (nomem || e->count > 0) {
        free_values(table, n, vals);
        return nomem ? AOS_ERR_NOMEM : AOS_ERR_INVALID;
    }
    commit(table, n, out_struct, vals);
    free(vals);
    return AOS_OK;
}

aos_result aos_config_load_ex(const aos_config_field_t *table, size_t n, void *out_struct,
                              const char *json, size_t json_len, aos_config_getenv_fn getenv_fn,
                              void *getenv_ctx, char *errbuf, size_t errlen)
{
    errlist_t e = {errbuf, errlen, 0, 0};
    if (errbuf && errlen)
        errbuf[0] = '\0';
    json_object *root;
    json_object *settings = settings_of(json, json_len, &root, &e);
    aos_result r = load_fields(table, n, out_struct, settings, getenv_fn, getenv_ctx, &e);
    json_object_put(root);
    return r;
}

aos_result aos_config_load_settings(const aos_config_field_t *table, size_t n, void *out_struct,
                                    json_object *settings, aos_config_getenv_fn getenv_fn,
                                    void *getenv_ctx, char *errbuf, size_t errlen)
{
    errlist_t e = {errbuf, errlen, 0, 0};
    if (errbuf && errlen)
        errbuf[0] = '\0';
    if (settings && !json_object_is_type(settings, json_type_object)) {
        add_error(&e, "AOS_CONFIG: \"settings\" must be an object");
        return AOS_ERR_INVALID;
    }
    return load_fields(table, n, out_struct, settings, getenv_fn, getenv_ctx, &e);
}

aos_result aos_config_parse_json(const char *json, size_t len, const aos_config_field_t *table,
                                 size_t n, void *out_struct, char *errbuf, size_t errlen)
{
    return aos_config_load_ex(table, n, out_struct, json, len, NULL, NULL, errbuf, errlen);
}

static const char *process_getenv(const char *name, void *ctx)
{
    (void)ctx;
    return getenv(name);
}

aos_result aos_config_read_file(const char *path, size_t max, char **out, size_t *out_len,
                                char *errbuf, size_t errlen)
{
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return aos_fail(AOS_ERR_NOT_FOUND, errbuf, errlen, "cannot open '%s': %s", path,
                        strerror(errno));
    /* Read in growing chunks: the file may be a pipe or a Kubernetes ConfigMap symlink. */
    size_t cap = 64 * 1024, n = 0;
    char *buf = NULL;
    aos_result r = AOS_OK;
    for (;;) {
        char *nb = realloc(buf, cap + 1);
        if (!nb) {
            r = AOS_ERR_NOMEM;
            break;
        }
        buf = nb;
        n += fread(buf + n, 1, cap - n, fp);
        if (n < cap || ferror(fp) || cap > max)
            break;
        cap *= 2;
    }
    bool failed = ferror(fp);
    fclose(fp);
    if (r == AOS_OK && failed)
        r = aos_fail(AOS_ERR_IO, errbuf, errlen, "cannot read '%s'", path);
    else if (r == AOS_OK && n > max && max % (1024 * 1024) == 0)
        r = aos_fail(AOS_ERR_TOO_LARGE, errbuf, errlen, "cannot read '%s': larger than %zu MiB",
                     path, max / (1024 * 1024));
    else if (r == AOS_OK && n > max)
        r = aos_fail(AOS_ERR_TOO_LARGE, errbuf, errlen, "cannot read '%s': larger than %zu bytes",
                     path, max);
    if (r != AOS_OK) {
        free(buf);
        return r;
    }
    buf[n] = '\0';
    *out = buf;
    if (out_len)
        *out_len = n;
    return AOS_OK;
}

aos_result aos_config_load(const aos_config_field_t *table, size_t n, void *out_struct,
                           const char *json_file, char *errbuf, size_t errlen)
{
    char *json = NULL;
    size_t len = 0;
    if (json_file && *json_file) {
        char detail[512] = "";
        aos_result rr = aos_config_read_file(json_file, CONFIG_FILE_MAX_BYTES, &json, &len, detail,
                                             sizeof detail);
        if (rr != AOS_OK)
            return aos_fail(rr, errbuf, errlen, "AOS_CONFIG: %s", detail);
    }
    aos_result r =
        aos_config_load_ex(table, n, out_struct, json, len, process_getenv, NULL, errbuf, errlen);
    free(json);
    return r;
}

void aos_config_free(const aos_config_field_t *table, size_t n, void *out_struct)
{
    if (!out_struct)
        return;
    for (size_t i = 0; i < n; i++) {
        if (!aos_config_type_is_string(table[i].type))
            continue;
        char **p = (char **)(void *)((char *)out_struct + table[i].offset);
        free(*p);
        *p = NULL;
    }
}

/* ---- the common table ---- */

/* The fragment macro wants a containing struct; this one holds the common struct at 0. */
typedef struct {
    aos_config_common_t c;
} common_holder_t;

const aos_config_field_t aos_config_common_table[AOS_CONFIG_COMMON_COUNT] = {
    AOS_CONFIG_COMMON_FIELDS(common_holder_t, c),
};

aos_result aos_config_common_finish(aos_config_common_t *c)
{
    if (c->instance_id)
        return AOS_OK;
    char host[256];
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "aos-%ld", (long)getpid());
    host[sizeof host - 1] = '\0';
    c->instance_id = strdup(host);
    return c->instance_id ? AOS_OK : AOS_ERR_NOMEM;
}

aos_result aos_config_common_load(aos_config_common_t *out, char *errbuf, size_t errlen)
{
    AOS_RETURN_IF_FAILED(aos_config_load(aos_config_common_table, AOS_CONFIG_COMMON_COUNT, out,
                                         getenv("AOS_CONFIG"), errbuf, errlen));
    return aos_config_common_finish(out);
}
