/* Fuzz target: base64 decoding (aos_base64_decode / _into, aos_base64url_decode): canonical
 * input only; whatever decodes re-encodes to the same text. */
#include "aos/base64.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *t = (const char *)data;
    unsigned char *out = NULL;
    size_t n = 0;
    if (aos_base64_decode(t, size, &out, &n) == AOS_OK) {
        char *back = NULL;
        size_t bn = 0;
        if (aos_base64_encode(out, n, &back, &bn) != AOS_OK)
            abort();
        if (bn != size || memcmp(back, t, size) != 0)
            abort(); /* a non-canonical form was accepted */
        free(back);
    }
    free(out);
    unsigned char small[16];
    (void)aos_base64_decode_into(t, size, small, sizeof small, &n);
    out = NULL;
    if (aos_base64url_decode(t, size, &out, &n) == AOS_OK) {
        char *back = NULL;
        if (aos_base64_encode(out, n, &back, NULL) != AOS_OK)
            abort();
        for (char *c = back; *c; c++) /* the same bytes in the URL alphabet, unpadded */
            *c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
        size_t bl = strcspn(back, "=");
        size_t tl = size;
        while (tl > 0 && t[tl - 1] == '=')
            tl--;
        if (bl != tl || memcmp(back, t, tl) != 0)
            abort();
        free(back);
    }
    free(out);
    return 0;
}
