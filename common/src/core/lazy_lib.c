/* A shared library loaded on first use (see aos/lazy_lib.h). */
#include "aos/lazy_lib.h"

#include <dlfcn.h>
#include <stdio.h>

#include "aos/log.h"

bool aos_lazy_lib_load(const char *soname, const aos_lazy_sym_t *syms, size_t count,
                       const char *what, const char *consequence)
{
    void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    bool ok = h != NULL;
    for (size_t i = 0; ok && i < count; i++) {
        void *p = dlsym(h, syms[i].name);
        if (p)
            *(void **)syms[i].slot = p;
        ok = p != NULL;
    }
    if (!ok) {
        const char *why = dlerror();
        char msg[160];
        snprintf(msg, sizeof msg, "%s cannot be loaded: %s", what, consequence);
        aos_log(AOS_LOG_ERROR, msg, "library", soname, "detail", why ? why : "a symbol is missing",
                NULL);
    }
    return ok;
}
