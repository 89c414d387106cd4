/* tests/storage/backend_suite.h: the one test suite every aos-storage backend must pass.
 *
 * The suite (backend_suite.c) exercises the backend interface of services/storage/backend.h
 * directly: conversations, idempotent appends, cursor paging, chunked blobs with checksums,
 * records with optimistic concurrency, and concurrent writers through two instances.
 * It is parameterized by a factory that opens a fresh instance on the store under test; two
 * instances opened by the same factory must see the same data. Every test uses fresh random
 * names, so runs against a shared store (Azurite) do not interfere.
 *
 * tests/storage/CMakeLists.txt instantiates it for sqlite always and for azure (fixture
 * "azurite", connection string from ${fixtures}/azurite/connection_string) when
 * services/storage/backend_azure.c exists.
 */
#ifndef AOS_STORAGE_BACKEND_SUITE_H
#define AOS_STORAGE_BACKEND_SUITE_H

#include <stddef.h>

#include "aos/result.h"
#include "backend.h"

/* Open one more instance of the backend under test. */
typedef aos_result (*aos_storage_backend_factory)(void *ctx, storage_backend_t **out_be,
                                                  char *errbuf, size_t errlen);

/* Run every test of the suite (cmocka); returns the number of failed tests. */
int aos_storage_backend_suite_run(const char *suite_name, aos_storage_backend_factory factory,
                                  void *ctx);

#endif
