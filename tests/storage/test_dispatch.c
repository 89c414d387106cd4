/* Dispatcher units: every operation round-trips through request JSON -> SQLite -> reply JSON;
 * bad input gets the right error code and writes nothing; an unavailable backend asks for
 * the request to be released. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "aos/base64.h"
#include "aos/json.h"
#include "aos/storage_wire.h"
#include "dispatch.h"
#include "temp_db.h"

static char g_path[256];
static storage_backend_t *g_be;
static storage_limits_t g_lim = {.max_chunk = 4096};
static json_object *g_reply;

static int setup(void **state)
{
    (void)state;
    char err[256];
    snprintf(g_path, sizeof g_path, "/tmp/aos-dispatch-%d.db", (int)getpid());
    temp_db_remove(g_path);
    storage_backend_config_t cfg = {
        .kind = AOS_STORAGE_BACKEND_SQLITE, .sqlite_path = g_path, .busy_timeout_ms = 200};
    return storage_backend_open(&cfg, &g_be, err, sizeof err) == AOS_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    storage_backend_free(g_be);
    json_object_put(g_reply);
    g_reply = NULL;
    temp_db_remove(g_path);
    return 0;
}

/* Run op with data; return the outcome's result; on success g_reply holds the reply. */
static aos_result call_id(const char *op, const char *event_id, const char *data,
                          storage_outcome_t *keep)
{
    char type[128];
    snprintf(type, sizeof type, "aos.storage.%s", op);
    storage_outcome_t out = {0};
    storage_dispatch_raw(g_be, &g_lim, type, event_id, data, data ? strlen(data) : 0, &out);
    json_object_put(g_reply);
    g_reply = NULL;
    aos_result r = out.result;
    if (out.action == AOS_STORAGE_REPLY) {
        char want[160];
        snprintf(want, sizeof want, "%s.result", type);
        assert_string_equal(out.reply_type, want);
        assert_int_equal(
            aos_json_parse(out.data_json, strlen(out.data_json), 0, 0, &g_reply, NULL, 0), AOS_OK);
    } else {
        assert_true(out.message[0] != '\0');
    }
    if (keep)
        *keep = out;
    else
        storage_outcome_clear(&out);
    return r;
}

static aos_result call(const char *op, const char *data)
{
    return call_id(op, "ev-1", data, NULL);
}

/* Path lookups in g_reply: "message.seq" etc. */
static json_object *at(const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    json_object *o = g_reply;
    for (char *save = NULL, *tok = strtok_r(buf, ".", &save); tok && o;
         tok = strtok_r(NULL, ".", &save))
        if (!json_object_object_get_ex(o, tok, &o))
            return NULL;
    return o;
}

static const char *str_at(const char *path)
{
    json_object *o = at(path);
    assert_non_null(o);
    return json_object_get_string(o);
}

static int64_t int_at(const char *path)
{
    json_object *o = at(path);
    assert_non_null(o);
    return json_object_get_int64(o);
}

static void test_conversation_ops(void **state)
{
    (void)state;
    assert_int_equal(call("conversation.create",
                          "{\"conversation_id\":\"c1\",\"agent\":\"cfo\",\"metadata\":{\"x\":1}}"),
                     AOS_OK);
    assert_true(json_object_get_boolean(at("created")));
    assert_string_equal(str_at("conversation.agent"), "cfo");
    assert_int_equal(int_at("conversation.metadata.x"), 1);
    assert_int_equal(call("conversation.get", "{\"conversation_id\":\"c1\"}"), AOS_OK);
    assert_int_equal(int_at("conversation.version"), 0);
    /* no id: derived from the event id, so a redelivery answers the same conversation */
    assert_int_equal(call_id("conversation.create", "e-77", "{\"agent\":\"cfo\"}", NULL), AOS_OK);
    assert_string_equal(str_at("conversation.conversation_id"), "c-e-77");
    assert_int_equal(call_id("conversation.create", "e-77", "{\"agent\":\"cfo\"}", NULL), AOS_OK);
    assert_false(json_object_get_boolean(at("created")));
    assert_int_equal(call("conversation.list", "{\"agent\":\"cfo\",\"limit\":1}"), AOS_OK);
    assert_int_equal(json_object_array_length(at("conversations")), 1);
    char next[128];
    snprintf(next, sizeof next, "{\"agent\":\"cfo\",\"limit\":1,\"cursor\":\"%s\"}",
             str_at("next_cursor"));
    assert_int_equal(call("conversation.list", next), AOS_OK);
    assert_int_equal(json_object_array_length(at("conversations")), 1);
    assert_null(json_object_object_get(g_reply, "next_cursor"));
    assert_int_equal(call("conversation.delete", "{\"conversation_id\":\"c1\"}"), AOS_OK);
    assert_true(json_object_get_boolean(at("deleted")));
    assert_int_equal(call("conversation.get", "{\"conversation_id\":\"c1\"}"), AOS_ERR_NOT_FOUND);
}

static void test_message_ops(void **state)
{
    (void)state;
    assert_int_equal(call("conversation.create", "{\"conversation_id\":\"c2\",\"agent\":\"a\"}"),
                     AOS_OK);
    const char *m1 = "{\"conversation_id\":\"c2\",\"message_id\":\"m1\",\"role\":\"user\","
                     "\"content\":\"hi \\u00e9\",\"metadata\":{\"u\":\"alice\"}}";
    assert_int_equal(call("message.append", m1), AOS_OK);
    assert_int_equal(int_at("message.seq"), 1);
    assert_true(json_object_get_boolean(at("created")));
    assert_string_equal(str_at("message.content"), "hi \xc3\xa9");
    assert_int_equal(call("message.append", m1), AOS_OK); /* idempotent */
    assert_int_equal(int_at("message.seq"), 1);
    assert_false(json_object_get_boolean(at("created")));
    assert_int_equal(call("message.append", "{\"conversation_id\":\"c2\",\"message_id\":\"m1\","
                                            "\"role\":\"user\",\"content\":\"changed\"}"),
                     AOS_ERR_CONFLICT);
    assert_int_equal(call("message.append", "{\"conversation_id\":\"c2\",\"message_id\":\"m2\","
                                            "\"role\":\"assistant\",\"content\":\"yo\","
                                            "\"expected_version\":1}"),
                     AOS_OK);
    assert_int_equal(int_at("message.seq"), 2);
    assert_int_equal(call("message.append", "{\"conversation_id\":\"c2\",\"message_id\":\"m3\","
                                            "\"role\":\"user\",\"content\":\"late\","
                                            "\"expected_version\":1}"),
                     AOS_ERR_CONFLICT);
    assert_int_equal(call("message.list", "{\"conversation_id\":\"c2\",\"limit\":1}"), AOS_OK);
    assert_string_equal(str_at("next_cursor"), "1");
    assert_int_equal(
        call("message.list", "{\"conversation_id\":\"c2\",\"limit\":1,\"cursor\":\"1\"}"), AOS_OK);
    json_object *arr = at("messages");
    assert_int_equal(json_object_array_length(arr), 1);
    assert_null(json_object_object_get(g_reply, "next_cursor"));
    assert_int_equal(call("message.list", "{\"conversation_id\":\"c2\",\"order\":\"desc\"}"),
                     AOS_OK);
    arr = at("messages");
    json_object *first = json_object_array_get_idx(arr, 0), *seq = NULL;
    json_object_object_get_ex(first, "seq", &seq);
    assert_int_equal(json_object_get_int64(seq), 2);
}

static void test_blob_ops(void **state)
{
    (void)state;
    const char *parts[] = {"hello, ", "chunked ", "world"};
    char *b64 = NULL;
    char req[512];
    assert_int_equal(call_id("blob.put.begin", "ev-b",
                             "{\"container\":\"profiles\",\"name\":\"cfo/profile.txt\","
                             "\"content_type\":\"text/plain\"}",
                             NULL),
                     AOS_OK);
    assert_string_equal(str_at("upload_id"), "u-ev-b");
    assert_int_equal(int_at("max_chunk"), 4096);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(aos_base64_encode(parts[i], strlen(parts[i]), &b64, NULL), AOS_OK);
        snprintf(req, sizeof req,
                 "{\"container\":\"profiles\",\"name\":\"cfo/profile.txt\",\"upload_id\":"
                 "\"u-ev-b\",\"index\":%d,\"data\":\"%s\"}",
                 i, b64);
        free(b64);
        assert_int_equal(call("blob.put.chunk", req), AOS_OK);
        assert_int_equal(int_at("size"), (int64_t)strlen(parts[i]));
    }
    /* sha256("hello, chunked world") */
    char sha[65];
    aos_storage_sha256_t h;
    aos_storage_sha256_init(&h);
    aos_storage_sha256_update(&h, "hello, chunked world", 20);
    aos_storage_sha256_final(&h, sha);
    snprintf(req, sizeof req,
             "{\"container\":\"profiles\",\"name\":\"cfo/profile.txt\",\"upload_id\":\"u-ev-b\","
             "\"chunk_count\":3,\"sha256\":\"%s\"}",
             sha);
    assert_int_equal(call("blob.put.commit", req), AOS_OK);
    assert_int_equal(int_at("blob.size"), 20);
    assert_string_equal(str_at("blob.sha256"), sha);
    assert_string_equal(str_at("blob.content_type"), "text/plain");
    assert_int_equal(call("blob.get", "{\"container\":\"profiles\",\"name\":\"cfo/profile.txt\","
                                      "\"offset\":7,\"length\":7}"),
                     AOS_OK);
    unsigned char buf[32];
    size_t n = 0;
    const char *data = str_at("data");
    assert_int_equal(aos_base64_decode_into(data, strlen(data), buf, sizeof buf, &n), AOS_OK);
    assert_int_equal(n, 7);
    assert_memory_equal(buf, "chunked", 7);
    assert_false(json_object_get_boolean(at("eof")));
    assert_int_equal(call("blob.get", "{\"container\":\"profiles\",\"name\":\"cfo/profile.txt\","
                                      "\"offset\":14,\"etag\":\"\\\"stale\\\"\"}"),
                     AOS_ERR_CONFLICT);
    assert_int_equal(call("blob.get", "{\"container\":\"profiles\",\"name\":\"cfo/profile.txt\","
                                      "\"offset\":14}"),
                     AOS_OK);
    assert_true(json_object_get_boolean(at("eof")));
    assert_int_equal(call("blob.head", "{\"container\":\"profiles\",\"name\":\"cfo/profile.txt\"}"),
                     AOS_OK);
    assert_int_equal(call("blob.list", "{\"container\":\"profiles\",\"prefix\":\"cfo/\"}"), AOS_OK);
    assert_int_equal(json_object_array_length(at("blobs")), 1);
    assert_int_equal(
        call("blob.delete", "{\"container\":\"profiles\",\"name\":\"cfo/profile.txt\"}"), AOS_OK);
    assert_true(json_object_get_boolean(at("deleted")));
    assert_int_equal(call("blob.head", "{\"container\":\"profiles\",\"name\":\"cfo/profile.txt\"}"),
                     AOS_ERR_NOT_FOUND);
    assert_int_equal(call("blob.put.abort", "{\"container\":\"profiles\",\"name\":\"x\","
                                            "\"upload_id\":\"u-none\"}"),
                     AOS_OK);
}

static void test_record_ops(void **state)
{
    (void)state;
    assert_int_equal(call_id("record.put", "op-1",
                             "{\"kind\":\"adapter\",\"key\":\"cfo\",\"data\":{\"status\":\"new\"}}",
                             NULL),
                     AOS_OK);
    char v1[32];
    snprintf(v1, sizeof v1, "%s", str_at("record.version"));
    assert_string_equal(str_at("record.data.status"), "new");
    char req[256];
    snprintf(req, sizeof req,
             "{\"kind\":\"adapter\",\"key\":\"cfo\",\"data\":{\"status\":\"ready\"},"
             "\"if_match\":\"%s\"}",
             v1);
    assert_int_equal(call_id("record.put", "op-2", req, NULL), AOS_OK);
    /* the same request redelivered: same answer, not a conflict */
    assert_int_equal(call_id("record.put", "op-2", req, NULL), AOS_OK);
    assert_string_equal(str_at("record.data.status"), "ready");
    /* a different writer with the stale version: conflict */
    assert_int_equal(call_id("record.put", "op-3", req, NULL), AOS_ERR_CONFLICT);
    assert_int_equal(call("record.get", "{\"kind\":\"adapter\",\"key\":\"cfo\"}"), AOS_OK);
    assert_string_equal(str_at("record.data.status"), "ready");
    assert_int_equal(call("record.list", "{\"kind\":\"adapter\",\"prefix\":\"c\"}"), AOS_OK);
    assert_int_equal(json_object_array_length(at("records")), 1);
    assert_int_equal(call("record.delete", "{\"kind\":\"adapter\",\"key\":\"cfo\"}"), AOS_OK);
    assert_true(json_object_get_boolean(at("deleted")));
    assert_int_equal(call("record.get", "{\"kind\":\"adapter\",\"key\":\"cfo\"}"),
                     AOS_ERR_NOT_FOUND);
}

/* ---- bad input ---- */

/* PRAGMA data_version of an observer connection changes when anyone else commits. */
static sqlite3 *g_observer;

static int64_t data_version(void)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(g_observer, "PRAGMA data_version", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

typedef struct bad_case {
    const char *op;
    const char *data;
    aos_result want;
} bad_case_t;

static const bad_case_t BAD[] = {
    {"nope", "{}", AOS_ERR_UNSUPPORTED},
    {"message", "{}", AOS_ERR_UNSUPPORTED},
    {"message.append", "{not json", AOS_ERR_INVALID},
    {"message.append", "[1,2]", AOS_ERR_INVALID},
    {"message.append", "{\"conversation_id\":\"c\"} trailing", AOS_ERR_INVALID},
    {"message.append", NULL, AOS_ERR_INVALID},
    {"message.append", "{\"conversation_id\":\"c\",\"message_id\":\"m9\",\"role\":\"user\"}",
     AOS_ERR_INVALID},
    {"message.append",
     "{\"conversation_id\":\"c\",\"message_id\":\"m9\",\"role\":\"user\",\"content\":5}",
     AOS_ERR_INVALID},
    {"message.append",
     "{\"conversation_id\":\"c x\",\"message_id\":\"m9\",\"role\":\"user\",\"content\":\"a\"}",
     AOS_ERR_INVALID},
    {"message.append",
     "{\"conversation_id\":\"c\",\"message_id\":\"m/9\",\"role\":\"user\",\"content\":\"a\"}",
     AOS_ERR_INVALID},
    {"message.append",
     "{\"conversation_id\":\"c\",\"message_id\":\"m9\",\"role\":\"User\",\"content\":\"a\"}",
     AOS_ERR_INVALID},
    {"message.append",
     "{\"conversation_id\":\"c\",\"message_id\":\"m9\",\"role\":\"user\",\"content\":\"a\","
     "\"metadata\":[1]}",
     AOS_ERR_INVALID},
    {"message.append",
     "{\"conversation_id\":\"c\",\"message_id\":\"m9\",\"role\":\"user\",\"content\":\"a\","
     "\"expected_version\":-1}",
     AOS_ERR_INVALID},
    {"message.append",
     "{\"conversation_id\":\"c\",\"message_id\":\"m9\",\"role\":\"user\",\"content\":\"\xff\"}",
     AOS_ERR_INVALID},
    {"message.append",
     "{\"conversation_id\":\"c\",\"message_id\":\"m9\",\"role\":\"user\",\"content\":"
     "\"a\\u0000b\"}",
     AOS_ERR_INVALID},
    {"message.list", "{\"conversation_id\":\"c\",\"limit\":0}", AOS_ERR_INVALID},
    {"message.list", "{\"conversation_id\":\"c\",\"limit\":1001}", AOS_ERR_INVALID},
    {"message.list", "{\"conversation_id\":\"c\",\"order\":\"up\"}", AOS_ERR_INVALID},
    {"message.list", "{\"conversation_id\":\"c\",\"cursor\":\"a b\"}", AOS_ERR_INVALID},
    {"message.list", "{\"conversation_id\":\"c\",\"cursor\":\"abc\"}", AOS_ERR_INVALID},
    {"conversation.create", "{\"conversation_id\":\"c9\"}", AOS_ERR_INVALID},
    {"conversation.create", "{\"conversation_id\":\"c9\",\"agent\":\"bad agent\"}",
     AOS_ERR_INVALID},
    {"conversation.delete", "{}", AOS_ERR_INVALID},
    {"blob.put.begin", "{\"container\":\"AB-data\",\"name\":\"x\"}", AOS_ERR_INVALID},
    {"blob.put.begin", "{\"container\":\"ab\",\"name\":\"x\"}", AOS_ERR_INVALID},
    {"blob.put.begin", "{\"container\":\"a--b\",\"name\":\"x\"}", AOS_ERR_INVALID},
    {"blob.put.begin", "{\"container\":\"-abc\",\"name\":\"x\"}", AOS_ERR_INVALID},
    {"blob.put.begin", "{\"container\":\"abc-\",\"name\":\"x\"}", AOS_ERR_INVALID},
    {"blob.put.begin", "{\"container\":\"data\",\"name\":\"../x\"}", AOS_ERR_INVALID},
    {"blob.put.begin", "{\"container\":\"data\",\"name\":\"/x\"}", AOS_ERR_INVALID},
    {"blob.put.begin", "{\"container\":\"data\",\"name\":\"a//b\"}", AOS_ERR_INVALID},
    {"blob.put.begin", "{\"container\":\"data\",\"name\":\"a b\"}", AOS_ERR_INVALID},
    {"blob.put.begin", "{\"container\":\"data\",\"name\":\"x\",\"content_type\":\"nothing\"}",
     AOS_ERR_INVALID},
    {"blob.put.chunk",
     "{\"container\":\"data\",\"name\":\"x\",\"upload_id\":\"u1\",\"index\":0,\"data\":\"abc\"}",
     AOS_ERR_INVALID},
    {"blob.put.chunk",
     "{\"container\":\"data\",\"name\":\"x\",\"upload_id\":\"u1\",\"index\":0,\"data\":\"a===\"}",
     AOS_ERR_INVALID},
    {"blob.put.chunk",
     "{\"container\":\"data\",\"name\":\"x\",\"upload_id\":\"u1\",\"index\":0,\"data\":\"QR==\"}",
     AOS_ERR_INVALID},
    {"blob.put.chunk",
     "{\"container\":\"data\",\"name\":\"x\",\"upload_id\":\"u1\",\"index\":-1,\"data\":\"QQ==\"}",
     AOS_ERR_INVALID},
    {"blob.put.chunk",
     "{\"container\":\"data\",\"name\":\"x\",\"upload_id\":\"u1\",\"index\":50000,"
     "\"data\":\"QQ==\"}",
     AOS_ERR_INVALID},
    {"blob.put.chunk",
     "{\"container\":\"data\",\"name\":\"x\",\"upload_id\":\"u1\",\"index\":3,\"data\":\"\"}",
     AOS_ERR_INVALID},
    {"blob.put.commit",
     "{\"container\":\"data\",\"name\":\"x\",\"upload_id\":\"u1\",\"chunk_count\":0}",
     AOS_ERR_INVALID},
    {"blob.put.commit",
     "{\"container\":\"data\",\"name\":\"x\",\"upload_id\":\"u1\",\"chunk_count\":1,"
     "\"sha256\":\"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855\"}",
     AOS_ERR_INVALID},
    {"blob.get", "{\"container\":\"data\",\"name\":\"x\",\"length\":-1}", AOS_ERR_INVALID},
    {"blob.get", "{\"container\":\"data\",\"name\":\"x\",\"offset\":-5}", AOS_ERR_INVALID},
    /* prefixes may reach names other tools wrote ("a?" is fine), not control characters */
    {"blob.list", "{\"container\":\"data\",\"prefix\":\"a\\u0001\"}", AOS_ERR_INVALID},
    {"blob.list", "{\"container\":\"data\",\"prefix\":\"a\\\\b\"}", AOS_ERR_INVALID},
    {"blob.put.begin", "{\"container\":\"data\",\"name\":\"a b\"}", AOS_ERR_INVALID},
    {"blob.get", "{\"container\":\"data\",\"name\":\"a/../b\"}", AOS_ERR_INVALID},
    {"record.put", "{\"kind\":\"user\",\"key\":\"k\",\"data\":{}}", AOS_ERR_INVALID},
    {"record.put", "{\"kind\":\"job\",\"key\":\"k\"}", AOS_ERR_INVALID},
    {"record.put", "{\"kind\":\"job\",\"key\":\"k\",\"data\":[1]}", AOS_ERR_INVALID},
    {"record.put", "{\"kind\":\"job\",\"key\":\"k\",\"data\":{},\"if_match\":7}", AOS_ERR_INVALID},
    {"record.delete", "{\"kind\":\"job\",\"key\":\"\"}", AOS_ERR_INVALID},
};

static void expect_bad(const char *op, const char *data, aos_result want)
{
    aos_result got = call(op, data);
    if (got != want)
        fail_msg("%s %s: got %s, want %s", op, data ? data : "(none)", aos_result_code(got),
                 aos_result_code(want));
}

static void test_bad_input_writes_nothing(void **state)
{
    (void)state;
    assert_int_equal(call("conversation.create", "{\"conversation_id\":\"c\",\"agent\":\"a\"}"),
                     AOS_OK);
    assert_int_equal(sqlite3_open(g_path, &g_observer), SQLITE_OK);
    int64_t before = data_version();
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++)
        expect_bad(BAD[i].op, BAD[i].data, BAD[i].want);

    /* oversized: one chunk over the limit, content over its limit, the whole payload */
    size_t big = 5000;
    unsigned char *raw = calloc(1, big);
    char *b64 = NULL;
    assert_int_equal(aos_base64_encode(raw, big, &b64, NULL), AOS_OK);
    char *req = malloc(big * 2 + 4096);
    sprintf(req,
            "{\"container\":\"data\",\"name\":\"x\",\"upload_id\":\"u1\",\"index\":0,"
            "\"data\":\"%s\"}",
            b64);
    expect_bad("blob.put.chunk", req, AOS_ERR_TOO_LARGE);
    free(b64);
    free(raw);
    free(req);
    size_t clen = AOS_STORAGE_CONTENT_MAX + 1;
    req = malloc(clen + 256);
    int n = sprintf(req, "{\"conversation_id\":\"c\",\"message_id\":\"m9\",\"role\":\"user\","
                         "\"content\":\"");
    memset(req + n, 'a', clen);
    strcpy(req + n + clen, "\"}");
    expect_bad("message.append", req, AOS_ERR_TOO_LARGE);
    free(req);
    size_t huge = storage_request_max_bytes(&g_lim) + 10;
    req = malloc(huge + 1);
    memset(req, ' ', huge);
    req[0] = '{';
    req[huge - 1] = '}';
    req[huge] = '\0';
    expect_bad("message.append", req, AOS_ERR_TOO_LARGE);
    free(req);

    /* a non-storage type and a non-JSON content type */
    storage_outcome_t out = {0};
    storage_dispatch_raw(g_be, &g_lim, "aos.agent.turn", "e", "{}", 2, &out);
    assert_int_equal(out.action, AOS_STORAGE_REPLY_ERROR);
    assert_int_equal(out.result, AOS_ERR_UNSUPPORTED);
    storage_outcome_clear(&out);
    aos_event_t ev = {.id = "e",
                      .type = "aos.storage.conversation.get",
                      .source = "/t",
                      .datacontenttype = "text/plain",
                      .data = "{}",
                      .data_len = 2};
    storage_dispatch(g_be, &g_lim, &ev, &out);
    assert_int_equal(out.result, AOS_ERR_INVALID);
    storage_outcome_clear(&out);

    assert_int_equal(data_version(), before); /* nothing was written */
    sqlite3_close(g_observer);
    g_observer = NULL;
}

static void test_unavailable_releases(void **state)
{
    (void)state;
    assert_int_equal(call("conversation.create", "{\"conversation_id\":\"c\",\"agent\":\"a\"}"),
                     AOS_OK);
    sqlite3 *locker = NULL;
    assert_int_equal(sqlite3_open(g_path, &locker), SQLITE_OK);
    assert_int_equal(sqlite3_exec(locker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    const char *m = "{\"conversation_id\":\"c\",\"message_id\":\"m1\",\"role\":\"user\","
                    "\"content\":\"while locked\"}";
    storage_outcome_t out = {0};
    assert_int_equal(call_id("message.append", "e1", m, &out), AOS_ERR_UNAVAILABLE);
    assert_int_equal(out.action, AOS_STORAGE_RELEASE);
    assert_null(out.data_json);
    storage_outcome_clear(&out);
    char err[128];
    assert_int_equal(g_be->ops->health(g_be, err, sizeof err), AOS_ERR_UNAVAILABLE);
    assert_int_equal(sqlite3_exec(locker, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(locker);
    assert_int_equal(g_be->ops->health(g_be, err, sizeof err), AOS_OK);
    assert_int_equal(call_id("message.append", "e1", m, NULL), AOS_OK); /* the redelivery */
    assert_int_equal(int_at("message.seq"), 1);
}

/* Six turns of ~60 KB: a list reply never outgrows Service Bus Standard's 256 KiB message
 * limit; it stops at the reply budget with a cursor, and the cursor yields the rest. */
static void test_large_history_paged(void **state)
{
    (void)state;
    assert_int_equal(call("conversation.create", "{\"conversation_id\":\"big\",\"agent\":\"a\"}"),
                     AOS_OK);
    size_t big = 60 * 1024;
    char *text = malloc(big + 1);
    memset(text, 'x', big);
    text[big] = '\0';
    char *req = malloc(big + 256);
    for (int i = 1; i <= 6; i++) {
        snprintf(req, big + 256,
                 "{\"conversation_id\":\"big\",\"message_id\":\"b%d\",\"role\":\"%s\","
                 "\"content\":\"%s\"}",
                 i, i % 2 ? "user" : "assistant", text);
        assert_int_equal(call("message.append", req), AOS_OK);
    }
    int seen = 0;
    char cursor[64] = "";
    for (int page = 0; page < 10; page++) {
        snprintf(req, big + 256, "{\"conversation_id\":\"big\",\"limit\":100%s%s%s}",
                 cursor[0] ? ",\"cursor\":\"" : "", cursor, cursor[0] ? "\"" : "");
        assert_int_equal(call("message.list", req), AOS_OK);
        size_t len = strlen(json_object_to_json_string_ext(g_reply, JSON_C_TO_STRING_PLAIN));
        assert_true(len < 256 * 1024 - 8 * 1024); /* room for the envelope */
        json_object *arr = at("messages");
        int n = (int)json_object_array_length(arr);
        assert_true(n >= 1);
        assert_true(n < 6); /* 360 KB do not fit one reply */
        seen += n;
        json_object *next = at("next_cursor");
        if (!next || json_object_is_type(next, json_type_null))
            break;
        snprintf(cursor, sizeof cursor, "%s", json_object_get_string(next));
    }
    assert_int_equal(seen, 6);
    free(req);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_conversation_ops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_message_ops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_history_paged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blob_ops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record_ops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input_writes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unavailable_releases, setup, teardown),
    };
    return cmocka_run_group_tests_name("dispatch", tests, NULL, NULL);
}
