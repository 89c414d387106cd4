/* tests/support/fixture.h: read what a ctest fixture published (header-only).
 *
 * Fixtures write small text files under $AOS_TEST_FIXTURES_DIR/<fixture>/<file>
 * (e.g. rabbitmq/url, azurite/connection_string). Tests include this header with
 * target_include_directories(... ${CMAKE_SOURCE_DIR}/tests/support) or via the
 * aos_test_support interface target.
 */
#ifndef AOS_TEST_FIXTURE_H
#define AOS_TEST_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Read $AOS_TEST_FIXTURES_DIR/<fixture>/<file> into buf, trailing whitespace trimmed.
 * Returns 0 on success, -1 (with a message on stderr) if it cannot be read. */
static inline int aos_test_fixture_read(const char *fixture, const char *file, char *buf,
                                        size_t buflen)
{
    const char *dir = getenv("AOS_TEST_FIXTURES_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/%s", dir ? dir : "fixtures", fixture, file);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "fixture file %s not readable (is the '%s' fixture set up?)\n", path,
                fixture);
        return -1;
    }
    size_t n = fread(buf, 1, buflen - 1, f);
    fclose(f);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        n--;
    buf[n] = '\0';
    return 0;
}

#endif
