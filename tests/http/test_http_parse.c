/* Pure parsing: route patterns, request targets, %-decoding, matching, header lookup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "aos/percent.h"
#include "aos/http_server.h"
#include "http_parse.h"

static void test_percent_decode(void **state)
{
    (void)state;
    char out[64];
    size_t n = 0;
    assert_int_equal(aos_pct_decode("a%20b+c", 7, 0, out, sizeof out, &n), AOS_OK);
    assert_string_equal(out, "a b+c");
    assert_int_equal(n, 5);
    assert_int_equal(aos_pct_decode("a%20b+c", 7, AOS_PCT_FORM, out, sizeof out, &n), AOS_OK);
    assert_string_equal(out, "a b c");
    assert_int_equal(aos_pct_decode("%C3%A9%2f", 9, 0, out, sizeof out, &n), AOS_OK);
    assert_string_equal(out, "\xc3\xa9/");
    assert_int_equal(aos_pct_decode("", 0, 0, out, sizeof out, &n), AOS_OK);
    assert_string_equal(out, "");
    assert_int_equal(aos_pct_decode("%zz", 3, 0, out, sizeof out, &n), AOS_ERR_INVALID);
    assert_int_equal(aos_pct_decode("%4", 2, 0, out, sizeof out, &n), AOS_ERR_INVALID);
    assert_int_equal(aos_pct_decode("ab%", 3, 0, out, sizeof out, &n), AOS_ERR_INVALID);
    assert_int_equal(aos_pct_decode("%00", 3, 0, out, sizeof out, &n), AOS_ERR_INVALID);
    assert_int_equal(aos_pct_decode("a\0b", 3, 0, out, sizeof out, &n), AOS_ERR_INVALID);
    assert_int_equal(aos_pct_decode("abc", 3, 0, out, 3, &n), AOS_ERR_TOO_LARGE);
    assert_int_equal(aos_pct_decode("%41bc", 5, 0, out, 4, &n), AOS_OK);
    assert_string_equal(out, "Abc");
}

/* aos/percent.h is the one encoder: the flags give the SAS (quote_plus) and URL path forms. */
static void test_percent_encode(void **state)
{
    (void)state;
    char out[64];
    const char *s = "a b/c~%\xc3\xa9";
    assert_int_equal(aos_pct_encode(s, 0, out, sizeof out), AOS_OK);
    assert_string_equal(out, "a%20b%2Fc~%25%C3%A9");
    assert_int_equal(aos_pct_encoded_len(s, 0), strlen(out));
    assert_int_equal(aos_pct_encode(s, AOS_PCT_FORM | AOS_PCT_KEEP_SLASH, out, sizeof out), AOS_OK);
    assert_string_equal(out, "a+b/c~%25%C3%A9");
    assert_int_equal(aos_pct_encoded_len(s, AOS_PCT_FORM | AOS_PCT_KEEP_SLASH), strlen(out));
    size_t n = 0;
    char back[64];
    assert_int_equal(aos_pct_decode(out, strlen(out), AOS_PCT_FORM, back, sizeof back, &n), AOS_OK);
    assert_string_equal(back, s);
    assert_int_equal(aos_pct_encode("/", 0, out, 3), AOS_ERR_TOO_LARGE);
    assert_string_equal(out, "");
}

static void test_pattern_parse(void **state)
{
    (void)state;
    http_pattern p;
    char err[128];
    assert_int_equal(http_pattern_parse("/v1/agents/{agent}/act", &p, err, sizeof err), AOS_OK);
    assert_int_equal(p.nseg, 4);
    assert_string_equal(p.seg[0].text, "v1");
    assert_false(p.seg[0].param);
    assert_string_equal(p.seg[2].text, "agent");
    assert_true(p.seg[2].param);
    http_pattern_free(&p);
    assert_int_equal(http_pattern_parse("/", &p, err, sizeof err), AOS_OK);
    assert_int_equal(p.nseg, 1);
    http_pattern_free(&p);
    const char *bad[] = {"",         "v1/x",       "/a/{}", "/a/{b",  "/a/x{b}",
                         "/a/{b-c}", "/a/{x}/{x}", "/a b",  "/a/%20", NULL};
    for (int i = 0; bad[i]; i++)
        assert_int_equal(http_pattern_parse(bad[i], &p, err, sizeof err), AOS_ERR_INVALID);
    assert_int_equal(http_pattern_parse(NULL, &p, err, sizeof err), AOS_ERR_INVALID);
}

static void test_target_parse(void **state)
{
    (void)state;
    http_target t;
    char err[128];
    const char *raw = "/v1/conversations/c%2F1%20x?limit=10&q=a+b%26c&flag&=v&&x=%C3%A9#frag";
    assert_int_equal(http_target_parse(raw, strlen(raw), &t, err, sizeof err), AOS_OK);
    assert_string_equal(t.path, "/v1/conversations/c/1 x");
    assert_int_equal(t.nseg, 3);
    assert_string_equal(t.seg[2], "c/1 x");
    assert_string_equal(http_target_query(&t, "limit"), "10");
    assert_string_equal(http_target_query(&t, "q"), "a b&c");
    assert_string_equal(http_target_query(&t, "flag"), "");
    assert_string_equal(http_target_query(&t, ""), "v");
    assert_string_equal(http_target_query(&t, "x"), "\xc3\xa9");
    assert_null(http_target_query(&t, "frag"));
    assert_null(http_target_query(&t, "missing"));
    http_target_free(&t);

    assert_int_equal(http_target_parse("/", 1, &t, err, sizeof err), AOS_OK);
    assert_int_equal(t.nseg, 1);
    assert_string_equal(t.seg[0], "");
    http_target_free(&t);

    const char *bad[] = {"",        "x",      "*",    "http://h/p", "/a%zz",
                         "/a?b=%4", "/a%00b", "/a b", "/a\tb",      NULL};
    for (int i = 0; bad[i]; i++)
        assert_int_equal(http_target_parse(bad[i], strlen(bad[i]), &t, err, sizeof err),
                         AOS_ERR_INVALID);
    char many[400] = "";
    for (int i = 0; i < 40; i++)
        strcat(many, "/s");
    assert_int_equal(http_target_parse(many, strlen(many), &t, err, sizeof err), AOS_ERR_INVALID);
    char q[600] = "/?";
    for (int i = 0; i < 70; i++)
        strcat(q, "a=1&");
    assert_int_equal(http_target_parse(q, strlen(q), &t, err, sizeof err), AOS_ERR_INVALID);
}

static unsigned match(const char *pattern, const char *path, http_kv *params, size_t *np)
{
    http_pattern p;
    http_target t;
    char err[64];
    assert_int_equal(http_pattern_parse(pattern, &p, err, sizeof err), AOS_OK);
    assert_int_equal(http_target_parse(path, strlen(path), &t, err, sizeof err), AOS_OK);
    unsigned s = http_pattern_match(&p, &t, params, np);
    static char keep[4][64];
    for (size_t i = 0; i < *np && i < 4; i++) {
        snprintf(keep[i], sizeof keep[i], "%s=%s", params[i].name, params[i].value);
        params[i].value = keep[i];
    }
    http_pattern_free(&p);
    http_target_free(&t);
    return s;
}

static void test_match(void **state)
{
    (void)state;
    http_kv params[HTTP_MAX_SEGMENTS];
    size_t np = 0;
    assert_true(match("/v1/agents/{agent}/act", "/v1/agents/cfo/act", params, &np) > 0);
    assert_int_equal(np, 1);
    assert_string_equal(params[0].value, "agent=cfo");
    assert_int_equal(match("/v1/agents/{agent}/act", "/v1/agents//act", params, &np), 0);
    assert_int_equal(match("/v1/agents/{agent}/act", "/v1/agents/cfo", params, &np), 0);
    assert_int_equal(match("/v1/agents/{agent}/act", "/v1/agents/cfo/act/", params, &np), 0);
    assert_int_equal(match("/v1/agents", "/v1/agent", params, &np), 0);
    /* literal beats parameter */
    unsigned lit = match("/v1/agents/special", "/v1/agents/special", params, &np);
    unsigned par = match("/v1/agents/{agent}", "/v1/agents/special", params, &np);
    assert_true(lit > par && par > 0);
    /* leftmost literal weighs more */
    unsigned left = match("/a/{x}", "/a/b", params, &np);
    unsigned right = match("/{x}/b", "/a/b", params, &np);
    assert_true(left > right);
    assert_true(match("/x/{a}/{b}", "/x/1/2", params, &np) > 0);
    assert_int_equal(np, 2);
    assert_string_equal(params[1].value, "b=2");
}

static void test_headers(void **state)
{
    (void)state;
    http_kv h[] = {{"Content-Type", "application/json"}, {"X-Dup", "1"}, {"x-dup", "2"}};
    assert_string_equal(http_kv_find_ci(h, 3, "content-type"), "application/json");
    assert_string_equal(http_kv_find_ci(h, 3, "X-DUP"), "1");
    assert_null(http_kv_find_ci(h, 3, "missing"));
    assert_null(http_kv_find_ci(h, 3, NULL));
    assert_true(http_header_name_valid("Retry-After"));
    assert_false(http_header_name_valid("Bad Name"));
    assert_false(http_header_name_valid("a:b"));
    assert_false(http_header_name_valid(""));
    assert_true(http_header_value_valid("text/plain; charset=utf-8"));
    assert_false(http_header_value_valid("x\r\nSet-Cookie: y"));
}

static void test_header_line(void **state)
{
    (void)state;
    const char *n, *v;
    size_t nl, vl;
    const char line[] = "Retry-After:  \t 3 \r\n";
    assert_true(http_header_line_parse(line, sizeof line - 1, &n, &nl, &v, &vl));
    assert_int_equal(nl, 11);
    assert_memory_equal(n, "Retry-After", 11);
    assert_int_equal(vl, 1);
    assert_memory_equal(v, "3", 1);
    const char empty[] = "X-Empty:\r\n";
    assert_true(http_header_line_parse(empty, sizeof empty - 1, &n, &nl, &v, &vl));
    assert_int_equal(vl, 0);
    const char *bad[] = {"\r\n",
                         ": v\r\n",
                         " folded continuation\r\n",
                         "Bad Name: v\r\n",
                         "no colon\r\n",
                         "HTTP/1.1 200 OK\r\n",
                         NULL};
    for (int i = 0; bad[i]; i++)
        assert_false(http_header_line_parse(bad[i], strlen(bad[i]), &n, &nl, &v, &vl));
    const char nul[] = "X-A: a\0b\r\n";
    assert_false(http_header_line_parse(nul, sizeof nul - 1, &n, &nl, &v, &vl));
    const char cr[] = "X-A: a\rb\r\n";
    assert_false(http_header_line_parse(cr, sizeof cr - 1, &n, &nl, &v, &vl));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_percent_decode), cmocka_unit_test(test_percent_encode),
        cmocka_unit_test(test_pattern_parse),  cmocka_unit_test(test_target_parse),
        cmocka_unit_test(test_match),          cmocka_unit_test(test_headers),
        cmocka_unit_test(test_header_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
