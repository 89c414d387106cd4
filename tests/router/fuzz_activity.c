/* Fuzz target: Bot Framework activities (POST /api/messages bodies) and reply building. */
#include <stdint.h>
#include <stdlib.h>

#include "botframework.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    router_activity_t *a = NULL;
    if (router_activity_parse((const char *)data, size, 4096, &a, NULL, 0) != AOS_OK)
        return 0;
    char conv[40], mid[48], url[4096];
    router_activity_conversation_id(a, conv);
    router_activity_message_id(a, mid);
    router_activity_reply_url(a, url, sizeof url);
    char *reply = NULL, *body = NULL;
    if (router_activity_reply_build(a, "r", a->text, "agent", &reply) == AOS_OK) {
        const char *acts[] = {reply};
        if (router_activity_replies_body(acts, 1, &body) == AOS_OK)
            free(body);
        free(reply);
    }
    router_activity_free(a);
    return 0;
}
