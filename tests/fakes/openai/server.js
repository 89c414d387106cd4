#!/usr/bin/env node
// An OpenAI-compatible fake model server for tests (node, built-in modules only).
//
// It speaks the real wire formats of the three HTTP providers the agent-runner supports:
//   POST /v1/chat/completions                                   OpenAI-compatible (vLLM, Ollama…)
//   POST /openai/deployments/{d}/chat/completions?api-version=V Azure OpenAI
//   POST /score                                                 Azure ML online endpoint
// answering chat.completion JSON, or chat.completion.chunk server-sent events when the
// request says "stream": true (with a usage chunk when stream_options.include_usage).
//
// Behaviour is controlled per request, so one server serves many tests at once:
//   - a path prefix, so one endpoint URL always behaves one way (e.g. a broken endpoint in
//     a fallback chain): http://127.0.0.1:P/fake:status=500/v1/chat/completions
//   - magic words in the last user message: [[fake:key=value,key=value]]
//   - or the request header  x-fake-control: key=value,key=value
//   - or a queue of directives for the next calls: POST /_script {"responses":[{...},...]}
// A path prefix /caller:NAME (before any /fake:... prefix) names the caller in the call log
// without changing behaviour: give each replica its own endpoint URL and the log says which
// replica made which call (e.g. which calls a killed runner had made).
// Directive keys:
//   delay_ms=N          answer after N ms
//   status=N            answer with this HTTP status and an OpenAI-style error body
//   retry_after_ms=N    add the retry-after-ms header (with status 429/503)
//   retry_after=N       add the retry-after header in seconds
//   times=N             apply status/garbage/hang only to the first N calls carrying this
//                       directive (counted per tag); later calls succeed
//   tag=T               name for counting (default: the directive text itself)
//   garbage=1           200 with a body that is not JSON (or a broken SSE chunk)
//   hang=1              never answer (the connection stays open until the client gives up)
//   shape=output        Azure ML {"output": "..."} body instead of chat.completion
//   text=…              reply text (default "fake reply: <last user message>")
// Admin:
//   GET  /_stats   {"calls","by_route","by_tag","by_text","inflight","max_inflight",
//                   "inflight_by_caller"}
//   GET  /_last    the last model request: {"path","headers","body"}
//   GET  /_calls   every model call that ended: [{"text","caller","status","outcome","start_ms",
//                  "end_ms"}], outcome "answered" (the whole response was written) or
//                  "aborted" (the caller closed the connection first: hung, timed out, killed)
//   POST /_reset   zero the counters, forget scripts and the per-tag "times" counts
//   POST /_script  queue directives for the next model calls (FIFO, one per call)
//   POST /_models  {"models": {"<model or azureml deployment>": {directive keys}}}: every call
//                  for that model (body "model", or the azureml-model-deployment header) gets
//                  the directive unless the call carries one of its own ({} clears them all);
//                  GET /_stats then counts calls per model in "by_model"
//
// Usage: node server.js [--port N] [--port-file F] [--api-key K]
//   port 0 (default) picks a free port; the port is printed ("listening N") and written to F.
//   With --api-key every model route requires it (api-key header or Bearer token).
'use strict';

const http = require('http');
const fs = require('fs');

const args = process.argv.slice(2);
function opt(name, dflt) {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
}
const PORT = parseInt(opt('--port', '0'), 10);
const PORT_FILE = opt('--port-file', null);
const API_KEY = opt('--api-key', null);

let stats, script, timesSeen, lastRequest, callLog, modelRules = {};
function reset() {
  stats = { calls: 0, by_route: {}, by_tag: {}, by_text: {}, by_model: {}, inflight: 0,
    max_inflight: 0, inflight_by_caller: {} };
  script = [];
  timesSeen = {};
  lastRequest = null;
  callLog = [];
}
reset();

function parseDirective(text) {
  const d = {};
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) { if (part.trim()) d[part.trim()] = '1'; continue; }
    d[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return d;
}

function lastUserText(messages) {
  if (!Array.isArray(messages)) return '';
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m && m.role === 'user') {
      if (typeof m.content === 'string') return m.content;
      if (Array.isArray(m.content)) return m.content.map((p) => (p && p.text) || '').join('');
    }
  }
  return '';
}

function directiveFor(req, body, pathDirective) {
  const text = lastUserText(body && body.messages);
  if (pathDirective) return { d: parseDirective(pathDirective), raw: pathDirective, text };
  const m = /\[\[fake:([^\]]*)\]\]/.exec(text);
  if (m) return { d: parseDirective(m[1]), raw: m[1], text };
  if (req.headers['x-fake-control']) {
    const raw = String(req.headers['x-fake-control']);
    return { d: parseDirective(raw), raw, text };
  }
  const model = req.headers['azureml-model-deployment'] || (body && body.model);
  if (model && modelRules[model]) {
    return { d: modelRules[model], raw: `model=${model}`, text };
  }
  if (script.length) {
    const d = script.shift();
    return { d, raw: JSON.stringify(d), text };
  }
  return { d: {}, raw: '', text };
}

function tokens(s) { return s ? Math.ceil(s.length / 4) : 0; }

function sendJson(res, status, obj, extraHeaders) {
  const body = JSON.stringify(obj);
  res.writeHead(status, Object.assign({ 'content-type': 'application/json',
    'content-length': Buffer.byteLength(body) }, extraHeaders || {}));
  res.end(body);
}

function errorBody(status) {
  const kinds = { 429: 'rate_limit_exceeded', 500: 'server_error', 503: 'service_unavailable',
    400: 'invalid_request_error', 401: 'invalid_api_key' };
  return { error: { message: `fake: status ${status} as requested`,
    type: kinds[status] || 'error', code: String(status) } };
}

function checkAuth(req, route) {
  if (!API_KEY) return true;
  const bearer = req.headers.authorization === `Bearer ${API_KEY}`;
  if (route === 'azure-openai') return bearer || req.headers['api-key'] === API_KEY;
  return bearer;
}

function completion(route, body, reqHeaders, d, text) {
  const reply = d.text !== undefined ? d.text : `fake reply: ${text}`;
  const model = route === 'azureml' ? (reqHeaders['azureml-model-deployment'] || 'aml-default')
    : (body.model || 'fake-deployment');
  const promptChars = (body.messages || []).reduce((n, m) =>
    n + (typeof m.content === 'string' ? m.content.length : 0), 0);
  const usage = { prompt_tokens: Math.ceil(promptChars / 4), completion_tokens: tokens(reply) };
  usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
  return { reply, model, usage };
}

function answerStream(res, c, includeUsage, garbage) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const id = `chatcmpl-fake-${stats.calls}`;
  const base = { id, object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000),
    model: c.model };
  const chunk = (choices, extra) => `data: ${JSON.stringify(Object.assign({}, base, { choices }, extra || {}))}\n\n`;
  let out = chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]);
  if (garbage) { res.end(out + 'data: {"choices": [ {"delta": \n\n'); return; }
  const words = c.reply.match(/\S+\s*|\s+/g) || [''];
  for (const w of words) out += chunk([{ index: 0, delta: { content: w }, finish_reason: null }]);
  out += chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]);
  if (includeUsage) out += chunk([], { usage: c.usage });
  out += 'data: [DONE]\n\n';
  // written in two pieces so clients see a stream split mid-event
  const cut = Math.floor(out.length / 2);
  res.write(out.slice(0, cut));
  setImmediate(() => res.end(out.slice(cut)));
}

function answerModel(req, res, route, body, pathDirective, caller) {
  const { d, raw, text } = directiveFor(req, body, pathDirective);
  const entry = { text: text.slice(0, 200), caller, status: 0, outcome: 'aborted',
    start_ms: Date.now(), end_ms: 0 };
  res.on('finish', () => { entry.status = res.statusCode; entry.outcome = 'answered'; });
  res.on('close', () => { entry.end_ms = Date.now(); callLog.push(entry); });
  const tag = d.tag || raw;
  stats.calls++;
  stats.by_route[route] = (stats.by_route[route] || 0) + 1;
  const modelName = req.headers['azureml-model-deployment'] || body.model || '';
  stats.by_model[modelName] = (stats.by_model[modelName] || 0) + 1;
  if (tag) stats.by_tag[tag] = (stats.by_tag[tag] || 0) + 1;
  const textKey = text.slice(0, 200);
  stats.by_text[textKey] = (stats.by_text[textKey] || 0) + 1;
  stats.inflight++;
  stats.max_inflight = Math.max(stats.max_inflight, stats.inflight);
  const who = caller || '';
  stats.inflight_by_caller[who] = (stats.inflight_by_caller[who] || 0) + 1;
  let done = false;
  const finish = () => {
    if (!done) { done = true; stats.inflight--; stats.inflight_by_caller[who]--; }
  };
  res.on('close', finish);

  let faulty = true;
  if (d.times !== undefined && tag) {
    timesSeen[tag] = (timesSeen[tag] || 0) + 1;
    faulty = timesSeen[tag] <= parseInt(d.times, 10);
  }
  const act = () => {
    if (d.hang && faulty) return; // never answer
    if (d.status && faulty) {
      const status = parseInt(d.status, 10);
      const h = {};
      if (d.retry_after_ms !== undefined) h['retry-after-ms'] = String(d.retry_after_ms);
      if (d.retry_after !== undefined) h['retry-after'] = String(d.retry_after);
      return sendJson(res, status, errorBody(status), h);
    }
    const garbage = d.garbage && faulty;
    const c = completion(route, body, req.headers, d, text);
    if (body.stream) {
      return answerStream(res, c, body.stream_options && body.stream_options.include_usage, garbage);
    }
    if (garbage) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end('<html>this is not json {"choices": [');
    }
    if (route === 'azureml' && d.shape === 'output') return sendJson(res, 200, { output: c.reply });
    sendJson(res, 200, {
      id: `chatcmpl-fake-${stats.calls}`, object: 'chat.completion',
      created: Math.floor(Date.now() / 1000), model: c.model,
      choices: [{ index: 0, message: { role: 'assistant', content: c.reply }, finish_reason: 'stop' }],
      usage: c.usage,
    });
  };
  const delay = parseInt(d.delay_ms || '0', 10);
  if (delay > 0) setTimeout(act, delay); else act();
}

function routeOf(req, url) {
  if (req.method === 'POST' && url.pathname === '/v1/chat/completions') return 'openai';
  if (req.method === 'POST' && url.pathname === '/score') return 'azureml';
  if (req.method === 'POST' && /^\/openai\/deployments\/[^/]+\/chat\/completions$/.test(url.pathname)) {
    return 'azure-openai';
  }
  return null;
}

function handle(req, res, raw) {
  const url = new URL(req.url, 'http://fake');
  let pathDirective = null, caller = null;
  const cm = /^\/caller:([^/]*)(\/.*)$/.exec(url.pathname);
  if (cm) { caller = decodeURIComponent(cm[1]); url.pathname = cm[2]; }
  const pm = /^\/fake:([^/]*)(\/.*)$/.exec(url.pathname);
  if (pm) { pathDirective = decodeURIComponent(pm[1]); url.pathname = pm[2]; }
  if (req.method === 'GET' && url.pathname === '/_stats') return sendJson(res, 200, stats);
  if (req.method === 'GET' && url.pathname === '/_last') return sendJson(res, 200, lastRequest || {});
  if (req.method === 'GET' && url.pathname === '/_calls') return sendJson(res, 200, callLog);
  if (req.method === 'POST' && url.pathname === '/_reset') { reset(); return sendJson(res, 200, { ok: true }); }
  if (req.method === 'POST' && url.pathname === '/_script') {
    let s;
    try { s = JSON.parse(raw); } catch (e) { return sendJson(res, 400, errorBody(400)); }
    if (!s || !Array.isArray(s.responses)) return sendJson(res, 400, errorBody(400));
    for (const r of s.responses) script.push(Object.fromEntries(Object.entries(r).map(([k, v]) => [k, String(v)])));
    return sendJson(res, 200, { queued: script.length });
  }
  if (req.method === 'POST' && url.pathname === '/_models') {
    let m;
    try { m = JSON.parse(raw); } catch (e) { return sendJson(res, 400, errorBody(400)); }
    if (!m || typeof m.models !== 'object' || m.models === null) return sendJson(res, 400, errorBody(400));
    modelRules = {};
    for (const [k, v] of Object.entries(m.models)) {
      modelRules[k] = Object.fromEntries(Object.entries(v || {}).map(([a, b]) => [a, String(b)]));
    }
    return sendJson(res, 200, { models: Object.keys(modelRules) });
  }
  const route = routeOf(req, url);
  if (!route) return sendJson(res, 404, { error: { message: `no route ${req.method} ${url.pathname}`, type: 'not_found' } });
  if (route === 'azure-openai' && !url.searchParams.get('api-version')) {
    return sendJson(res, 404, { error: { code: '404', message: 'Resource not found (api-version missing)' } });
  }
  if (!checkAuth(req, route)) return sendJson(res, 401, errorBody(401));
  let body;
  try { body = JSON.parse(raw); } catch (e) { return sendJson(res, 400, errorBody(400)); }
  if (!body || !Array.isArray(body.messages) || body.messages.length === 0) {
    return sendJson(res, 400, { error: { message: "'messages' is a required property", type: 'invalid_request_error' } });
  }
  lastRequest = { path: req.url, headers: req.headers, body };
  answerModel(req, res, route, body, pathDirective, caller);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
});
server.requestTimeout = 0;
server.headersTimeout = 60000;
server.keepAliveTimeout = 30000;
server.maxConnections = 20000;
server.listen(PORT, '127.0.0.1', () => {
  const port = server.address().port;
  if (PORT_FILE) fs.writeFileSync(PORT_FILE, `${port}\n`);
  process.stdout.write(`listening ${port}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
