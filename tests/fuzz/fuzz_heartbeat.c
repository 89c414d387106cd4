/* Fuzz target: agent heartbeats read by the router from the bus (router_heartbeat_parse):
 * accepted ones carry a valid agent name and NUL-terminated fields within their buffers. */
#include "bus_replies.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    router_heartbeat_msg_t hb;
    if (router_heartbeat_parse((const char *)data, size, &hb) == AOS_OK) {
        if (!aos_agent_name_valid(hb.agent) || !hb.instance[0] ||
            strlen(hb.instance) >= sizeof hb.instance || strlen(hb.provider) >= sizeof hb.provider)
            abort();
    }
    return 0;
}
