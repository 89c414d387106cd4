/* Fuzz target: the query strings of the console's routes (GET /v1/conversations,
 * GET /v1/deadletters/{queue}): raw "name=value&…" bytes, %-decoded as the HTTP server does,
 * through router_conv_filter_parse / router_conv_filter_match, router_time_parse and the
 * dead-letter id check (services/router/console_query.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aos/http_server.h"
#include "aos/percent.h"
#include "console_query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    char *vals[6] = {0};
    static const char *const NAMES[6] = {"agent", "q", "since", "until", "cursor", "limit"};
    if (!buf)
        return 0;
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        const char *vstart = eq ? eq + 1 : stop;
        size_t nlen = (size_t)((eq ? eq : stop) - p), vlen = (size_t)(stop - vstart), n = 0;
        for (size_t i = 0; i < 6; i++) {
            if (vals[i] || strlen(NAMES[i]) != nlen || memcmp(NAMES[i], p, nlen) != 0)
                continue;
            if (aos_pct_decode(vstart, vlen, AOS_PCT_FORM, buf, size + 1, &n) == AOS_OK &&
                (vals[i] = malloc(n + 1)))
                memcpy(vals[i], buf, n + 1);
        }
        p = stop + (amp ? 1 : 0);
    }
    router_conv_query_t in = {vals[0], vals[1], vals[2], vals[3], vals[4], vals[5]};
    router_conv_filter_t f;
    char why[200];
    if (router_conv_filter_parse(&in, &f, why, sizeof why) == AOS_OK)
        (void)router_conv_filter_match(&f, vals[4] ? vals[4] : "c-1", 1, 2);
    int64_t ms;
    for (size_t i = 0; i < 6; i++) {
        if (vals[i]) {
            (void)router_time_parse(vals[i], &ms);
            (void)router_dead_letter_id_valid(vals[i]);
        }
        free(vals[i]);
    }
    free(buf);
    return 0;
}
