/* Fuzz target for the HTTP server's request checks (common/src/http/http_check.c): input =
 * "METHOD URI\n" then header lines "name: value\n", a blank line, then the body, which is fed
 * to the body accumulator in slices whose sizes come from the first byte. Checks the limits
 * hold: no body past max_body, the server-wide reservation returns to zero. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "http_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = fuzz_cstr(data, size);
    if (!buf)
        return 0;
    http_kv h[64] = {{0}};
    size_t nh = 0;
    char *line = buf, *end = buf + strlen(buf); /* headers stop at a NUL */
    char *method = "", *uri = "";
    char *body = NULL;
    for (int first = 1; line < end;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (first) {
            method = line;
            char *sp = strchr(line, ' ');
            if (sp) {
                *sp = '\0';
                uri = sp + 1;
            }
            first = 0;
        } else if (!*line) {
            body = nl ? nl + 1 : NULL;
            break;
        } else if (nh < 64) {
            char *colon = strchr(line, ':');
            if (colon) {
                *colon = '\0';
                h[nh].name = line;
                h[nh++].value = colon[1] == ' ' ? colon + 2 : colon + 1;
            }
        }
        if (!nl)
            break;
        line = nl + 1;
    }
    bool has_body = false;
    unsigned long long cl = 0;
    http_verdict v = http_headers_check(method, uri, h, nh, 512, &has_body, &cl);
    if (v.status && (!v.code || !v.message))
        abort();
    (void)http_media_type_is_json(nh ? h[0].value : NULL);
    (void)http_media_type_is_json(uri);

    if (body && body < buf + size) {
        size_t blen = (size_t)(buf + size - body);
        _Atomic size_t buffered = 0;
        http_body b = {0};
        size_t step = size ? (size_t)(data[0] % 17) + 1 : 1, max_body = 100;
        for (size_t off = 0; off < blen; off += step) {
            size_t n = blen - off < step ? blen - off : step;
            int st = http_body_append(&b, body + off, n, max_body, &buffered, 160);
            if (st == 0 && (b.len > max_body || b.cap > max_body + 1 || buffered != b.cap))
                abort();
            if (st)
                break;
        }
        http_body_free(&b, &buffered);
        if (buffered != 0)
            abort();
    }
    free(buf);
    return 0;
}
