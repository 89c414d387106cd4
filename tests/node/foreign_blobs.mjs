// Blobs written by others (issue 8 item 7; docs/storage.md "Blobs written by others"), run by
// ctest against the Azurite and RabbitMQ fixtures:
//   node foreign_blobs.mjs <bin dir> <source dir>
// Microsoft's @azure/storage-blob writes blobs the way the portal, azcopy or an application
// would: no aossha256 metadata; with the service's own Content-MD5 (single Put Blob), with a
// Content-MD5 set by the client only, staged in blocks with no checksum at all, a wrong
// Content-MD5, binary content, a name with spaces, a blob bigger than one storage chunk. Then
// every AOS path reads them through aos-storage's Azure backend: `aosctl blob ls/get`, the ML
// pipeline's training-data validation, and an agent's domain knowledge (a document that cannot
// be read degrades that turn, logged and counted, and the agent keeps answering).
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import assert from "node:assert/strict";

import { BlobServiceClient } from "@azure/storage-blob";

import { Amqp, Proc, fixture, metricValue, queueAddress, tag, tempDir, waitFor } from "./aos_stack.mjs";

const [binDir, srcDir] = process.argv.slice(2);
if (!binDir || !srcDir) {
  console.error("usage: node foreign_blobs.mjs <bin dir> <source dir>");
  process.exit(2);
}
const run = promisify(execFile);
const conn = fixture("azurite", "connection_string");
const busUrl = fixture("rabbitmq", "url");
const t = tag();
const containerName = `foreign-${t}`;
const STORAGE_Q = "aos.test.xstorage";
const ML_Q = "aos.test.xml";
const AGENT = "xknow";
const md5 = (b) => createHash("md5").update(b).digest();

const dir = tempDir("foreign");
const procs = [];
const bus = new Amqp(busUrl);

// ---- what the SDK writes ----
const text = (s) => Buffer.from(s, "utf8");
const files = {
  "docs/plain.md": text("# Plain\nUploaded in one Put Blob: the service computed its Content-MD5.\n"),
  "docs/md5only.txt": text("Content-MD5 given by the client, no AOS metadata \u2713\n"),
  "docs/blocks.md": text("Staged in three blocks, committed with no checksum at all.\n".repeat(3)),
  "docs/Q3 report.md": text("A name with spaces, as the portal allows.\n"),
  "docs/badmd5.md": text("This blob's Content-MD5 does not match its content.\n"),
  "docs/binary.bin": randomBytes(3000),
  "docs/big.txt": text("0123456789abcdef".repeat(20000)), // 320 KB: several storage chunks
  "data/train.jsonl": text(
    Array.from({ length: 12 }, (_, i) => JSON.stringify({ prompt: `q${i}`, completion: `a${i}` })).join("\n") + "\n"),
};

async function writeWithSdk() {
  const blobs = BlobServiceClient.fromConnectionString(conn);
  const c = blobs.getContainerClient(containerName);
  await c.create();
  const bb = (n) => c.getBlockBlobClient(n);
  for (const n of ["docs/plain.md", "docs/Q3 report.md", "docs/badmd5.md"])
    await bb(n).upload(files[n], files[n].length, { blobHTTPHeaders: { blobContentType: "text/markdown" } });
  await bb("docs/md5only.txt").upload(files["docs/md5only.txt"], files["docs/md5only.txt"].length, {
    blobHTTPHeaders: { blobContentType: "text/plain", blobContentMD5: md5(files["docs/md5only.txt"]) },
  });
  const parts = [0, 1, 2].map((i) => files["docs/blocks.md"].subarray(i * 59, (i + 1) * 59));
  const ids = parts.map((_, i) => Buffer.from(`block-${i}`).toString("base64"));
  for (let i = 0; i < 3; i++) await bb("docs/blocks.md").stageBlock(ids[i], parts[i], parts[i].length);
  await bb("docs/blocks.md").commitBlockList(ids, { blobHTTPHeaders: { blobContentType: "text/markdown" } });
  // a wrong Content-MD5 (as a buggy tool might leave): set after the upload
  await bb("docs/badmd5.md").setHTTPHeaders({ blobContentType: "text/markdown", blobContentMD5: md5(text("other")) });
  await bb("docs/binary.bin").uploadData(files["docs/binary.bin"]);
  await bb("docs/big.txt").uploadData(files["docs/big.txt"], { blockSize: 100 * 1024, maxSingleShotSize: 64 * 1024 });
  await bb("data/train.jsonl").uploadData(files["data/train.jsonl"], { blockSize: 64, maxSingleShotSize: 64, concurrency: 2 });
  // the SDK sees no AOS metadata on any of them
  for await (const b of c.listBlobsFlat({ includeMetadata: true }))
    assert.equal(b.metadata?.aossha256, undefined, b.name);
  const props = await bb("docs/blocks.md").getProperties();
  assert.equal(props.contentMD5, undefined, "a block list committed without MD5 has none");
}

// ---- the AOS side ----
const commonEnv = {
  AOS_BUS_URL: busUrl, AOS_BUS_PROFILE: "rabbitmq", AOS_STORAGE_QUEUE: STORAGE_Q, AOS_LOG_LEVEL: "info",
};

function writeConfig() {
  const cfg = {
    default_agent: AGENT,
    settings: { storage_timeout_ms: 10000, heartbeat_interval_ms: 1000 },
    agents: [{
      name: AGENT, purpose: "You answer from your documents.", max_history: 10,
      domain_knowledge: ["docs/plain.md", "docs/md5only.txt", "docs/blocks.md", "docs/badmd5.md",
        "docs/binary.bin", "docs/missing.md"].map((name) => ({ container: containerName, name })),
    }],
  };
  const path = join(dir, "aos.json");
  writeFileSync(path, JSON.stringify(cfg));
  return path;
}

async function startStack(config) {
  const storage = new Proc(join(binDir, "aos-storage"), "storage", dir, {
    ...commonEnv, AOS_STORAGE_BACKEND: "azure", AZURE_STORAGE_CONNECTION_STRING: conn,
    AOS_STORAGE_NAME_PREFIX: `x${t}`, AOS_INSTANCE_ID: `xstorage-${t}`,
  });
  procs.push(storage);
  await storage.start();
  const ml = new Proc(join(binDir, "aos-ml-pipeline"), "ml", dir, {
    ...commonEnv, AOS_ML_QUEUE: ML_Q, AOS_CONFIG: config, AOS_INSTANCE_ID: `xml-${t}`,
    AOS_ML_TRAINER_CMD: join(srcDir, "tests/ml/test_trainer.sh"), AOS_ML_WORKDIR: join(dir, "ml"),
  });
  procs.push(ml);
  const runner = new Proc(join(binDir, "aos-agent-runner"), "runner", dir, {
    ...commonEnv, AOS_CONFIG: config, AOS_AGENTS: AGENT, AOS_INSTANCE_ID: `xrunner-${t}`,
    AOS_SHUTDOWN_GRACE: "5s",
  });
  procs.push(runner);
  await Promise.all([ml.start(), runner.start()]);
  return { storage, ml, runner };
}

async function aosctl(...args) {
  try {
    const { stdout, stderr } = await run(join(binDir, "aosctl"), args, {
      env: { ...process.env, ...commonEnv, AOS_DEV_MODE: "1" }, encoding: "buffer", maxBuffer: 1 << 24, timeout: 60000,
    });
    return { code: 0, stdout, stderr: stderr.toString() };
  } catch (e) {
    if (e.code === undefined || typeof e.code !== "number") throw e;
    return { code: e.code, stdout: e.stdout, stderr: e.stderr.toString() };
  }
}

async function checkAosctl() {
  const ls = await aosctl("blob", "ls", containerName, "docs/");
  assert.equal(ls.code, 0, `aosctl blob ls failed: ${ls.stderr}`);
  const listed = ls.stdout.toString();
  for (const n of Object.keys(files).filter((n) => n.startsWith("docs/")))
    assert.ok(listed.includes(n), `ls lists ${n}:\n${listed}`);
  const all = await aosctl("blob", "ls", containerName);
  assert.equal(all.code, 0, `aosctl blob ls (whole container) failed: ${all.stderr}`);
  assert.ok(all.stdout.toString().includes("data/train.jsonl"));

  for (const [n, want] of Object.entries(files)) {
    if (n === "docs/badmd5.md") continue;
    const out = join(dir, "got");
    const got = await aosctl("blob", "get", containerName, n, out);
    assert.equal(got.code, 0, `aosctl blob get ${n} failed: ${got.stderr}`);
    assert.ok(readFileSync(out).equals(want), `aosctl blob get ${n}: content differs`);
  }
  // a blob whose Content-MD5 does not match is refused, not handed out
  const bad = await aosctl("blob", "get", containerName, "docs/badmd5.md", join(dir, "bad"));
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /checksum/);
  console.log("aosctl blob ls/get: SDK-written blobs listed and read (a wrong Content-MD5 refused)");
}

async function checkMl() {
  const reply = await bus.request(queueAddress(ML_Q), {
    type: "aos.ml.train_adapter",
    data: { agent: AGENT, base_model: "test:ok", data: { container: containerName, name: "data/train.jsonl" } },
  });
  assert.equal(reply.type, "aos.ml.train_adapter.result", JSON.stringify(reply.data));
  const jobId = reply.data.job_id;
  const job = await waitFor("the training job to end", async () => {
    const r = await bus.request(queueAddress(ML_Q), { type: "aos.ml.get_job", data: { job_id: jobId } });
    return ["succeeded", "failed", "cancelled"].includes(r.data.state) ? r.data : null;
  }, 120000, 500);
  assert.equal(job.state, "succeeded", `job: ${JSON.stringify(job)}`);
  assert.equal(job.examples, 12);
  console.log("ML: training data written in 64-byte blocks by the SDK validated and trained on");
}

async function checkKnowledge(runner) {
  for (let i = 0; i < 2; i++) {
    const conv = `c-x-${t}-${i}`;
    const msg = `m-x-${t}-${i}`;
    const reply = await bus.request(queueAddress(`aos.agent.${AGENT}`), {
      id: msg, type: "aos.agent.turn",
      data: { conversation_id: conv, message_id: msg, agent: AGENT, text: `question ${i}`, kind: "query" },
    }, { group_id: conv }, 120000);
    assert.equal(reply.type, "aos.agent.turn.result", JSON.stringify(reply.data));
    // plain, md5only and blocks are used; badmd5, binary and missing are left out
    assert.match(reply.data.reply, /3 domain knowledge documents/, reply.data.reply);
  }
  const m = await runner.metrics();
  assert.ok(metricValue(m, "aos_runner_knowledge_skipped_total", { agent: AGENT, reason: "protocol_error" }) >= 1 ||
    metricValue(m, "aos_runner_knowledge_skipped_total", { agent: AGENT }) >= 3,
    `knowledge skips counted:\n${m.split("\n").filter((l) => l.includes("knowledge")).join("\n")}`);
  assert.ok(metricValue(m, "aos_runner_knowledge_skipped_total", { agent: AGENT }) >= 3);
  assert.equal(metricValue(m, "aos_runner_turns_total", { agent: AGENT, outcome: "dead_lettered" }), 0);
  console.log("knowledge: SDK-written documents used; unreadable ones skipped and counted; turns answered");
}

let failed = false;
try {
  await writeWithSdk();
  const { runner } = await startStack(writeConfig());
  await bus.open();
  await checkAosctl();
  await checkMl();
  await checkKnowledge(runner);
  console.log("foreign blobs OK");
} catch (err) {
  failed = true;
  console.error("foreign blobs FAILED:", err);
  for (const p of procs) p.dumpLog();
} finally {
  bus.close();
  for (const p of procs.reverse()) await p.stop();
  if (!failed) rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
