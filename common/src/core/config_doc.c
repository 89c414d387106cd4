/* Human-facing output of a config table: value rendering, the start-up dump, Markdown. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/log.h"
#include "config_internal.h"

/* scheme://user:pass@host -> scheme://user:****@host */
static void mask_url(const char *url, char *buf, size_t len)
{
    const char *sep = strstr(url, "://");
    const char *auth = sep ? sep + 3 : NULL;
    size_t alen = auth ? strcspn(auth, "/?#") : 0;
    const char *at = auth ? memrchr(auth, '@', alen) : NULL;
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    if (!colon) {
        snprintf(buf, len, "%s", url);
        return;
    }
    snprintf(buf, len, "%.*s****%s", (int)(colon + 1 - url), url, at);
}

void aos_config_format_value(const aos_config_field_t *f, const void *in_struct, char *buf,
                             size_t len)
{
    const char *slot = (const char *)in_struct + f->offset;
    if (aos_config_type_is_string(f->type)) {
        const char *s = *(char *const *)(const void *)slot;
        if (!s)
            snprintf(buf, len, "%s", "");
        else if (f->secret)
            snprintf(buf, len, "%s", "[redacted]");
        else if (f->type == AOS_CONFIG_URL)
            mask_url(s, buf, len);
        else
            snprintf(buf, len, "%s", s);
        return;
    }
    if (f->type == AOS_CONFIG_BOOL) {
        snprintf(buf, len, "%s", *(const bool *)(const void *)slot ? "true" : "false");
        return;
    }
    int64_t v = *(const int64_t *)(const void *)slot;
    if (f->secret)
        snprintf(buf, len, "%s", "[redacted]");
    else
        snprintf(buf, len, "%" PRId64 "%s", v, f->type == AOS_CONFIG_DURATION_MS ? "ms" : "");
}

void aos_config_dump(const aos_config_field_t *table, size_t n, const void *in_struct)
{
    for (size_t i = 0; i < n; i++) {
        char value[512];
        aos_config_format_value(&table[i], in_struct, value, sizeof value);
        aos_log(AOS_LOG_INFO, "config", "variable", table[i].env, "value", value, NULL);
    }
}

/* Markdown table cells must not contain raw '|' or newlines. */
static void cell(FILE *fp, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '|')
            fputs("\\|", fp);
        else if (*s == '\n')
            fputc(' ', fp);
        else
            fputc(*s, fp);
    }
}

aos_result aos_config_markdown(const aos_config_field_t *table, size_t n, char **out_md)
{
    *out_md = NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    if (!fp)
        return AOS_ERR_NOMEM;
    fputs("| Variable | Settings key | Type | Default | Description |\n", fp);
    fputs("|---|---|---|---|---|\n", fp);
    for (size_t i = 0; i < n; i++) {
        const aos_config_field_t *f = &table[i];
        fprintf(fp, "| `%s` | ", f->env);
        if (f->json_key)
            fprintf(fp, "`%s`", f->json_key);
        else
            fputs("—", fp);
        fputs(" | ", fp);
        cell(fp, aos_config_type_name(f->type));
        if (f->allowed && (f->type == AOS_CONFIG_ENUM || f->type == AOS_CONFIG_URL)) {
            fputs(f->type == AOS_CONFIG_ENUM ? ": " : " (", fp);
            cell(fp, f->allowed);
            if (f->type == AOS_CONFIG_URL)
                fputs(")", fp);
        }
        if (f->min || f->max) {
            bool is_len = f->type == AOS_CONFIG_STRING;
            fprintf(fp, ", %s%" PRId64 "–%" PRId64, is_len ? "length " : "", f->min, f->max);
        }
        fputs(" | ", fp);
        if (f->default_value && !f->secret) {
            fputs("`", fp);
            cell(fp, f->default_value);
            fputs("`", fp);
        } else {
            fputs("—", fp);
        }
        fputs(" | ", fp);
        if (f->required)
            fputs("**Required.** ", fp);
        cell(fp, f->description);
        size_t dl = f->description ? strlen(f->description) : 0;
        if (f->secret)
            fputs(dl && f->description[dl - 1] != '.' ? ". Secret: never logged."
                                                      : " Secret: never logged.",
                  fp);
        fputs(" |\n", fp);
    }
    if (fclose(fp) != 0 || !buf) {
        free(buf);
        return AOS_ERR_NOMEM;
    }
    *out_md = buf;
    return AOS_OK;
}

int aos_config_doc_flag(int argc, char **argv, const aos_config_field_t *table, size_t n)
{
    if (argc < 2 || strcmp(argv[1], "--config-doc") != 0)
        return -1;
    aos_config_field_t *own = calloc(n ? n : 1, sizeof *own);
    if (!own)
        return 1;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool common = false;
        for (size_t j = 0; j < AOS_CONFIG_COMMON_COUNT && !common; j++)
            common = strcmp(table[i].env, aos_config_common_table[j].env) == 0;
        if (!common)
            own[k++] = table[i];
    }
    char *md = NULL;
    aos_result r = aos_config_markdown(own, k, &md);
    free(own);
    if (r != AOS_OK)
        return 1;
    fputs(md, stdout);
    free(md);
    return 0;
}
