/* The C side of the Azure SDK interop test (tests/node/interop.mjs).
 *
 *   azure_interop write <connection string> <prefix>
 *     writes through the aos-storage Azure backend: conversation "interop-conv" (agent "cfo"),
 *     three messages (one long enough to be split over several properties), blob
 *     "aos-interop"/"profiles/cfo.json" in two chunks, record adapter/"cfo-lora"; prints a JSON
 *     summary (what the Node side must find) on stdout.
 *   azure_interop read <connection string> <prefix> <expect.json>
 *     reads what the SDK wrote in the documented layout (conversation "sdk-conv", its messages,
 *     blob "aos-interop-sdk"/"data/train.jsonl", record job/"sdk-job") and checks it against
 *     expect.json. Exit status 0 when everything matches.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

static int fail(const char *what, const char *detail)
{
    fprintf(stderr, "interop: %s: %s\n", what, detail ? detail : "");
    return 1;
}

static aos_result open_be(const char *cs, const char *prefix, storage_backend_t **be, char *err,
                          size_t errlen)
{
    storage_backend_config_t cfg = {
        .kind = AOS_STORAGE_BACKEND_AZURE, .azure_connection_string = cs, .name_prefix = prefix};
    return storage_backend_open(&cfg, be, err, errlen);
}

static int do_write(storage_backend_t *be)
{
    char err[512];
    const storage_backend_ops_t *ops = be->ops;
    aos_storage_conversation_t in = {
        .id = "interop-conv", .agent = "cfo", .metadata_json = "{\"channel\":\"teams\"}"};
    aos_storage_conversation_t conv = {0};
    bool created;
    if (ops->conversation_create(be, &in, &conv, &created, err, sizeof err) != AOS_OK)
        return fail("create conversation", err);
    aos_storage_conversation_clear(&conv);
    size_t long_len = 70000;
    char *long_text = malloc(long_len + 1);
    for (size_t i = 0; i < long_len; i++)
        long_text[i] = (char)('a' + i % 26);
    long_text[long_len] = '\0';
    const char *roles[] = {"user", "assistant", "user"};
    const char *texts[] = {"What is the Q3 budget? It's \"tight\" & <urgent>.", long_text,
                           "Thanks \xe2\x9c\x93"};
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof id, "m-%d", i + 1);
        aos_storage_message_t m = {.conversation_id = "interop-conv",
                                   .id = id,
                                   .role = (char *)roles[i],
                                   .content = (char *)texts[i],
                                   .metadata_json = "{\"n\":1}"};
        aos_storage_message_t out = {0};
        if (ops->message_append(be, &m, -1, &out, &created, err, sizeof err) != AOS_OK)
            return fail("append", err);
        aos_storage_message_clear(&out);
    }
    const char *chunks[] = {"{\"name\":\"cfo\",", "\"purpose\":\"finance\"}"};
    if (ops->blob_put_begin(be, "aos-interop", "profiles/cfo.json", "up-1", "application/json", err,
                            sizeof err) != AOS_OK)
        return fail("blob begin", err);
    for (uint32_t i = 0; i < 2; i++)
        if (ops->blob_put_chunk(be, "aos-interop", "profiles/cfo.json", "up-1", i, chunks[i],
                                strlen(chunks[i]), err, sizeof err) != AOS_OK)
            return fail("blob chunk", err);
    aos_storage_blob_info_t info = {0};
    if (ops->blob_put_commit(be, "aos-interop", "profiles/cfo.json", "up-1", 2, NULL, &info, err,
                             sizeof err) != AOS_OK)
        return fail("blob commit", err);
    aos_storage_record_t rec = {0};
    if (ops->record_put(be, "adapter", "cfo-lora", "{\"status\":\"ready\",\"rank\":8}", "*", "op-1",
                        &rec, err, sizeof err) != AOS_OK)
        return fail("record put", err);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "long_len", json_object_new_int64((int64_t)long_len));
    json_object_object_add(o, "long_text", json_object_new_string(long_text));
    json_object_object_add(o, "blob_sha256", json_object_new_string(info.sha256));
    json_object_object_add(o, "blob_size", json_object_new_int64((int64_t)info.size));
    json_object_object_add(o, "record_version", json_object_new_string(rec.version));
    printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    aos_storage_blob_info_clear(&info);
    aos_storage_record_clear(&rec);
    free(long_text);
    return 0;
}

static const char *jstr(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : "";
}

static int check_messages(storage_backend_t *be, json_object *expect)
{
    char err[512];
    json_object *msgs;
    json_object_object_get_ex(expect, "messages", &msgs);
    aos_storage_message_page_t page = {0};
    if (be->ops->message_list(be, "sdk-conv", NULL, 100, false, &page, err, sizeof err) != AOS_OK)
        return fail("message list", err);
    int bad = 0;
    if (page.count != json_object_array_length(msgs))
        bad = fail("message count", "differs from what the SDK wrote");
    for (size_t i = 0; !bad && i < page.count; i++) {
        json_object *m = json_object_array_get_idx(msgs, i);
        if (strcmp(page.items[i].id, jstr(m, "id")) ||
            strcmp(page.items[i].role, jstr(m, "role")) ||
            strcmp(page.items[i].content, jstr(m, "content")) ||
            page.items[i].seq != (int64_t)i + 1)
            bad = fail("message differs", page.items[i].id);
    }
    aos_storage_message_page_clear(&page);
    return bad;
}

static int do_read(storage_backend_t *be, json_object *expect)
{
    char err[512];
    const storage_backend_ops_t *ops = be->ops;
    aos_storage_conversation_t conv = {0};
    if (ops->conversation_get(be, "sdk-conv", &conv, err, sizeof err) != AOS_OK)
        return fail("conversation get", err);
    int bad = 0;
    if (strcmp(conv.agent, "ceo") || conv.version != 2 ||
        strcmp(conv.metadata_json, "{\"from\":\"sdk\"}"))
        bad = fail("conversation differs", conv.agent);
    aos_storage_conversation_clear(&conv);
    bad |= check_messages(be, expect);
    /* appending after the SDK's messages continues its sequence */
    aos_storage_message_t m = {.conversation_id = "sdk-conv",
                               .id = "c-side",
                               .role = "assistant",
                               .content = "reply from C"};
    aos_storage_message_t out = {0};
    bool created;
    if (ops->message_append(be, &m, 2, &out, &created, err, sizeof err) != AOS_OK || out.seq != 3)
        bad |= fail("append after SDK messages", err);
    aos_storage_message_clear(&out);

    aos_storage_blob_info_t info = {0};
    if (ops->blob_head(be, "aos-interop-sdk", "data/train.jsonl", &info, err, sizeof err) != AOS_OK)
        return fail("blob head", err);
    if (strcmp(info.sha256, jstr(expect, "blob_sha256")) ||
        strcmp(info.content_type, "application/jsonl"))
        bad |= fail("blob info differs", info.sha256);
    size_t size = (size_t)info.size, got = 0;
    char *buf = malloc(size + 1);
    if (ops->blob_read(be, "aos-interop-sdk", "data/train.jsonl", 0, size, info.etag, buf, &got,
                       err, sizeof err) != AOS_OK ||
        got != size)
        bad |= fail("blob read", err);
    buf[got] = '\0';
    if (strcmp(buf, jstr(expect, "blob_text")))
        bad |= fail("blob content differs", NULL);
    free(buf);
    aos_storage_blob_info_clear(&info);

    aos_storage_record_t rec = {0};
    if (ops->record_get(be, "job", "sdk-job", &rec, err, sizeof err) != AOS_OK)
        return fail("record get", err);
    json_object *data = json_tokener_parse(rec.data_json), *st;
    if (!data || !json_object_object_get_ex(data, "state", &st) ||
        strcmp(json_object_get_string(st), "running"))
        bad |= fail("record differs", rec.data_json);
    json_object_put(data);
    /* the SDK-written ETag is our version: a write with it succeeds */
    aos_storage_record_t rec2 = {0};
    if (ops->record_put(be, "job", "sdk-job", "{\"state\":\"done\"}", rec.version, NULL, &rec2, err,
                        sizeof err) != AOS_OK)
        bad |= fail("record update with SDK ETag", err);
    aos_storage_record_clear(&rec);
    aos_storage_record_clear(&rec2);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc < 4 || (strcmp(argv[1], "write") && strcmp(argv[1], "read")) ||
        (!strcmp(argv[1], "read") && argc < 5)) {
        fprintf(stderr, "usage: %s write CONN PREFIX | read CONN PREFIX EXPECT.json\n", argv[0]);
        return 2;
    }
    char err[512];
    storage_backend_t *be = NULL;
    if (open_be(argv[2], argv[3], &be, err, sizeof err) != AOS_OK)
        return fail("open backend", err);
    int rc;
    if (!strcmp(argv[1], "write")) {
        rc = do_write(be);
    } else {
        json_object *expect = json_object_from_file(argv[4]);
        rc = expect ? do_read(be, expect) : fail("read", "cannot parse the expectation file");
        json_object_put(expect);
    }
    storage_backend_free(be);
    return rc;
}
