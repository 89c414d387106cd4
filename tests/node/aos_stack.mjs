// Shared helpers of the Node integration tests that run the real AOS binaries: fixture files,
// child processes with readiness polling, and AMQP 1.0 request/reply over RabbitMQ with rhea
// (the AMQP library under Microsoft's @azure/service-bus), speaking the CloudEvents AMQP
// binding of docs/design.md §2 (docs/bus-messages.md).
import { spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { createServer } from "node:net";
import { mkdtempSync, openSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import rhea from "rhea";

export const fixturesDir = process.env.AOS_TEST_FIXTURES_DIR ?? "fixtures";
export const fixture = (name, file) => readFileSync(join(fixturesDir, name, file), "utf8").trim();
export const tag = () => randomBytes(4).toString("hex");
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function tempDir(what) {
  return mkdtempSync(join(tmpdir(), `aos-${what}-`));
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// Poll cond() (async, truthy = done) until it holds or timeoutMs passes.
export async function waitFor(what, cond, timeoutMs = 60000, stepMs = 100) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try {
      last = await cond();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await sleep(stepMs);
  }
  throw new Error(`timed out waiting for ${what} (last: ${last})`);
}

async function httpGet(port, path) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(3000) });
  return { status: res.status, text: await res.text() };
}

// A service binary as a child process; its stdout/stderr go to <dir>/<name>.log.
export class Proc {
  constructor(bin, name, dir, env) {
    this.bin = bin;
    this.name = name;
    this.log = join(dir, `${name}.log`);
    this.env = env;
  }

  async start() {
    this.adminPort = await freePort();
    const fd = openSync(this.log, "a");
    this.child = spawn(this.bin, [], {
      env: { ...process.env, AOS_DEV_MODE: "1", ...this.env, AOS_ADMIN_ADDR: `127.0.0.1:${this.adminPort}` },
      stdio: ["ignore", fd, fd],
    });
    this.exited = new Promise((r) => this.child.once("exit", (code, sig) => r({ code, sig })));
    let gone = false;
    this.exited.then(() => (gone = true));
    try {
      await waitFor(`${this.name} /readyz`, async () => {
        if (gone) throw new Error(`${this.name} exited`);
        return (await httpGet(this.adminPort, "/readyz")).status === 200;
      }, 60000);
    } catch (e) {
      this.dumpLog();
      throw e;
    }
    return this;
  }

  metrics() {
    return httpGet(this.adminPort, "/metrics").then((r) => r.text);
  }

  dumpLog(lines = 40) {
    try {
      const text = readFileSync(this.log, "utf8").trim().split("\n");
      console.error(`--- ${this.name} log (last ${lines} lines) ---\n${text.slice(-lines).join("\n")}`);
    } catch {
      /* no log */
    }
  }

  async stop(signal = "SIGTERM") {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill(signal);
    const t = setTimeout(() => this.child.kill("SIGKILL"), 20000);
    await this.exited;
    clearTimeout(t);
  }
}

// Sum of the samples of a metric family whose labels include every given label.
export function metricValue(text, name, labels = {}) {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[3] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[4]);
  }
  return sum;
}

// AMQP 1.0 client on the RabbitMQ fixture: CloudEvents in binary mode, request/reply on a
// private reply queue (/queue/... is declared by RabbitMQ on attach).
export class Amqp {
  constructor(url) {
    this.url = new URL(url);
    this.pending = new Map();
  }

  async open() {
    const c = rhea.create_container({ id: `node-test-${tag()}` });
    this.conn = c.connect({
      host: this.url.hostname, port: Number(this.url.port),
      username: decodeURIComponent(this.url.username), password: decodeURIComponent(this.url.password),
      reconnect: false,
    });
    await new Promise((resolve, reject) => {
      this.conn.once("connection_open", resolve);
      this.conn.once("connection_error", (ctx) => reject(ctx.connection.error));
      this.conn.once("disconnected", (ctx) => reject(ctx.error ?? new Error("disconnected")));
    });
    this.replyTo = `/queue/aos.reply.nodetest-${tag()}`;
    const recv = this.conn.open_receiver({ source: { address: this.replyTo }, credit_window: 50 });
    recv.on("message", (ctx) => {
      const m = ctx.message;
      const p = this.pending.get(m.correlation_id);
      if (p) {
        this.pending.delete(m.correlation_id);
        p.resolve(decode(m));
      }
    });
    await new Promise((r) => recv.once("receiver_open", r));
    this.senders = new Map();
    return this;
  }

  // One sender link per address (RabbitMQ 3.x has no anonymous relay).
  async senderFor(address) {
    let s = this.senders.get(address);
    if (!s) {
      s = this.conn.open_sender({ target: { address } });
      this.senders.set(address, s);
      await new Promise((r) => s.once("sendable", r));
    }
    return s;
  }

  async send(address, ev, extra = {}) {
    const id = ev.id ?? randomUUID();
    (await this.senderFor(address)).send({
      message_id: id, content_type: "application/json", durable: true,
      application_properties: {
        "cloudEvents:specversion": "1.0", "cloudEvents:id": id, "cloudEvents:type": ev.type,
        "cloudEvents:source": ev.source ?? "/tests/node", "cloudEvents:time": new Date().toISOString(),
      },
      body: rhea.message.data_section(Buffer.from(JSON.stringify(ev.data))),
      ...extra,
    });
    return id;
  }

  // Send ev to address with reply-to, resolve with the reply {type, data}.
  request(address, ev, extra = {}, timeoutMs = 60000) {
    const id = ev.id ?? randomUUID();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`no reply to ${ev.type} on ${address} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: (r) => { clearTimeout(t); resolve(r); } });
      this.send(address, { ...ev, id }, { reply_to: this.replyTo, ...extra }).catch(reject);
    });
  }

  close() {
    this.conn?.close();
  }
}

function decode(m) {
  const props = m.application_properties ?? {};
  let body = m.body;
  if (body && body.typecode === 0x75) body = body.content;
  const text = Buffer.isBuffer(body) ? body.toString("utf8") : typeof body === "string" ? body : JSON.stringify(body);
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    data = text;
  }
  return { type: props["cloudEvents:type"], data, message: m };
}

// The queue address of a logical queue on the rabbitmq profile.
export const queueAddress = (q) => `/amq/queue/${q}`;
