/* Fuzz target: the per-turn record parser (aos.ml.record_turn bodies are outside bytes) and
 * the registry changes applied to a record read from outside bytes. The first byte picks. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "aos/json.h"
#include "ml_registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    char err[256], agent[64], why[700];
    if (data[0] % 2 == 0) {
        ml_turn_sample_t t;
        (void)ml_turn_sample_parse(s, n, agent, &t, err, sizeof err);
        return 0;
    }
    json_object *rec = NULL;
    if (aos_json_parse_object(s, n, 0, 0, &rec, NULL, 0) != AOS_OK)
        return 0;
    ml_canary_policy_t pol = {.min_turns = 2,
                              .max_error_delta_pct = 5,
                              .max_fallback_delta_pct = 10,
                              .max_latency_pct = 150,
                              .max_feedback_drop = 0.25};
    int64_t v = 0;
    const char *act = NULL;
    ml_decision d;
    ml_turn_sample_t t = {.version = (data[0] >> 4) & 3, .error = data[0] & 2, .latency_ms = 5};
    (void)ml_registry_record(rec, &t, &pol, 1, &d, why, sizeof why);
    (void)ml_registry_record(rec, &t, &pol, 2, &d, why, sizeof why);
    (void)ml_registry_canary(rec, (data[0] >> 2) & 3, 30, 0, "operator", 3, err, sizeof err);
    (void)ml_registry_promote(rec, 0, "operator", NULL, 4, &v, err, sizeof err);
    (void)ml_registry_rollback(rec, 0, "operator", NULL, 5, &v, err, sizeof err);
    (void)ml_registry_pin(rec, (data[0] >> 6) & 1, "operator", 6, err, sizeof err);
    (void)ml_registry_register(rec, ml_registry_next_version(rec), "/a", "job", NULL, 30, 0, 7,
                               &act, err, sizeof err);
    json_object_put(rec);
    return 0;
}
