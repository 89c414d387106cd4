/* Issue 13 item 3: under memory pressure a message is complete or an error, never a message
 * with fields silently missing. Allocation failures are injected by interposing malloc,
 * calloc and realloc (json-c and libc allocate through them too): for every n, the n-th
 * allocation of building and serializing a message fails. The builder ignores each add's
 * result, as most callers do; only the serialization is checked.
 * Sanitizer builds replace malloc themselves, so there the test is skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aos/buf.h"
#include "aos/json.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define NO_INJECTION 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||                         \
    __has_feature(memory_sanitizer)
#define NO_INJECTION 1
#endif
#endif

#ifndef NO_INJECTION
static int g_fail_at; /* fail the g_fail_at-th allocation counted from g_count = 0; 0 = none */
static int g_count;

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);

static bool fail_now(void)
{
    return g_fail_at && ++g_count == g_fail_at;
}

void *malloc(size_t n)
{
    return fail_now() ? NULL : __libc_malloc(n);
}
void *calloc(size_t n, size_t size)
{
    return fail_now() ? NULL : __libc_calloc(n, size);
}
void *realloc(void *p, size_t n)
{
    return fail_now() ? NULL : __libc_realloc(p, n);
}

/* A reply the way the services build them: results of the adds ignored. */
static aos_result build_reply(char **out)
{
    json_object *o = json_object_new_object();
    aos_json_add_string(o, "type", "aos.reply");
    aos_json_add_string(o, "conversation_id", "c-0123456789");
    aos_json_add_int(o, "seq", 42);
    aos_json_add_bool(o, "final", true);
    json_object *inner = json_object_new_object();
    aos_json_add_string(inner, "text", "hello, world");
    aos_json_add(o, "reply", inner);
    aos_result r = aos_json_to_string(o, out, NULL);
    json_object_put(o);
    return r;
}

static void assert_complete(const char *text)
{
    json_object *o = NULL;
    assert_int_equal(aos_json_parse(text, strlen(text), 0, 0, &o, NULL, 0), AOS_OK);
    const char *s = NULL;
    assert_int_equal(aos_json_get_string(o, "type", AOS_JSON_REQUIRED, &s, NULL, 0), AOS_OK);
    assert_int_equal(aos_json_get_string(o, "conversation_id", AOS_JSON_REQUIRED, &s, NULL, 0),
                     AOS_OK);
    int64_t seq = 0;
    assert_int_equal(aos_json_get_int(o, "seq", AOS_JSON_REQUIRED, &seq, NULL, NULL, 0), AOS_OK);
    bool fin = false;
    assert_int_equal(aos_json_get_bool(o, "final", AOS_JSON_REQUIRED, &fin, NULL, NULL, 0), AOS_OK);
    json_object *inner = NULL;
    assert_int_equal(aos_json_get_object(o, "reply", AOS_JSON_REQUIRED, &inner, NULL, 0), AOS_OK);
    assert_int_equal(aos_json_get_string(inner, "text", AOS_JSON_REQUIRED, &s, NULL, 0), AOS_OK);
    assert_string_equal(s, "hello, world");
    json_object_put(o);
}
#endif

static void message_is_complete_or_an_error(void **state)
{
    (void)state;
#ifdef NO_INJECTION
    skip();
#else
    int errors = 0, n;
    for (n = 1; n < 500; n++) {
        char *text = NULL;
        g_count = 0;
        g_fail_at = n;
        aos_result r = build_reply(&text);
        g_fail_at = 0;
        bool injected = g_count >= n;
        if (r == AOS_OK) {
            assert_non_null(text);
            assert_complete(text);
        } else {
            assert_int_equal(r, AOS_ERR_NOMEM);
            assert_null(text);
            errors++;
        }
        free(text);
        if (!injected)
            break; /* the n-th allocation never came: every allocation has been failed once */
    }
    assert_true(n < 500);
    assert_true(errors > 5); /* the failures did hit the build */
#endif
}

/* A NULL value (what a failed json_object_new_* gives) marks the object, and the mark is seen
 * through nesting in objects and arrays. */
static void incomplete_mark_propagates(void **state)
{
    (void)state;
    json_object *outer = json_object_new_object(), *arr = json_object_new_array();
    json_object *inner = json_object_new_object();
    assert_int_equal(aos_json_add_string(inner, "a", "b"), AOS_OK);
    assert_int_equal(json_object_array_add(arr, inner), 0);
    assert_int_equal(aos_json_add(outer, "list", arr), AOS_OK);
    assert_true(aos_json_complete(outer));
    assert_int_equal(aos_json_add(inner, "lost", NULL), AOS_ERR_NOMEM);
    assert_false(aos_json_complete(inner));
    assert_false(aos_json_complete(outer));
    char *text = NULL;
    assert_int_equal(aos_json_to_string(outer, &text, NULL), AOS_ERR_NOMEM);
    assert_null(text);
    assert_false(aos_json_complete(NULL));
    assert_int_equal(aos_json_to_string(NULL, &text, NULL), AOS_ERR_NOMEM);
    json_object_put(outer);
}

/* aos/buf.h: a failed append makes the buffer failed for good; take gives NULL. */
static void buffer_failure_is_sticky(void **state)
{
    (void)state;
    aos_buf_t b = {0};
    assert_int_equal(aos_buf_puts(&b, "abc"), AOS_OK);
    assert_int_equal(aos_buf_append(&b, "x", SIZE_MAX - 2), AOS_ERR_NOMEM);
    assert_true(aos_buf_failed(&b));
    assert_int_equal(aos_buf_puts(&b, "def"), AOS_ERR_NOMEM);
    assert_int_equal(aos_buf_printf(&b, "%d", 1), AOS_ERR_NOMEM);
    assert_null(aos_buf_take(&b, NULL));
    assert_false(aos_buf_failed(&b)); /* take freed and reset it */
    assert_int_equal(aos_buf_printf(&b, "%s-%0300d", "n", 7), AOS_OK);
    size_t n = 0;
    char *s = aos_buf_take(&b, &n);
    assert_int_equal(n, 302);
    assert_int_equal(strncmp(s, "n-000", 5), 0);
    free(s);
    aos_buf_t empty = {0};
    s = aos_buf_take(&empty, &n);
    assert_string_equal(s, "");
    assert_int_equal(n, 0);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(message_is_complete_or_an_error),
        cmocka_unit_test(incomplete_mark_propagates),
        cmocka_unit_test(buffer_failure_is_sticky),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
