/* OData $filter builder: values are always emitted as typed literals (strings quoted with
 * single quotes doubled), property names are validated, so caller text can never change the
 * structure of the expression. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "azure_internal.h"

struct aos_odata_filter {
    aos_buf_t buf;
    const char *joiner;
    size_t clauses;
    bool failed;
};

static const char *const op_text[] = {"eq", "ne", "gt", "ge", "lt", "le"};

static aos_result filter_new(const char *joiner, aos_odata_filter_t **out)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return AOS_ERR_NOMEM;
    (*out)->joiner = joiner;
    if (aos_buf_puts(&(*out)->buf, "") != AOS_OK) {
        free(*out);
        *out = NULL;
        return AOS_ERR_NOMEM;
    }
    return AOS_OK;
}

aos_result aos_odata_filter_new(aos_odata_filter_t **out_filter)
{
    return filter_new(" and ", out_filter);
}

aos_result aos_odata_filter_new_or(aos_odata_filter_t **out_filter)
{
    return filter_new(" or ", out_filter);
}

void aos_odata_filter_free(aos_odata_filter_t *f)
{
    if (!f)
        return;
    aos_buf_free(&f->buf);
    free(f);
}

static bool prop_valid(const char *p)
{
    if (!p || !*p || strlen(p) > 255)
        return false;
    if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || *p == '_'))
        return false;
    for (const char *c = p; *c; c++)
        if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
              *c == '_'))
            return false;
    return true;
}

/* Start a clause "<prop> <op> " after the joiner; fails the builder on bad input. */
static aos_result begin_clause(aos_odata_filter_t *f, const char *prop, aos_odata_op op)
{
    if (f->failed)
        return AOS_ERR_INVALID;
    if (!prop_valid(prop) || (unsigned)op > AOS_ODATA_LE) {
        f->failed = true;
        return AOS_ERR_INVALID;
    }
    if (f->clauses++)
        aos_buf_puts(&f->buf, f->joiner);
    aos_buf_printf(&f->buf, "%s %s ", prop, op_text[op]);
    return AOS_OK;
}

static aos_result end_clause(aos_odata_filter_t *f)
{
    if (f->buf.failed) {
        f->failed = true;
        return AOS_ERR_NOMEM;
    }
    return AOS_OK;
}

aos_result aos_odata_filter_string(aos_odata_filter_t *f, const char *prop, aos_odata_op op,
                                   const char *value)
{
    if (!value || !aos_utf8_valid(value, strlen(value))) {
        f->failed = true;
        return AOS_ERR_INVALID;
    }
    AOS_RETURN_IF_FAILED(begin_clause(f, prop, op));
    aos_buf_puts(&f->buf, "'");
    for (const char *p = value; *p; p++) {
        if (*p == '\'')
            aos_buf_puts(&f->buf, "''");
        else
            aos_buf_append(&f->buf, p, 1);
    }
    aos_buf_puts(&f->buf, "'");
    return end_clause(f);
}

aos_result aos_odata_filter_int64(aos_odata_filter_t *f, const char *prop, aos_odata_op op,
                                  int64_t value)
{
    AOS_RETURN_IF_FAILED(begin_clause(f, prop, op));
    aos_buf_printf(&f->buf, "%" PRId64 "L", value);
    return end_clause(f);
}

aos_result aos_odata_filter_int32(aos_odata_filter_t *f, const char *prop, aos_odata_op op,
                                  int32_t value)
{
    AOS_RETURN_IF_FAILED(begin_clause(f, prop, op));
    aos_buf_printf(&f->buf, "%" PRId32, value);
    return end_clause(f);
}

aos_result aos_odata_filter_bool(aos_odata_filter_t *f, const char *prop, aos_odata_op op,
                                 bool value)
{
    AOS_RETURN_IF_FAILED(begin_clause(f, prop, op));
    aos_buf_puts(&f->buf, value ? "true" : "false");
    return end_clause(f);
}

aos_result aos_odata_filter_group(aos_odata_filter_t *f, const aos_odata_filter_t *inner)
{
    if (f->failed)
        return AOS_ERR_INVALID;
    if (!inner || inner->failed || inner->clauses == 0) {
        f->failed = true;
        return AOS_ERR_INVALID;
    }
    if (f->clauses++)
        aos_buf_puts(&f->buf, f->joiner);
    aos_buf_printf(&f->buf, "(%s)", inner->buf.data);
    return end_clause(f);
}

const char *aos_odata_filter_str(const aos_odata_filter_t *f)
{
    return f && !f->failed && !f->buf.failed ? f->buf.data : NULL;
}
