/* Fuzz target: POST /v1/messages bodies, turn results and API-key files. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aos/json.h"
#include "apikey.h"
#include "messages.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    router_message_req_t *m = NULL;
    if (router_message_req_parse(s, size, 4096, &m, NULL, 0) == AOS_OK) {
        router_turn_t t = {.conversation_id = m->conversation_id ? m->conversation_id : "c",
                           .message_id = "m",
                           .agent = m->agent ? m->agent : "a",
                           .text = m->text,
                           .user = m->user,
                           .metadata_json = m->metadata_json,
                           .reason = "fuzz"};
        char *json = NULL;
        if (router_turn_build(&t, &json) == AOS_OK) {
            /* the request's fields go into the turn as written text: it must stay JSON */
            if (aos_json_validate(json, strlen(json), strlen(json) + 1, 0, NULL, 0) != AOS_OK)
                abort();
            free(json);
        }
        router_message_req_free(m);
    }
    router_turn_result_t *r = NULL;
    if (router_turn_result_parse(s, size, &r, NULL, 0) == AOS_OK) {
        char *out = NULL;
        if (router_message_response_build(r, "a", "fuzz", &out) == AOS_OK)
            free(out);
        router_turn_result_free(r);
    }
    router_apikeys_t *k = NULL;
    if (router_apikeys_parse(s, size, NULL, &k, NULL, 0) == AOS_OK)
        router_apikeys_free(k);
    return 0;
}
