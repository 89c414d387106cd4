/* The shared backend suite on the SQLite backend (a fresh database file per run). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "backend_suite.h"
#include "temp_db.h"

static char g_path[256];

static aos_result open_sqlite(void *ctx, storage_backend_t **out_be, char *errbuf, size_t errlen)
{
    (void)ctx;
    storage_backend_config_t cfg = {.kind = AOS_STORAGE_BACKEND_SQLITE, .sqlite_path = g_path};
    return storage_backend_open(&cfg, out_be, errbuf, errlen);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(g_path, sizeof g_path, "%s/aos-storage-suite-%d.db", tmp ? tmp : "/tmp",
             (int)getpid());
    temp_db_remove(g_path);
    int failed = aos_storage_backend_suite_run("backend_sqlite", open_sqlite, NULL);
    temp_db_remove(g_path);
    return failed ? 1 : 0;
}
