/* Fuzz target: Azure ML (ARM) responses: error bodies and job resources (status -> state). */
#include "fuzz_util.h"
#include "ml_aml_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char out[256];
    ml_aml_error_detail((const char *)data, size, out, sizeof out);
    if (strlen(out) >= sizeof out)
        abort();
    ml_aml_state s = ml_aml_job_state((const char *)data, size);
    (void)ml_aml_state_final(s);
    return 0;
}
