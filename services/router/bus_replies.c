/* Heartbeat and classifier-answer parsing (see bus_replies.h). */
#include "bus_replies.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aos/agents.h"
#include "aos/json.h"

static aos_result copy_str(json_object *o, const char *field, aos_json_need need, char *dst,
                           size_t cap)
{
    const char *s = NULL;
    dst[0] = '\0';
    AOS_RETURN_IF_FAILED(aos_json_get_string(o, field, need, &s, NULL, 0));
    if (!s)
        return AOS_OK;
    size_t n = strlen(s);
    if (n >= cap)
        return AOS_ERR_INVALID;
    memcpy(dst, s, n + 1);
    return AOS_OK;
}

aos_result router_heartbeat_parse(const char *data, size_t len, router_heartbeat_msg_t *out)
{
    memset(out, 0, sizeof *out);
    json_object *o = NULL;
    AOS_RETURN_IF_FAILED(aos_json_parse_object(data, len, 64 * 1024, 8, &o, NULL, 0));
    aos_result r = copy_str(o, "agent", AOS_JSON_REQUIRED, out->agent, sizeof out->agent);
    if (r == AOS_OK)
        r = copy_str(o, "instance", AOS_JSON_REQUIRED, out->instance, sizeof out->instance);
    if (r == AOS_OK)
        r = copy_str(o, "provider", AOS_JSON_OPTIONAL, out->provider, sizeof out->provider);
    if (r == AOS_OK)
        r = aos_json_get_int(o, "inflight", AOS_JSON_OPTIONAL, &out->inflight, NULL, NULL, 0);
    if (r == AOS_OK)
        r = aos_json_get_int(o, "capacity", AOS_JSON_OPTIONAL, &out->capacity, NULL, NULL, 0);
    if (r == AOS_OK)
        r = aos_json_get_int(o, "schedule_last_ms", AOS_JSON_OPTIONAL, &out->schedule_last_ms, NULL,
                             NULL, 0);
    if (r == AOS_OK)
        r = aos_json_get_int(o, "schedule_next_ms", AOS_JSON_OPTIONAL, &out->schedule_next_ms, NULL,
                             NULL, 0);
    if (r == AOS_OK)
        r = copy_str(o, "breaker", AOS_JSON_OPTIONAL, out->breaker, sizeof out->breaker);
    if (r == AOS_OK && out->breaker[0] && strcmp(out->breaker, "closed") != 0 &&
        strcmp(out->breaker, "half_open") != 0 && strcmp(out->breaker, "open") != 0)
        r = AOS_ERR_INVALID;
    if (r == AOS_OK && (!aos_agent_name_valid(out->agent) || !out->instance[0]))
        r = AOS_ERR_INVALID;
    json_object_put(o);
    return r;
}
