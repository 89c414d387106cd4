// The servicebus profile end to end (issue 8): the Service Bus test peer (aos-sb-peer, TLS with
// a test CA made here with the openssl CLI, CBS put-token with the SAS signature verified) and
// Microsoft's SDK (servicebus_sdk.mjs, run as a separate process with NODE_EXTRA_CA_CERTS).
//
//   node servicebus_stack.mjs peer  <build-dir>   the peer alone, checked with the SDK
//   node servicebus_stack.mjs stack <build-dir>   aos-storage, aos-ml-pipeline, aos-agent-runner
//        and two aos-router replicas as processes with AOS_BUS_PROFILE=servicebus and
//        AOS_SERVICEBUS_CONNECTION_STRING only; an HTTP turn through the router; both routers
//        see every runner's heartbeats; then the SDK as an outside application (a turn on the
//        agent queue, aos.events from a subscription, a CloudEvent on aos.ingress).
//   node servicebus_stack.mjs rabbitmq <build-dir>  the ingress queue on the local profile:
//        storage, runner and router on the RabbitMQ fixture; a CloudEvent published twice to
//        /amq/queue/aos.ingress with rhea (an AMQP 1.0 client) becomes one event turn.
//   In stack and rabbitmq mode the model is the OpenAI-compatible fake (tests/fakes/openai),
//   and bigTurns() sends the largest message the router accepts (256 KiB) whose answer is as
//   large, then a turn whose context holds both (issue 8 item 5: the claim check; on the peer
//   every bus message is limited to 256 KiB like Service Bus Standard).
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const [mode, buildDir] = process.argv.slice(2);
if (!["peer", "stack", "rabbitmq"].includes(mode) || !buildDir) {
  console.error("usage: node servicebus_stack.mjs peer|stack|rabbitmq <build-dir>");
  process.exit(2);
}
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aos-sbstack-"));
const procs = [];
const log = (s) => console.log(`stack: ${s}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function openssl(...args) {
  execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
}

// A CA and a server certificate for localhost / 127.0.0.1 signed by it.
function makeCerts() {
  const f = (n) => path.join(dir, n);
  openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f("ca.key"), "-out", f("ca.pem"),
    "-days", "2", "-subj", "/CN=AOS test CA");
  openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f("server.key"), "-out", f("server.csr"),
    "-subj", "/CN=localhost");
  fs.writeFileSync(f("san.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  openssl("x509", "-req", "-in", f("server.csr"), "-CA", f("ca.pem"), "-CAkey", f("ca.key"),
    "-CAcreateserial", "-out", f("server.pem"), "-days", "2", "-extfile", f("san.ext"));
  return { ca: f("ca.pem"), cert: f("server.pem"), key: f("server.key") };
}

function start(name, cmd, args, env) {
  const out = fs.openSync(path.join(dir, `${name}.log`), "a");
  const p = spawn(cmd, args, { env, stdio: ["ignore", out, out] });
  p.name = name;
  p.exited = new Promise((r) => p.on("exit", (code, sig) => r({ code, sig })));
  procs.push(p);
  return p;
}

async function waitFor(what, fn, timeoutMs = 90000) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

// Run a node script; resolves { code, out } (its stdout, also echoed).
function runNode(script, args, env) {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [path.join(here, script), ...args], { env, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    p.stdout.on("data", (b) => {
      out += b;
      process.stdout.write(b);
    });
    p.on("exit", (code) => resolve({ code, out }));
  });
}

async function http(method, url, body, headers = {}) {
  const r = await fetch(url, {
    method,
    headers: body ? { "content-type": "application/json", ...headers } : headers,
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(60000),
  });
  const text = await r.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: r.status, json, text };
}

// Services first (they settle and detach while the peer is still there), then the peer.
async function stopAll() {
  const alive = (p) => p.exitCode === null && p.signalCode === null;
  const services = procs.filter((p) => p.name !== "aos-sb-peer" && p.name !== "fake-model");
  const peers = procs.filter((p) => p.name === "aos-sb-peer" || p.name === "fake-model");
  for (const group of [services, peers]) {
    for (const p of group) if (alive(p)) p.kill("SIGTERM");
    await Promise.race([Promise.all(group.map((p) => p.exited)), sleep(30000)]);
    for (const p of group) if (alive(p)) p.kill("SIGKILL");
  }
}

function dumpLogs() {
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith(".log"))) {
    const t = fs.readFileSync(path.join(dir, f), "utf8");
    console.log(`----- ${f} (last 60 lines) -----\n${t.split("\n").slice(-60).join("\n")}`);
  }
}

const bin = (n) => path.join(buildDir, "bin", n);

// The sample agents without model endpoints or knowledge (offline), default subscribed to
// com.example.invoice.* events.
function writeConfig() {
  const config = path.join(dir, "aos.json");
  const sample = JSON.parse(fs.readFileSync(path.join(here, "..", "..", "deploy", "config", "aos.json"), "utf8"));
  for (const a of sample.agents) {
    delete a.endpoint;
    delete a.endpoints;
    delete a.domain_knowledge;
  }
  sample.settings = { ...(sample.settings || {}), max_text_bytes: MAX_TEXT };
  const def = sample.agents.find((a) => a.name === "default") || sample.agents[0];
  def.event_subscriptions = [...(def.event_subscriptions || []), "com.example.invoice.*"];
  fs.writeFileSync(config, JSON.stringify(sample, null, 2));
  return config;
}

function serviceStarter(base) {
  return async (name, binary, extra = {}) => {
    const h = await freePort(), a = await freePort();
    start(name, bin(binary), [], { ...base, AOS_HTTP_ADDR: `127.0.0.1:${h}`, AOS_ADMIN_ADDR: `127.0.0.1:${a}`,
      AOS_INSTANCE_ID: `${name}-${process.pid}`, ...extra });
    return { name, http: `http://127.0.0.1:${h}`, admin: `http://127.0.0.1:${a}` };
  };
}

async function waitReady(services) {
  for (const s of services) {
    await waitFor(`${s.name} ready`, async () => (await http("GET", `${s.admin}/readyz`)).status === 200);
    log(`${s.name} ready`);
  }
}

// Every message of a conversation (all pages) through a router.
async function conversationMessages(router, id) {
  const msgs = [];
  for (let cursor = null, page = 0; page < 50; page++) {
    const q = cursor ? `?cursor=${encodeURIComponent(cursor)}` : "";
    const c = await http("GET", `${router.http}/v1/conversations/${id}${q}`);
    if (c.status === 404) return [];
    assert.equal(c.status, 200, c.text);
    msgs.push(...(c.json.messages || []));
    cursor = c.json.next_cursor;
    if (!cursor) break;
  }
  return msgs;
}

// The router's turn id for an event: "ev-" + first 16 bytes of sha256(agent\nsource\nid\n).
const eventTurnId = (agent, source, id) =>
  "ev-" + createHash("sha256").update(`${agent}\n${source}\n${id}\n`).digest("hex").slice(0, 32);

// RabbitMQ: publish a CloudEvent (AMQP binding, binary mode) twice to the ingress queue.
async function publishRabbit(url, address, id) {
  const rhea = (await import("rhea")).default;
  const u = new URL(url);
  const c = rhea.create_container();
  const conn = c.connect({ host: u.hostname, port: Number(u.port || 5672), username: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password), reconnect: false });
  const sender = conn.open_sender(address);
  await new Promise((resolve, reject) => {
    let accepted = 0;
    const msg = () => ({
      message_id: id, content_type: "application/json",
      application_properties: { "cloudEvents:specversion": "1.0", "cloudEvents:id": id,
        "cloudEvents:type": "com.example.invoice.overdue", "cloudEvents:source": "urn:example:billing",
        "cloudEvents:subject": "INV-7" },
      body: rhea.message.data_section(Buffer.from(JSON.stringify({ invoice: "INV-7", amount: 99 }))),
    });
    sender.once("sendable", () => { sender.send(msg()); sender.send(msg()); });
    sender.on("accepted", () => { if (++accepted === 2) resolve(); });
    sender.on("rejected", (ctx) => reject(new Error(`rejected: ${JSON.stringify(ctx.delivery.remote_state)}`)));
    conn.on("connection_error", (ctx) => reject(ctx.connection.error));
    setTimeout(() => reject(new Error("publish timed out")), 30000);
  });
  conn.close();
}
// The fake model server (tests/fakes/openai); resolves its base URL.
async function startFakeModel() {
  const portFile = path.join(dir, "fake-model.port");
  start("fake-model", process.execPath, [path.join(here, "..", "fakes", "openai", "server.js"), "--port-file", portFile],
    { PATH: process.env.PATH });
  const port = await waitFor("the fake model's port", () => fs.existsSync(portFile) && Number(fs.readFileSync(portFile, "utf8")), 20000);
  return `http://127.0.0.1:${port}`;
}
const modelEnv = (url) => ({ AOS_OPENAI_BASE_URL: `${url}/v1`, AOS_RUNNER_PROMPT_BUDGET: "2000000" });
const MAX_TEXT = 256 * 1024; // settings.max_text_bytes in writeConfig = the storage content limit

// Issue 8 item 5: a 256 KiB message and its 256 KiB answer through the whole stack (every hop
// over the 256 KiB bus limit travels by reference), then a turn whose context holds both.
async function bigTurns(router, model, runner) {
  const tag = randomBytes(4).toString("hex");
  const text = `big-${tag} ` + "B".repeat(MAX_TEXT - 5 - tag.length);
  assert.equal(Buffer.byteLength(text), MAX_TEXT);
  const r1 = await http("POST", `${router.http}/v1/messages`, { text, agent: "default" });
  assert.equal(r1.status, 200, `a ${MAX_TEXT}-byte message: ${r1.text.slice(0, 300)}`);
  const conv = r1.json.conversation_id;
  assert.equal(r1.json.reply.length, MAX_TEXT, "the answer as large (cut at the content limit)");
  assert.ok(r1.json.reply.startsWith(`fake reply: big-${tag} BBB`), r1.json.reply.slice(0, 80));
  log(`a ${MAX_TEXT}-byte message answered with ${r1.json.reply.length} bytes: ok`);
  const r2 = await http("POST", `${router.http}/v1/messages`, { text: `and now? ${tag}`, conversation_id: conv });
  assert.equal(r2.status, 200, `the next turn: ${r2.text.slice(0, 300)}`);
  const last = await http("GET", `${model}/_last`);
  const sent = last.json.body.messages;
  assert.ok(sent.some((m) => m.role === "user" && m.content === text), "the big message in the next turn's prompt");
  assert.ok(sent.some((m) => m.role === "assistant" && m.content === r1.json.reply), "the big answer in the next turn's prompt");
  log("the next turn's context holds both big messages: ok");
  const msgs = await conversationMessages(router, conv);
  assert.deepEqual(msgs.map((m) => [m.role, Buffer.byteLength(m.content)]),
    [["user", MAX_TEXT], ["assistant", MAX_TEXT], ["user", Buffer.byteLength(`and now? ${tag}`)], ["assistant", r2.json.reply.length]]);
  log("the conversation reads back whole (each page holds one huge message): ok");
  const r3 = await http("POST", `${router.http}/v1/messages`, { text: text + "B", conversation_id: conv });
  assert.equal(r3.status, 413, r3.text.slice(0, 300));
  assert.equal(r3.json.error.code, "too_large", r3.text);
  log(`${MAX_TEXT + 1} bytes: 413 too_large: ok`);
  // every hop settled: no turn was dead-lettered (a reply or event that could not travel is)
  const metrics = (await http("GET", `${runner.admin}/metrics`)).text;
  const dead = metrics.split("\n").filter((l) => l.startsWith("aos_runner_turns_total") &&
    l.includes('outcome="dead_lettered"') && !/ 0$/.test(l));
  assert.deepEqual(dead, [], "no dead-lettered turns");
  log("no turn dead-lettered: ok");
}

const keyName = "aos-services";
const key = randomBytes(32).toString("base64");
// The ingress queue on the local profile (RabbitMQ fixture).
async function rabbitIngress() {
  const fixtures = process.env.AOS_TEST_FIXTURES_DIR || path.join(buildDir, "fixtures");
  const url = fs.readFileSync(path.join(fixtures, "rabbitmq", "url"), "utf8").trim();
  const base = {
    PATH: process.env.PATH,
    AOS_DEV_MODE: "1",
    AOS_BUS_PROFILE: "rabbitmq",
    AOS_BUS_URL: url,
    AOS_CONFIG: writeConfig(),
    AOS_SQLITE_PATH: path.join(dir, "aos.db"),
    AOS_LOG_LEVEL: "info",
    ...(process.env.ASAN_OPTIONS ? { ASAN_OPTIONS: process.env.ASAN_OPTIONS } : {}),
    ...(process.env.UBSAN_OPTIONS ? { UBSAN_OPTIONS: process.env.UBSAN_OPTIONS } : {}),
  };
  const model = await startFakeModel();
  const svc = serviceStarter(base);
  const storage = await svc("aos-storage", "aos-storage");
  const runner = await svc("aos-agent-runner", "aos-agent-runner", modelEnv(model));
  const router = await svc("aos-router", "aos-router");
  await waitReady([storage, runner, router]);
  await bigTurns(router, model, runner);
  const id = `rabbit-ingress-${randomBytes(8).toString("hex")}`;
  await publishRabbit(url, "/amq/queue/aos.ingress", id);
  log(`published ${id} twice to /amq/queue/aos.ingress`);
  const turnId = eventTurnId("default", "urn:example:billing", id);
  const msgs = await waitFor("the event turn answered", async () => {
    const m = await conversationMessages(router, "events-default");
    return m.some((x) => x.id === `${turnId}:r`) && m;
  });
  await sleep(2000); // give a second turn (there must be none) the chance to show
  const again = await conversationMessages(router, "events-default");
  assert.equal(again.filter((m) => m.id === turnId).length, 1, `one turn for ${id}: ${JSON.stringify(msgs.map((m) => m.id))}`);
  assert.equal(again.filter((m) => m.id === `${turnId}:r`).length, 1, "one answer");
  log(`ingress event ${id}: one turn ${turnId}, answered: ok`);
}

let failed = false;
try {
  if (mode === "rabbitmq") {
    await rabbitIngress();
    log("rabbitmq: all ok");
    process.exitCode = 0;
  } else {
  const certs = makeCerts();
  const portFile = path.join(dir, "peer.port");
  start("aos-sb-peer", path.join(buildDir, "bin", "aos-sb-peer"), [
    "--namespace", "localhost", "--key-name", keyName, "--key", key,
    "--tls-cert", certs.cert, "--tls-key", certs.key,
    "--session-queues", "aos.agent.,aos.reply",
    "--queues", "aos.storage,aos.ml,aos.ingress,sdk.probe",
    "--topic", "aos.events:aos-router,app",
    "--port-file", portFile], process.env);
  const port = await waitFor("the peer's port", () => fs.existsSync(portFile) && Number(fs.readFileSync(portFile, "utf8")), 20000);
  const cs = `Endpoint=sb://localhost:${port}/;SharedAccessKeyName=${keyName};SharedAccessKey=${key}`;
  log(`peer on localhost:${port} (TLS, test CA)`);
  const sdkEnv = { ...process.env, NODE_EXTRA_CA_CERTS: certs.ca, AOS_TEST_SB_CONNECTION_STRING: cs };

  if (mode === "peer") {
    assert.equal((await runNode("servicebus_sdk.mjs", ["peer"], sdkEnv)).code, 0, "SDK checks against the peer");
  } else {
    // the services: the servicebus profile from a connection string alone (plus the test CA)
    const config = writeConfig();
    const base = {
      PATH: process.env.PATH,
      AOS_DEV_MODE: "1",
      AOS_BUS_PROFILE: "servicebus",
      AOS_SERVICEBUS_CONNECTION_STRING: cs,
      AOS_BUS_CA_FILE: certs.ca,
      AOS_CONFIG: config,
      AOS_SQLITE_PATH: path.join(dir, "aos.db"),
      AOS_LOG_LEVEL: "info",
      ...(process.env.ASAN_OPTIONS ? { ASAN_OPTIONS: process.env.ASAN_OPTIONS } : {}),
      ...(process.env.UBSAN_OPTIONS ? { UBSAN_OPTIONS: process.env.UBSAN_OPTIONS } : {}),
    };
    const model = await startFakeModel();
    const svc = serviceStarter(base);
    const storage = await svc("aos-storage", "aos-storage");
    const ml = await svc("aos-ml-pipeline", "aos-ml-pipeline");
    const runner = await svc("aos-agent-runner", "aos-agent-runner", modelEnv(model));
    const routers = [await svc("aos-router-1", "aos-router"), await svc("aos-router-2", "aos-router")];
    await waitReady([storage, ml, runner, ...routers]);
    // every router replica sees the runner's heartbeats (issue 8 item 2)
    for (const [i, r] of routers.entries()) {
      await waitFor(`router ${i + 1} sees healthy agents`, async () => {
        const res = await http("GET", `${r.http}/v1/agents`);
        const agents = res.json && (res.json.agents || res.json.data || res.json);
        return Array.isArray(agents) && agents.length > 0 &&
          agents.every((a) => a.health && a.health.status === "healthy");
      });
      log(`router ${i + 1}: every agent healthy`);
    }
    // an HTTP turn through the router
    const res = await http("POST", `${routers[0].http}/v1/messages`, { text: "What is our budget for Q3?", agent: "default" });
    assert.equal(res.status, 200, `POST /v1/messages: ${res.text}`);
    assert.ok(res.json.reply && res.json.conversation_id, res.text);
    log(`HTTP turn answered by ${res.json.agent}: ${JSON.stringify(res.json.reply).slice(0, 80)}`);
    // the same conversation through the other replica
    const res2 = await http("POST", `${routers[1].http}/v1/messages`, { text: "And for Q4?", conversation_id: res.json.conversation_id });
    assert.equal(res2.status, 200, `second turn: ${res2.text}`);
    const conv = await http("GET", `${routers[1].http}/v1/conversations/${res.json.conversation_id}`);
    assert.equal(conv.status, 200, conv.text);
    log("second turn through the other router replica, conversation readable: ok");
    await bigTurns(routers[1], model, runner);
    // Microsoft's SDK as an outside application against the same stack
    const sdk = await runNode("servicebus_sdk.mjs", ["stack"], sdkEnv);
    assert.equal(sdk.code, 0, "SDK checks against the stack");
    // the event published twice is one turn: one event message in the agent's events
    // conversation (turn ids are derived from agent, source and event id)
    const { ingress_event_id: eventId } = JSON.parse(sdk.out.split("\n").find((l) => l.startsWith("{")));
    const msgs = await conversationMessages(routers[1], "events-default");
    const turnId = eventTurnId("default", "urn:example:billing", eventId);
    const users = msgs.filter((m) => m.id === turnId);
    assert.equal(users.length, 1, `one turn ${turnId} for event ${eventId}: ${JSON.stringify(msgs.map((m) => [m.id, m.role]))}`);
    log(`ingress event ${eventId} published twice: one turn in events-default: ok`);
  }
  log(`${mode}: all ok`);
  }
} catch (e) {
  failed = true;
  console.error("stack: FAILED:", e);
} finally {
  await stopAll();
  for (const p of procs) {
    const { code, sig } = await p.exited;
    if (code !== 0) {
      console.error(`stack: ${p.name} exited with ${code ?? sig}`);
      failed = true;
    }
  }
  if (failed) dumpLogs();
  else fs.rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
