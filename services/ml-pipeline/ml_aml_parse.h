/* ml_aml_parse.h: pure parsers of Azure ML (ARM) responses, outside bytes: the error body's
 * "code: message", and a job's properties.status mapped to ml_aml_state. Fuzzed by
 * tests/fuzz/fuzz_aml_responses.c. */
#ifndef ML_AML_PARSE_H
#define ML_AML_PARSE_H

#include <stddef.h>

#include <json-c/json.h>

#include "ml_spec.h"

/* {"error":{"code","message"}} -> "code: message" in out (empty when not that shape). */
void ml_aml_error_detail(const char *body, size_t len, char *out, size_t outlen);

/* properties.status of a job resource (borrowed), or NULL. */
const char *ml_aml_job_status(const json_object *job);

/* A job resource body as received -> its state (ML_AML_UNKNOWN-like value from
 * ml_aml_state_parse(NULL) when the body is not a job). */
ml_aml_state ml_aml_job_state(const char *body, size_t len);

#endif
