/* tests/support/temp_db.h: a test's SQLite database file (header-only). */
#ifndef AOS_TEST_TEMP_DB_H
#define AOS_TEST_TEMP_DB_H

#include <stdio.h>
#include <unistd.h>

/* Remove the database at path and the -wal and -shm files of its write-ahead log. */
static inline void temp_db_remove(const char *path)
{
    char p[600];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

#endif
