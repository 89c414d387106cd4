/* Backend selection and helpers shared by the backends. */
#include "backend.h"

#include <string.h>
#include <time.h>

aos_result storage_backend_kind_parse(const char *s, storage_backend_kind *out_kind)
{
    if (s && strcmp(s, "sqlite") == 0) {
        *out_kind = AOS_STORAGE_BACKEND_SQLITE;
        return AOS_OK;
    }
    if (s && strcmp(s, "azure") == 0) {
        *out_kind = AOS_STORAGE_BACKEND_AZURE;
        return AOS_OK;
    }
    return AOS_ERR_INVALID;
}

aos_result storage_backend_open(const storage_backend_config_t *cfg, storage_backend_t **out_be,
                                char *errbuf, size_t errlen)
{
    *out_be = NULL;
    switch (cfg->kind) {
    case AOS_STORAGE_BACKEND_SQLITE:
        return storage_sqlite_open(cfg, out_be, errbuf, errlen);
    case AOS_STORAGE_BACKEND_AZURE:
#ifdef AOS_STORAGE_HAVE_AZURE
        return storage_azure_open(cfg, out_be, errbuf, errlen);
#else
        return aos_fail(AOS_ERR_UNSUPPORTED, errbuf, errlen,
                        "the azure backend is not part of this build");
#endif
    }
    return aos_fail(AOS_ERR_INVALID, errbuf, errlen, "unknown backend kind %d", (int)cfg->kind);
}

void storage_backend_free(storage_backend_t *be)
{
    if (be)
        be->ops->free(be);
}

int64_t storage_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
