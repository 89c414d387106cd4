/* Fuzz target: the runner's adapter record parser (registry records and aos.ml.adapter.*
 * event data are outside bytes) and the choice made from what it accepted. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "adapter_pick.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    runner_adapter_state_t st;
    char err[200];
    if (runner_adapter_state_parse((const char *)data, size, &st, err, sizeof err) != AOS_OK)
        return 0;
    runner_adapter_choice_t c;
    runner_adapter_decide(&st, "c-1", 0, &c);
    runner_adapter_decide(&st, "c-2", st.canary_version, &c);
    if (c.version != 0 && c.version != st.stable_version && c.version != st.canary_version)
        __builtin_trap();
    return 0;
}
