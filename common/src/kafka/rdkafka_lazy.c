/* librdkafka loaded on first use (dlopen), not at process start.
 *
 * Every service links the Kafka sink of the event publisher, few use it. Linked, librdkafka
 * and its compressors were about 1 MiB of each service's idle RSS, and its 15 KiB of static
 * thread-local storage was copied into every thread's stack (docs/storage.md "Memory");
 * loaded with dlopen its TLS is allocated only in threads that use it. The functions the
 * project calls are defined here under their own names and forward to the library, loaded the
 * first time one of them runs (rd_kafka_producev through rd_kafka_produceva: a variadic call
 * cannot be forwarded as such). A binary that links librdkafka itself (the Kafka tests, for
 * the mock cluster) loads it at start as before; these definitions then forward to it.
 *
 * When librdkafka.so.1 cannot be loaded, every call fails the way librdkafka reports failure
 * (NULL handles with errstr, RD_KAFKA_RESP_ERR__FAIL) and the reason is logged once.
 * Thread-safe: the library is loaded under pthread_once. */
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include <librdkafka/rdkafka.h>

#include "aos/lazy_lib.h"

#define RDKAFKA_SONAME "librdkafka.so.1"
#define UNAVAILABLE "librdkafka is not available (" RDKAFKA_SONAME " cannot be loaded)"

typedef void (*dr_msg_cb_t)(rd_kafka_t *, const rd_kafka_message_t *, void *);

static struct {
    bool ok;
    rd_kafka_conf_t *(*conf_new)(void);
    void (*conf_destroy)(rd_kafka_conf_t *);
    rd_kafka_conf_res_t (*conf_set)(rd_kafka_conf_t *, const char *, const char *, char *, size_t);
    void (*conf_set_dr_msg_cb)(rd_kafka_conf_t *, dr_msg_cb_t);
    rd_kafka_t *(*new_)(rd_kafka_type_t, rd_kafka_conf_t *, char *, size_t);
    void (*destroy)(rd_kafka_t *);
    const char *(*err2str)(rd_kafka_resp_err_t);
    rd_kafka_error_t *(*produceva)(rd_kafka_t *, const rd_kafka_vu_t *, size_t);
    rd_kafka_resp_err_t (*error_code)(const rd_kafka_error_t *);
    void (*error_destroy)(rd_kafka_error_t *);
    int (*poll)(rd_kafka_t *, int);
    rd_kafka_resp_err_t (*flush)(rd_kafka_t *, int);
    rd_kafka_headers_t *(*headers_new)(size_t);
    rd_kafka_resp_err_t (*header_add)(rd_kafka_headers_t *, const char *, ssize_t, const void *,
                                      ssize_t);
    void (*headers_destroy)(rd_kafka_headers_t *);
} lib;

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static void lib_load(void)
{
    const aos_lazy_sym_t syms[] = {
        {"rd_kafka_conf_new", &lib.conf_new},
        {"rd_kafka_conf_destroy", &lib.conf_destroy},
        {"rd_kafka_conf_set", &lib.conf_set},
        {"rd_kafka_conf_set_dr_msg_cb", &lib.conf_set_dr_msg_cb},
        {"rd_kafka_new", &lib.new_},
        {"rd_kafka_destroy", &lib.destroy},
        {"rd_kafka_err2str", &lib.err2str},
        {"rd_kafka_produceva", &lib.produceva},
        {"rd_kafka_error_code", &lib.error_code},
        {"rd_kafka_error_destroy", &lib.error_destroy},
        {"rd_kafka_poll", &lib.poll},
        {"rd_kafka_flush", &lib.flush},
        {"rd_kafka_headers_new", &lib.headers_new},
        {"rd_kafka_header_add", &lib.header_add},
        {"rd_kafka_headers_destroy", &lib.headers_destroy},
    };
    lib.ok = aos_lazy_lib_load(RDKAFKA_SONAME, syms, sizeof syms / sizeof syms[0], "librdkafka",
                               "Kafka sinks fail");
}

static bool loaded(void)
{
    pthread_once(&lib_once, lib_load);
    return lib.ok;
}

static void say_unavailable(char *errstr, size_t errstr_size)
{
    if (errstr && errstr_size)
        snprintf(errstr, errstr_size, "%s", UNAVAILABLE);
}

rd_kafka_conf_t *rd_kafka_conf_new(void)
{
    return loaded() ? lib.conf_new() : NULL;
}

void rd_kafka_conf_destroy(rd_kafka_conf_t *conf)
{
    if (loaded())
        lib.conf_destroy(conf);
}

rd_kafka_conf_res_t rd_kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value,
                                      char *errstr, size_t errstr_size)
{
    if (loaded())
        return lib.conf_set(conf, name, value, errstr, errstr_size);
    say_unavailable(errstr, errstr_size);
    return RD_KAFKA_CONF_UNKNOWN;
}

void rd_kafka_conf_set_dr_msg_cb(rd_kafka_conf_t *conf, dr_msg_cb_t cb)
{
    if (loaded())
        lib.conf_set_dr_msg_cb(conf, cb);
}

rd_kafka_t *rd_kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, char *errstr,
                         size_t errstr_size)
{
    if (loaded())
        return lib.new_(type, conf, errstr, errstr_size);
    say_unavailable(errstr, errstr_size);
    return NULL;
}

void rd_kafka_destroy(rd_kafka_t *rk)
{
    if (loaded())
        lib.destroy(rk);
}

const char *rd_kafka_err2str(rd_kafka_resp_err_t err)
{
    return loaded() ? lib.err2str(err) : UNAVAILABLE;
}

/* The (tag, arguments) list of rd_kafka_producev as the vu array of rd_kafka_produceva. */
rd_kafka_resp_err_t rd_kafka_producev(rd_kafka_t *rk, ...)
{
    if (!loaded())
        return RD_KAFKA_RESP_ERR__FAIL;
    rd_kafka_vu_t vus[32];
    size_t n = 0;
    va_list ap;
    va_start(ap, rk);
    rd_kafka_vtype_t t;
    bool bad = false;
    while (!bad && (t = (rd_kafka_vtype_t)va_arg(ap, int)) != RD_KAFKA_VTYPE_END) {
        if (n == sizeof vus / sizeof *vus) {
            bad = true;
            break;
        }
        rd_kafka_vu_t *v = &vus[n++];
        v->vtype = t;
        switch (t) {
        case RD_KAFKA_VTYPE_TOPIC:
            v->u.cstr = va_arg(ap, const char *);
            break;
        case RD_KAFKA_VTYPE_RKT:
            v->u.rkt = va_arg(ap, rd_kafka_topic_t *);
            break;
        case RD_KAFKA_VTYPE_PARTITION:
            v->u.i32 = va_arg(ap, int32_t);
            break;
        case RD_KAFKA_VTYPE_VALUE:
        case RD_KAFKA_VTYPE_KEY:
            v->u.mem.ptr = va_arg(ap, void *);
            v->u.mem.size = va_arg(ap, size_t);
            break;
        case RD_KAFKA_VTYPE_OPAQUE:
            v->u.ptr = va_arg(ap, void *);
            break;
        case RD_KAFKA_VTYPE_MSGFLAGS:
            v->u.i = va_arg(ap, int);
            break;
        case RD_KAFKA_VTYPE_TIMESTAMP:
            v->u.i64 = va_arg(ap, int64_t);
            break;
        case RD_KAFKA_VTYPE_HEADER:
            v->u.header.name = va_arg(ap, const char *);
            v->u.header.val = va_arg(ap, const void *);
            v->u.header.size = va_arg(ap, ssize_t);
            break;
        case RD_KAFKA_VTYPE_HEADERS:
            v->u.headers = va_arg(ap, rd_kafka_headers_t *);
            break;
        default: /* a tag of a later librdkafka: its arguments are unknown here */
            bad = true;
            break;
        }
    }
    va_end(ap);
    if (bad)
        return RD_KAFKA_RESP_ERR__INVALID_ARG;
    rd_kafka_error_t *e = lib.produceva(rk, vus, n);
    if (!e)
        return RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_resp_err_t err = lib.error_code(e);
    lib.error_destroy(e);
    return err;
}

int rd_kafka_poll(rd_kafka_t *rk, int timeout_ms)
{
    return loaded() ? lib.poll(rk, timeout_ms) : 0;
}

rd_kafka_resp_err_t rd_kafka_flush(rd_kafka_t *rk, int timeout_ms)
{
    return loaded() ? lib.flush(rk, timeout_ms) : RD_KAFKA_RESP_ERR__FAIL;
}

rd_kafka_headers_t *rd_kafka_headers_new(size_t initial_count)
{
    return loaded() ? lib.headers_new(initial_count) : NULL;
}

rd_kafka_resp_err_t rd_kafka_header_add(rd_kafka_headers_t *hdrs, const char *name,
                                        ssize_t name_size, const void *value, ssize_t value_size)
{
    return loaded() ? lib.header_add(hdrs, name, name_size, value, value_size)
                    : RD_KAFKA_RESP_ERR__FAIL;
}

void rd_kafka_headers_destroy(rd_kafka_headers_t *hdrs)
{
    if (loaded())
        lib.headers_destroy(hdrs);
}
