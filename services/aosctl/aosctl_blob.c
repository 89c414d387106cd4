/* aosctl blob put|get|ls: blobs in aos-storage (agent knowledge, training data, profiles),
 * streamed one chunk at a time in both directions. */
#include <stdlib.h>
#include <string.h>

#include "aos/bus.h"
#include "aos/storage_client.h"
#include "aosctl.h"

static aos_result read_file(void *ctx, void *buf, size_t cap, size_t *out_len)
{
    FILE *f = ctx;
    *out_len = fread(buf, 1, cap, f);
    return ferror(f) ? AOS_ERR_IO : AOS_OK;
}

static aos_result write_file(void *ctx, const void *buf, size_t len)
{
    return fwrite(buf, 1, len, (FILE *)ctx) == len ? AOS_OK : AOS_ERR_IO;
}

static const char *guess_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot)
        return "application/octet-stream";
    if (strcmp(dot, ".md") == 0)
        return "text/markdown";
    if (strcmp(dot, ".txt") == 0)
        return "text/plain";
    if (strcmp(dot, ".json") == 0)
        return "application/json";
    if (strcmp(dot, ".jsonl") == 0)
        return "application/jsonl";
    return "application/octet-stream";
}

static int blob_put(const aosctl_opts_t *o, aos_storage_client_t *sc, int argc, char **argv)
{
    const char *type = NULL, *path = "-";
    int pos = 0;
    const char *container = NULL, *name = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--type") == 0 && i + 1 < argc)
            type = argv[++i];
        else if (pos == 0 && ++pos)
            container = argv[i];
        else if (pos == 1 && ++pos)
            name = argv[i];
        else if (pos == 2 && ++pos)
            path = argv[i];
        else
            return 2;
    }
    if (!container || !name)
        return 2;
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(o->err, "aosctl blob put: cannot open %s\n", path);
        return 1;
    }
    aos_storage_blob_info_t info = {0};
    char err[256] = "";
    aos_result r = aos_storage_blob_put_sync(sc, container, name, type ? type : guess_type(name),
                                             read_file, f, &info, err, sizeof err);
    if (f != stdin)
        fclose(f);
    if (r != AOS_OK) {
        fprintf(o->err, "aosctl blob put: %s: %s\n", aos_result_str(r), err);
        return 1;
    }
    fprintf(o->out, "stored %s/%s (%llu bytes, sha256 %s)\n", container, name,
            (unsigned long long)info.size, info.sha256);
    aos_storage_blob_info_clear(&info);
    return 0;
}

static int blob_get(const aosctl_opts_t *o, aos_storage_client_t *sc, int argc, char **argv)
{
    if (argc < 2 || argc > 3)
        return 2;
    FILE *f = argc == 3 ? fopen(argv[2], "wb") : o->out;
    if (!f) {
        fprintf(o->err, "aosctl blob get: cannot write %s\n", argv[2]);
        return 1;
    }
    aos_storage_blob_info_t info = {0};
    char err[256] = "";
    aos_result r =
        aos_storage_blob_get_sync(sc, argv[0], argv[1], write_file, f, &info, err, sizeof err);
    if (f != o->out && fclose(f) != 0 && r == AOS_OK)
        r = AOS_ERR_IO;
    aos_storage_blob_info_clear(&info);
    if (r != AOS_OK) {
        fprintf(o->err, "aosctl blob get: %s: %s\n", aos_result_str(r), err);
        return 1;
    }
    return 0;
}

static int blob_ls(const aosctl_opts_t *o, aos_storage_client_t *sc, int argc, char **argv)
{
    if (argc < 1 || argc > 2)
        return 2;
    char cursor[512] = "";
    int rc = 0;
    do {
        aos_storage_blob_page_t page = {0};
        char err[256] = "";
        aos_result r =
            aos_storage_blob_list_sync(sc, argv[0], argc == 2 ? argv[1] : NULL,
                                       cursor[0] ? cursor : NULL, 100, &page, err, sizeof err);
        if (r != AOS_OK) {
            fprintf(o->err, "aosctl blob ls: %s: %s\n", aos_result_str(r), err);
            rc = 1;
            break;
        }
        for (size_t i = 0; i < page.count; i++)
            fprintf(o->out, "%12llu  %-24s %s\n", (unsigned long long)page.items[i].size,
                    page.items[i].content_type ? page.items[i].content_type : "",
                    page.items[i].name);
        snprintf(cursor, sizeof cursor, "%s", page.next_cursor ? page.next_cursor : "");
        aos_storage_blob_page_clear(&page);
    } while (cursor[0]);
    return rc;
}

int aosctl_blob(const aosctl_opts_t *o, int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[0], "put") != 0 && strcmp(argv[0], "get") != 0 &&
                     strcmp(argv[0], "ls") != 0)) {
        fprintf(o->err, "usage: aosctl blob put CONTAINER NAME [FILE|-] [--type T] | "
                        "get CONTAINER NAME [FILE] | ls CONTAINER [PREFIX]\n");
        return 2;
    }
    aos_bus_t *bus = NULL;
    if (aosctl_open_bus(o, &bus) != AOS_OK)
        return 1;
    /* AOS_STORAGE_QUEUE: the same variable the services read (default aos.storage) */
    const char *queue = getenv("AOS_STORAGE_QUEUE");
    aos_storage_client_config_t cfg = {
        .bus = bus, .source = "/aos/aosctl", .queue = queue && *queue ? queue : NULL};
    aos_storage_client_t *sc = NULL;
    char err[256] = "";
    int rc = 1;
    if (aos_storage_client_new(&cfg, &sc, err, sizeof err) != AOS_OK) {
        fprintf(o->err, "aosctl blob: %s\n", err);
    } else if (strcmp(argv[0], "put") == 0) {
        rc = blob_put(o, sc, argc - 1, argv + 1);
    } else if (strcmp(argv[0], "get") == 0) {
        rc = blob_get(o, sc, argc - 1, argv + 1);
    } else {
        rc = blob_ls(o, sc, argc - 1, argv + 1);
    }
    if (rc == 2)
        fprintf(o->err, "aosctl blob: wrong arguments (see aosctl --help)\n");
    aos_storage_client_free(sc);
    aos_bus_free(bus);
    return rc;
}
