/* Fuzz target: the aos.agent.turn request parser (bytes from the bus). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "turn_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    runner_turn_req_t req;
    char err[256];
    if (runner_turn_parse((const char *)data, size, &req, err, sizeof err) == AOS_OK) {
        if (!req.conversation_id || !req.message_id || !req.agent || !req.text ||
            !req.metadata_json)
            abort();
        char id[129], *meta = NULL, *result = NULL;
        if (runner_reply_id(req.message_id, 'r', id) != AOS_OK)
            abort();
        runner_turn_outcome_t o = {.reply = "{\"intent\":{\"a\":1}}", .provider = "offline"};
        runner_user_metadata(&req, &meta);
        runner_turn_result_json(&req, id, &o, &result);
        free(meta);
        free(result);
    }
    runner_turn_req_clear(&req);
    return 0;
}
