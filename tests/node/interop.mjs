// Azure SDK interop test (issue 3 item 3), run by ctest against the Azurite fixture:
//   node interop.mjs <path to azure_interop>
// 1. C writes through the aos-storage Azure backend; Microsoft's SDKs (@azure/data-tables,
//    @azure/storage-blob) read it back in the layout of docs/azure-storage-layout.md.
// 2. The SDKs write in that layout; the C backend reads it (and keeps working on it).
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";

import { TableClient, odata } from "@azure/data-tables";
import { BlobServiceClient } from "@azure/storage-blob";

const tool = process.argv[2];
if (!tool) {
  console.error("usage: node interop.mjs <azure_interop binary>");
  process.exit(2);
}
const fixtures = process.env.AOS_TEST_FIXTURES_DIR ?? "fixtures";
const conn = readFileSync(join(fixtures, "azurite", "connection_string"), "utf8").trim();
const prefix = "i" + randomBytes(4).toString("hex");
const table = (name) =>
  TableClient.fromConnectionString(conn, `aos${prefix}${name}`, { allowInsecureConnection: true });
const blobs = BlobServiceClient.fromConnectionString(conn);
const int64 = (v) => (v !== null && typeof v === "object" ? Number(v.value) : Number(v));
const seqKey = (n) => String(n).padStart(19, "0");
const sha256 = (buf) => createHash("sha256").update(buf).digest("hex");

// Reassemble a text property that may be split over <name>, <name>_1, ... (<name>_parts).
function text(entity, name) {
  const parts = entity[`${name}_parts`] === undefined ? 1 : int64(entity[`${name}_parts`]);
  let s = entity[name];
  for (let i = 1; i < parts; i++) s += entity[`${name}_${i}`];
  return s;
}

async function cToSdk() {
  const out = execFileSync(tool, ["write", conn, prefix], { encoding: "utf8" });
  const summary = JSON.parse(out.trim().split("\n").pop());

  const conv = await table("conversations").getEntity("interop-conv", "conversation");
  assert.equal(conv.Agent, "cfo");
  assert.deepEqual(JSON.parse(text(conv, "Metadata")), { channel: "teams" });
  assert.ok(int64(conv.CreatedMs) > 1.7e12);

  const messages = table("messages");
  const head = await messages.getEntity("interop-conv", "head");
  assert.equal(int64(head.Version), 3);
  const rows = [];
  const filter = odata`PartitionKey eq ${"interop-conv"} and RowKey ge ${seqKey(1)} and RowKey le ${seqKey(3)}`;
  for await (const e of messages.listEntities({ queryOptions: { filter } })) rows.push(e);
  assert.equal(rows.length, 3);
  assert.deepEqual(rows.map((r) => r.Id), ["m-1", "m-2", "m-3"]);
  assert.deepEqual(rows.map((r) => r.Role), ["user", "assistant", "user"]);
  assert.deepEqual(rows.map((r) => int64(r.Seq)), [1, 2, 3]);
  assert.equal(text(rows[0], "Content"), "What is the Q3 budget? It's \"tight\" & <urgent>.");
  assert.equal(text(rows[1], "Content"), summary.long_text); // split over several properties
  assert.ok(int64(rows[1].Content_parts) > 1);
  assert.equal(text(rows[2], "Content"), "Thanks \u2713");
  const idx = await messages.getEntity("interop-conv", "id:m-2");
  assert.equal(int64(idx.Seq), 2);

  const blob = blobs.getContainerClient("aos-interop").getBlobClient("profiles/cfo.json");
  const body = await blob.downloadToBuffer();
  assert.equal(body.toString(), '{"name":"cfo","purpose":"finance"}');
  const props = await blob.getProperties();
  assert.equal(props.contentType, "application/json");
  assert.equal(props.metadata.aossha256, sha256(body));
  assert.equal(summary.blob_sha256, sha256(body));

  const rec = await table("records").getEntity("adapter", "cfo-lora");
  assert.deepEqual(JSON.parse(text(rec, "Data")), { status: "ready", rank: 8 });
  assert.equal(rec.etag, summary.record_version);
  console.log("C -> SDK: conversation, 3 messages, blob and record read back by the SDKs");
}

async function sdkToC() {
  const Int64 = (n) => ({ value: String(n), type: "Int64" });
  const convs = table("conversations");
  const messages = table("messages");
  const records = table("records");
  // the C side created these tables when it opened the backend in cToSdk()
  await convs.createEntity({
    partitionKey: "sdk-conv", rowKey: "conversation", Agent: "ceo",
    Metadata: '{"from":"sdk"}', CreatedMs: Int64(Date.now()),
  });
  const msgs = [
    { id: "s-1", role: "user", content: "Hello from the SDK, with 'quotes'" },
    { id: "s-2", role: "assistant", content: "Reply \u00e9\u00e8" },
  ];
  const actions = [["create", { partitionKey: "sdk-conv", rowKey: "head", Version: Int64(2), UpdatedMs: Int64(Date.now()) }]];
  msgs.forEach((m, i) => {
    actions.push(["create", {
      partitionKey: "sdk-conv", rowKey: seqKey(i + 1), Id: m.id, Role: m.role, Content: m.content,
      Metadata: "{}", Seq: Int64(i + 1), CreatedMs: Int64(Date.now()),
    }]);
    actions.push(["create", { partitionKey: "sdk-conv", rowKey: `id:${m.id}`, Seq: Int64(i + 1) }]);
  });
  await messages.submitTransaction(actions);
  await records.createEntity({
    partitionKey: "job", rowKey: "sdk-job", Data: '{"state":"running"}', UpdatedMs: Int64(Date.now()),
  });

  const blobText = '{"prompt":"a","completion":"b"}\n{"prompt":"c","completion":"d"}\n';
  const container = blobs.getContainerClient("aos-interop-sdk");
  await container.createIfNotExists();
  await container.getBlockBlobClient("data/train.jsonl").upload(blobText, Buffer.byteLength(blobText), {
    blobHTTPHeaders: { blobContentType: "application/jsonl" },
    metadata: { aossha256: sha256(Buffer.from(blobText)) },
  });

  const dir = mkdtempSync(join(tmpdir(), "aos-interop-"));
  try {
    const expect = join(dir, "expect.json");
    writeFileSync(expect, JSON.stringify({ messages: msgs, blob_text: blobText, blob_sha256: sha256(Buffer.from(blobText)) }));
    execFileSync(tool, ["read", conn, prefix, expect], { stdio: "inherit" });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // what C appended after the SDK's messages is visible to the SDK, in order
  const third = await messages.getEntity("sdk-conv", seqKey(3));
  assert.equal(third.Id, "c-side");
  assert.equal(text(third, "Content"), "reply from C");
  const head = await messages.getEntity("sdk-conv", "head");
  assert.equal(int64(head.Version), 3);
  const job = await records.getEntity("job", "sdk-job");
  assert.deepEqual(JSON.parse(text(job, "Data")), { state: "done" });
  console.log("SDK -> C: conversation, messages, blob and record read (and extended) by C");
}

try {
  await cToSdk();
  await sdkToC();
  console.log("interop OK");
} catch (err) {
  console.error("interop FAILED:", err);
  process.exit(1);
}
