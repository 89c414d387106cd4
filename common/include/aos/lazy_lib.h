/* aos/lazy_lib.h: a shared library loaded on first use (dlopen) instead of linked, for the
 * libraries few processes call but every process would map (libcurl: src/http/curl_lazy.c,
 * librdkafka: src/kafka/rdkafka_lazy.c). The caller defines the library's functions under their
 * own names, forwarding through the slots filled here, and loads under pthread_once.
 * Thread-safety: as dlopen/dlsym; call it once (pthread_once). */
#ifndef AOS_LAZY_LIB_H
#define AOS_LAZY_LIB_H

#include <stdbool.h>
#include <stddef.h>

typedef struct aos_lazy_sym {
    const char *name; /* the symbol */
    void *slot;       /* where its address goes: a function pointer's address */
} aos_lazy_sym_t;

/* dlopen soname and resolve every symbol into its slot. False when the library or a symbol is
 * missing; then the reason is logged as "<what> cannot be loaded" (consequence: what fails). */
bool aos_lazy_lib_load(const char *soname, const aos_lazy_sym_t *syms, size_t count,
                       const char *what, const char *consequence);

#endif
