/* Pure helpers: base64 (aos/base64.h), HTTP dates, name validation, growable strings. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aos/base64.h"
#include "aos/percent.h"
#include "azure_internal.h"

void aos_azure_http_date(int64_t unix_seconds, char out[30])
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)unix_seconds;
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[96];
    snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7],
             tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
             tm.tm_sec);
    size_t n = strnlen(buf, 29);
    memcpy(out, buf, n);
    out[n] = '\0';
}

bool aos_azure_key_valid(const char *s)
{
    if (!s)
        return false;
    size_t len = strlen(s);
    if (len > 1024 || !aos_utf8_valid(s, len))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || c == '/' || c == '\\' || c == '#' || c == '?')
            return false;
    }
    return true;
}

bool aos_azure_table_name_valid(const char *s)
{
    if (!s)
        return false;
    size_t len = strlen(s);
    if (len < 3 || len > 63 || !isalpha((unsigned char)s[0]))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]))
            return false;
    return strcasecmp(s, "tables") != 0;
}

bool aos_azure_container_name_valid(const char *s)
{
    if (!s)
        return false;
    size_t len = strlen(s);
    if (len < 3 || len > 63)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && c != '-')
            return false;
        if (c == '-' && (i == 0 || i == len - 1 || s[i - 1] == '-'))
            return false;
    }
    return true;
}

bool aos_azure_blob_name_valid(const char *s)
{
    if (!s)
        return false;
    size_t len = strlen(s);
    if (len == 0 || len > 1024 || !aos_utf8_valid(s, len))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    /* '.' path segments would be normalized away by URL handling */
    return strcmp(s, ".") != 0 && strcmp(s, "..") != 0 && s[len - 1] != '/' && s[0] != '/';
}

/* aos_pct_encode appended to b. */
aos_result aos_azure_url_encode(aos_buf_t *b, const char *s, bool keep_slash)
{
    unsigned flags = keep_slash ? AOS_PCT_KEEP_SLASH : 0;
    size_t n = aos_pct_encoded_len(s, flags);
    char small[256], *enc = n < sizeof small ? small : malloc(n + 1);
    if (!enc)
        return AOS_ERR_NOMEM;
    aos_result r = aos_pct_encode(s, flags, enc, n + 1);
    if (r == AOS_OK)
        r = aos_buf_append(b, enc, n);
    if (enc != small)
        free(enc);
    return r;
}
