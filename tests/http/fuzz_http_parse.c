/* Fuzz target for the HTTP server's own parsing: input = route pattern, '\n', request
 * target, optionally '\n' and header lines "name: value" (also parsed as response header
 * lines, as the client does); the whole input is also one header line. Everything must be rejected
 * cleanly or parsed consistently; no crash, leak or out-of-bounds access. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "aos/percent.h"
#include "aos/http_server.h"
#include "http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = fuzz_cstr(data, size);
    if (!buf)
        return 0;

    char *dec = malloc(size + 1);
    size_t dn = 0;
    if (dec && aos_pct_decode(buf, size, AOS_PCT_FORM, dec, size + 1, &dn) == AOS_OK) {
        if (dn > size)
            abort();
        /* what decodes re-encodes to text that decodes to the same bytes */
        size_t en = aos_pct_encoded_len(dec, AOS_PCT_FORM);
        char *enc = malloc(en + 1), *again = malloc(en + 1);
        if (enc && again) {
            if (aos_pct_encode(dec, AOS_PCT_FORM, enc, en + 1) != AOS_OK ||
                aos_pct_decode(enc, en, AOS_PCT_FORM, again, en + 1, NULL) != AOS_OK ||
                strcmp(again, dec) != 0)
                abort();
        }
        free(enc);
        free(again);
    }
    free(dec);

    const char *hn, *hv;
    size_t hnl, hvl;
    if (http_header_line_parse(buf, size, &hn, &hnl, &hv, &hvl) &&
        (hnl == 0 || hn != buf || hv < buf || hv + hvl > buf + size || memchr(hv, '\0', hvl)))
        abort();

    char *nl = memchr(buf, '\n', size);
    const char *pattern = buf;
    const char *target = nl ? nl + 1 : buf;
    size_t tlen = nl ? size - (size_t)(nl + 1 - buf) : size;
    char *nl2 = nl ? memchr(nl + 1, '\n', tlen) : NULL;
    if (nl)
        *nl = '\0';
    if (nl2) {
        *nl2 = '\0';
        tlen = (size_t)(nl2 - target);
    }

    char err[128];
    http_pattern p;
    http_target t;
    bool have_p = http_pattern_parse(pattern, &p, err, sizeof err) == AOS_OK;
    bool have_t = http_target_parse(target, tlen, &t, err, sizeof err) == AOS_OK;
    if (have_t) {
        for (size_t i = 0; i < t.nquery; i++)
            if (!http_target_query(&t, t.query[i].name))
                abort();
        if (have_p) {
            http_kv params[HTTP_MAX_SEGMENTS];
            size_t np = 0;
            if (http_pattern_match(&p, &t, params, &np) && np > p.nseg)
                abort();
            for (size_t i = 0; i < np; i++)
                if (!params[i].value[0])
                    abort();
        }
        http_target_free(&t);
    }
    if (have_p)
        http_pattern_free(&p);

    if (nl2) {
        http_kv h[16];
        size_t nh = 0;
        for (char *line = nl2 + 1; line && nh < 16;) {
            char *next = strchr(line, '\n');
            if (next)
                *next++ = '\0';
            char *colon = strchr(line, ':');
            if (colon) {
                *colon = '\0';
                h[nh].name = line;
                h[nh++].value = colon + 1;
                (void)http_header_name_valid(line);
                (void)http_header_value_valid(colon + 1);
            }
            line = next;
        }
        for (size_t i = 0; i < nh; i++)
            if (!http_kv_find_ci(h, nh, h[i].name))
                abort();
    }
    free(buf);
    return 0;
}
