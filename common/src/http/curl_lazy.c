/* libcurl loaded on first use (dlopen), not at process start.
 *
 * Debian's libcurl.so.4 brings about twenty libraries with it (GnuTLS and p11-kit through
 * librtmp, Kerberos, LDAP, libssh2, nghttp2, libpsl, …): mapping and relocating them was 3.5 MiB
 * of every service's resident set before main ran, also in a service that makes no HTTP call
 * (aos-storage on SQLite; docs/storage.md "Memory"). The functions the project calls are
 * defined here under their own names and forward to the library, loaded the first time one of
 * them runs. A binary that links libcurl itself (aosctl, tests) loads it at start as before;
 * these definitions then forward to the same library.
 *
 * When libcurl.so.4 cannot be loaded, every call fails the way libcurl reports failure
 * (NULL handles, CURLE_FAILED_INIT, CURLM_INTERNAL_ERROR) and the reason is logged once.
 * Thread-safe: the library is loaded under pthread_once. */
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>

#include <curl/curl.h>

#include "aos/lazy_lib.h"

#define CURL_SONAME "libcurl.so.4"

typedef void (*fnptr_t)(void);

static struct {
    bool ok;
    CURLcode (*global_init)(long);
    void (*global_cleanup)(void);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *);
    void (*easy_reset)(CURL *);
    CURLcode (*easy_perform)(CURL *);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    const char *(*easy_strerror)(CURLcode);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
    CURLM *(*multi_init)(void);
    CURLMcode (*multi_cleanup)(CURLM *);
    CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
    CURLMcode (*multi_add_handle)(CURLM *, CURL *);
    CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
    CURLMcode (*multi_perform)(CURLM *, int *);
    CURLMcode (*multi_poll)(CURLM *, struct curl_waitfd[], unsigned int, int, int *);
    CURLMcode (*multi_wakeup)(CURLM *);
    CURLMsg *(*multi_info_read)(CURLM *, int *);
    const char *(*multi_strerror)(CURLMcode);
} lib;

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static void lib_load(void)
{
    const aos_lazy_sym_t syms[] = {
        {"curl_global_init", &lib.global_init},
        {"curl_global_cleanup", &lib.global_cleanup},
        {"curl_easy_init", &lib.easy_init},
        {"curl_easy_cleanup", &lib.easy_cleanup},
        {"curl_easy_reset", &lib.easy_reset},
        {"curl_easy_perform", &lib.easy_perform},
        {"curl_easy_setopt", &lib.easy_setopt},
        {"curl_easy_getinfo", &lib.easy_getinfo},
        {"curl_easy_strerror", &lib.easy_strerror},
        {"curl_slist_append", &lib.slist_append},
        {"curl_slist_free_all", &lib.slist_free_all},
        {"curl_multi_init", &lib.multi_init},
        {"curl_multi_cleanup", &lib.multi_cleanup},
        {"curl_multi_setopt", &lib.multi_setopt},
        {"curl_multi_add_handle", &lib.multi_add_handle},
        {"curl_multi_remove_handle", &lib.multi_remove_handle},
        {"curl_multi_perform", &lib.multi_perform},
        {"curl_multi_poll", &lib.multi_poll},
        {"curl_multi_wakeup", &lib.multi_wakeup},
        {"curl_multi_info_read", &lib.multi_info_read},
        {"curl_multi_strerror", &lib.multi_strerror},
    };
    lib.ok = aos_lazy_lib_load(CURL_SONAME, syms, sizeof syms / sizeof syms[0], "libcurl",
                               "HTTP calls fail");
}

static bool loaded(void)
{
    pthread_once(&lib_once, lib_load);
    return lib.ok;
}

/* The names in parentheses: curl.h may define these as type-checking macros. */

CURLcode(curl_global_init)(long flags)
{
    return loaded() ? lib.global_init(flags) : CURLE_FAILED_INIT;
}

void(curl_global_cleanup)(void)
{
    if (loaded())
        lib.global_cleanup();
}

CURL *(curl_easy_init)(void)
{
    return loaded() ? lib.easy_init() : NULL;
}

void(curl_easy_cleanup)(CURL *h)
{
    if (loaded())
        lib.easy_cleanup(h);
}

void(curl_easy_reset)(CURL *h)
{
    if (loaded())
        lib.easy_reset(h);
}

CURLcode(curl_easy_perform)(CURL *h)
{
    return loaded() ? lib.easy_perform(h) : CURLE_FAILED_INIT;
}

/* The parameter's type follows from the option's number (curl.h CURLOPTTYPE_*). */
CURLcode(curl_easy_setopt)(CURL *h, CURLoption opt, ...)
{
    if (!loaded())
        return CURLE_FAILED_INIT;
    va_list ap;
    va_start(ap, opt);
    CURLcode rc;
    switch ((int)opt / 10000 * 10000) {
    case CURLOPTTYPE_LONG:
        rc = lib.easy_setopt(h, opt, va_arg(ap, long));
        break;
    case CURLOPTTYPE_FUNCTIONPOINT:
        rc = lib.easy_setopt(h, opt, va_arg(ap, fnptr_t));
        break;
    case CURLOPTTYPE_OFF_T:
        rc = lib.easy_setopt(h, opt, va_arg(ap, curl_off_t));
        break;
    default: /* object, string, slist, callback data, blob: a pointer */
        rc = lib.easy_setopt(h, opt, va_arg(ap, void *));
        break;
    }
    va_end(ap);
    return rc;
}

CURLcode(curl_easy_getinfo)(CURL *h, CURLINFO info, ...)
{
    if (!loaded())
        return CURLE_FAILED_INIT;
    va_list ap;
    va_start(ap, info);
    CURLcode rc = lib.easy_getinfo(h, info, va_arg(ap, void *)); /* always a pointer */
    va_end(ap);
    return rc;
}

const char *(curl_easy_strerror)(CURLcode code)
{
    return loaded() ? lib.easy_strerror(code) : "libcurl is not available";
}

struct curl_slist *(curl_slist_append)(struct curl_slist *list, const char *s)
{
    return loaded() ? lib.slist_append(list, s) : NULL;
}

void(curl_slist_free_all)(struct curl_slist *list)
{
    if (loaded())
        lib.slist_free_all(list);
}

CURLM *(curl_multi_init)(void)
{
    return loaded() ? lib.multi_init() : NULL;
}

CURLMcode(curl_multi_cleanup)(CURLM *m)
{
    return loaded() ? lib.multi_cleanup(m) : CURLM_INTERNAL_ERROR;
}

CURLMcode(curl_multi_setopt)(CURLM *m, CURLMoption opt, ...)
{
    if (!loaded())
        return CURLM_INTERNAL_ERROR;
    va_list ap;
    va_start(ap, opt);
    CURLMcode rc;
    switch ((int)opt / 10000 * 10000) {
    case CURLOPTTYPE_LONG:
        rc = lib.multi_setopt(m, opt, va_arg(ap, long));
        break;
    case CURLOPTTYPE_FUNCTIONPOINT:
        rc = lib.multi_setopt(m, opt, va_arg(ap, fnptr_t));
        break;
    case CURLOPTTYPE_OFF_T:
        rc = lib.multi_setopt(m, opt, va_arg(ap, curl_off_t));
        break;
    default:
        rc = lib.multi_setopt(m, opt, va_arg(ap, void *));
        break;
    }
    va_end(ap);
    return rc;
}

CURLMcode(curl_multi_add_handle)(CURLM *m, CURL *h)
{
    return loaded() ? lib.multi_add_handle(m, h) : CURLM_INTERNAL_ERROR;
}

CURLMcode(curl_multi_remove_handle)(CURLM *m, CURL *h)
{
    return loaded() ? lib.multi_remove_handle(m, h) : CURLM_INTERNAL_ERROR;
}

CURLMcode(curl_multi_perform)(CURLM *m, int *running)
{
    return loaded() ? lib.multi_perform(m, running) : CURLM_INTERNAL_ERROR;
}

CURLMcode(curl_multi_poll)(CURLM *m, struct curl_waitfd extra[], unsigned int n, int timeout_ms,
                           int *ret)
{
    return loaded() ? lib.multi_poll(m, extra, n, timeout_ms, ret) : CURLM_INTERNAL_ERROR;
}

CURLMcode(curl_multi_wakeup)(CURLM *m)
{
    return loaded() ? lib.multi_wakeup(m) : CURLM_INTERNAL_ERROR;
}

CURLMsg *(curl_multi_info_read)(CURLM *m, int *left)
{
    return loaded() ? lib.multi_info_read(m, left) : NULL;
}

const char *(curl_multi_strerror)(CURLMcode code)
{
    return loaded() ? lib.multi_strerror(code) : "libcurl is not available";
}
