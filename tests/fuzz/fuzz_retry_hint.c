/* Fuzz target: Retry-After / retry-after-ms hints (aos_retry_parse_hint), outside bytes from
 * every HTTP peer. Input: "<retry-after-ms>\n<retry-after>". The delay is capped by the
 * policy and a date hint never goes negative. */
#include "aos/resilience.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    if (!s)
        return 0;
    char *nl = strchr(s, '\n');
    const char *ms = s, *ra = nl ? nl + 1 : NULL;
    if (nl)
        *nl = '\0';
    uint64_t d = 0;
    int64_t now = 1767225600000; /* 2026-01-01 */
    (void)aos_retry_parse_hint(ms, ra, now, &d);
    (void)aos_retry_parse_hint(NULL, s, now, &d);
    (void)aos_retry_parse_hint(ra, NULL, now, &d);
    aos_retry_policy_t p = {
        .max_attempts = 3, .base_delay_ms = 10, .max_delay_ms = 1000, .max_server_delay_ms = 5000};
    if (aos_retry_next_delay_ms(&p, 1, ms, ra, now, NULL, NULL) > 5000)
        abort();
    free(s);
    return 0;
}
