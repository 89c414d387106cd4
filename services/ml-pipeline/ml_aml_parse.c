/* Azure ML response parsing (see ml_aml_parse.h). */
#include "ml_aml_parse.h"

#include <stdio.h>

#include "aos/json.h"

static const char *jstr(const json_object *o, const char *key)
{
    json_object *v;
    if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

void ml_aml_error_detail(const char *body, size_t len, char *out, size_t outlen)
{
    json_object *o = NULL, *e = NULL;
    out[0] = '\0';
    if (aos_json_parse_object(body, len, 0, 0, &o, NULL, 0) == AOS_OK &&
        json_object_object_get_ex(o, "error", &e)) {
        const char *code = jstr(e, "code"), *msg = jstr(e, "message");
        snprintf(out, outlen, "%s%s%s", code ? code : "", code && msg ? ": " : "", msg ? msg : "");
    }
    json_object_put(o);
}

const char *ml_aml_job_status(const json_object *job)
{
    json_object *p = NULL;
    if (!job || !json_object_object_get_ex(job, "properties", &p))
        return NULL;
    return jstr(p, "status");
}

ml_aml_state ml_aml_job_state(const char *body, size_t len)
{
    json_object *o = NULL;
    const char *st = NULL;
    if (aos_json_parse_object(body, len, 0, 0, &o, NULL, 0) == AOS_OK)
        st = ml_aml_job_status(o);
    ml_aml_state s = ml_aml_state_parse(st);
    json_object_put(o);
    return s;
}
