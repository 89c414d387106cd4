/* Fuzz target: the ML pipeline's parsers of outside bytes (training data, trainer progress
 * lines, train requests). The first byte picks the parser. */
#include <stddef.h>
#include <stdint.h>

#include "ml_spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    char err[256];
    switch (data[0] % 3) {
    case 0: {
        size_t ex = 0;
        (void)ml_data_validate(s, n, &ex, err, sizeof err);
        break;
    }
    case 1: {
        ml_progress_t p;
        ml_progress_parse(s, n, &p);
        ml_progress_clear(&p);
        break;
    }
    default: {
        ml_train_req_t r;
        if (ml_train_req_parse(s, n, data[0] & 4, &r, err, sizeof err) == 0)
            ml_train_req_clear(&r);
        break;
    }
    }
    return 0;
}
