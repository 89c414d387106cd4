#!/usr/bin/env node
// A fake of the Azure Machine Learning ARM REST API for the azureml backend's tests (node,
// built-in modules only, loopback only). It speaks the real shapes:
//   PUT  /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices
//        /workspaces/{ws}/jobs/{name}?api-version=V          create a command job -> 201
//   GET  .../jobs/{name}?api-version=V                        job resource with properties.status
//   POST .../jobs/{name}/cancel?api-version=V                 -> 202
//   PUT  .../models/{name}/versions/{version}?api-version=V   register a model version -> 201
// Errors use the ARM body {"error":{"code","message"}}. Every call needs
// "Authorization: Bearer <token>" (--token) and an api-version query parameter.
//
// The job's behaviour comes from the base_model in its AOS_JOB_CONFIG environment variable,
// "aml:<mode>":
//   ok        NotStarted, Queued, Preparing, NotResponding, Running, Finalizing, Completed
//             (one status per GET; NotResponding is not final)
//   fail      Running, Failed
//   submit400 the job PUT answers 400 UserError
//   get429    every GET answers 429 with Retry-After: 0
//   get500once the first GET answers 500, then as "ok"
//   hang      Running until cancelled (cancel -> CancelRequested -> Canceled)
//   regfail   as "ok", but the model version PUT answers 500
// Admin: GET /_state -> {"jobs":{name:{status,gets,cancelled,mode}},"models":[{name,version,body}],
//                        "calls":N}
// It also plays Microsoft Entra for ARM tokens (the real wire formats): the v2.0 token endpoint
// POST /<tenant>/oauth2/v2.0/token (client credentials with client_secret, or a
// client_assertion that must equal the federated token given by --federated) answering
// {"token_type","expires_in","ext_expires_in","access_token"} or AADSTS-style errors, and the
// managed identity endpoint GET /metadata/identity/oauth2/token (header Metadata: true)
// answering {"access_token","expires_on" (string),"resource","token_type"}. Issued tokens live
// --token-ttl seconds; ARM calls accept --token or any issued token not yet expired, and
// answer 401 ExpiredAuthenticationToken to an expired one.
// Usage: node fake_azureml.js [--port-file F] [--token T] [--client-id C --client-secret S]
//                             [--federated F] [--token-ttl N]
'use strict';
const http = require('http');
const fs = require('fs');

const args = process.argv.slice(2);
function opt(name, dflt) {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
}
const PORT_FILE = opt('--port-file', null);
const TOKEN = opt('--token', 'test-token');
const CLIENT_ID = opt('--client-id', 'aos-app');
const CLIENT_SECRET = opt('--client-secret', 'aos-secret');
const FEDERATED = opt('--federated', null);
const TOKEN_TTL = Number(opt('--token-ttl', '3600'));
const issued = {}; // token -> expiry (ms)
let issuedCount = 0;
function issue() {
  const t = `entra-${++issuedCount}-${Math.random().toString(36).slice(2)}`;
  issued[t] = Date.now() + TOKEN_TTL * 1000;
  return t;
}
function aadError(res, status, error, desc) {
  send(res, status, { error, error_description: `${error === 'invalid_client' ? 'AADSTS7000215' : 'AADSTS700016'}: ${desc}`,
                      error_codes: [7000215], timestamp: new Date().toISOString() });
}
function tokenEndpoint(req, res, body, url) {
  if (url.pathname === '/metadata/identity/oauth2/token') {
    if (req.headers.metadata !== 'true')
      return send(res, 400, { error: 'invalid_request', error_description: 'Required metadata header not specified' });
    if (!url.searchParams.get('resource'))
      return send(res, 400, { error: 'invalid_request', error_description: 'Required query variable resource is missing' });
    return send(res, 200, { access_token: issue(), expires_on: String(Math.floor(Date.now() / 1000) + TOKEN_TTL),
                            resource: url.searchParams.get('resource'), token_type: 'Bearer' });
  }
  if (req.method !== 'POST' || !String(req.headers['content-type'] || '').startsWith('application/x-www-form-urlencoded'))
    return aadError(res, 400, 'invalid_request', 'The request body must contain the parameter grant_type.');
  const f = new URLSearchParams(body);
  if (f.get('grant_type') !== 'client_credentials')
    return aadError(res, 400, 'unsupported_grant_type', 'grant_type must be client_credentials');
  if (f.get('client_id') !== CLIENT_ID)
    return aadError(res, 400, 'unauthorized_client', `Application with identifier '${f.get('client_id')}' was not found.`);
  if (!String(f.get('scope') || '').endsWith('/.default'))
    return aadError(res, 400, 'invalid_scope', 'The scope must end in /.default for client credentials.');
  const assertion = f.get('client_assertion');
  const ok = assertion ? FEDERATED && assertion === FEDERATED &&
                         f.get('client_assertion_type') === 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'
                       : f.get('client_secret') === CLIENT_SECRET;
  if (!ok)
    return aadError(res, 401, 'invalid_client', 'Invalid client secret or assertion provided.');
  tokenGrants.push(assertion ? 'federated' : 'secret');
  send(res, 200, { token_type: 'Bearer', expires_in: TOKEN_TTL, ext_expires_in: TOKEN_TTL, access_token: issue() });
}
const tokenGrants = [];

const SEQ = {
  ok: ['NotStarted', 'Queued', 'Preparing', 'NotResponding', 'Running', 'Finalizing', 'Completed'],
  fail: ['Running', 'Failed'],
};
const jobs = {};
const models = [];
let calls = 0;

function send(res, status, body, headers) {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, Object.assign({ 'content-type': 'application/json' }, headers || {}));
  res.end(text);
}
function armError(res, status, code, message, headers) {
  send(res, status, { error: { code, message } }, headers);
}
function jobResource(ws, name) {
  const j = jobs[name];
  return {
    id: `${ws}/jobs/${name}`, name, type: 'Microsoft.MachineLearningServices/workspaces/jobs',
    properties: Object.assign({}, j.properties, { status: j.status }),
    systemData: { createdAt: j.created },
  };
}
function nextStatus(j) {
  if (j.mode === 'hang')
    return j.cancelled ? (j.gets++ > j.cancelGet ? 'Canceled' : 'CancelRequested') : 'Running';
  const seq = SEQ[j.mode === 'fail' ? 'fail' : 'ok'];
  const s = seq[Math.min(j.gets, seq.length - 1)];
  j.gets++;
  return s;
}

function handle(req, res, body) {
  const url = new URL(req.url, 'http://fake');
  if (url.pathname === '/_state')
    return send(res, 200, { jobs, models, calls, tokens_issued: issuedCount, grants: tokenGrants });
  if (url.pathname.endsWith('/oauth2/v2.0/token') || url.pathname === '/metadata/identity/oauth2/token')
    return tokenEndpoint(req, res, body, url);
  calls++;
  const bearer = String(req.headers.authorization || '').replace(/^Bearer /, '');
  if (issued[bearer] !== undefined && issued[bearer] <= Date.now())
    return armError(res, 401, 'ExpiredAuthenticationToken', 'The access token has expired.');
  if (bearer !== TOKEN && issued[bearer] === undefined)
    return armError(res, 401, 'AuthenticationFailed', 'missing or bad bearer token');
  if (!url.searchParams.get('api-version'))
    return armError(res, 400, 'MissingApiVersionParameter', 'api-version is required');
  const m = url.pathname.match(
    /^(\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.MachineLearningServices\/workspaces\/[^/]+)\/(jobs|models)\/([^/]+)(?:\/(cancel|versions)(?:\/([^/]+))?)?$/);
  if (!m)
    return armError(res, 404, 'NotFound', `no route ${req.method} ${url.pathname}`);
  const [, ws, coll, name, sub, version] = m;
  if (coll === 'jobs' && !sub && req.method === 'PUT') {
    let doc;
    try { doc = JSON.parse(body); } catch (e) { return armError(res, 400, 'BadRequest', 'body is not JSON'); }
    const p = doc.properties || {};
    if (p.jobType !== 'Command' || !p.command)
      return armError(res, 400, 'UserError', 'properties.jobType Command and command are required');
    let cfg = {};
    try { cfg = JSON.parse((p.environmentVariables || {}).AOS_JOB_CONFIG || '{}'); } catch (e) { /* keep {} */ }
    const mode = String(cfg.base_model || '').replace(/^aml:/, '') || 'ok';
    if (mode === 'submit400')
      return armError(res, 400, 'UserError', 'Compute aos-gpu not found in workspace');
    if (!jobs[name])
      jobs[name] = { mode, gets: 0, cancelled: false, status: 'NotStarted', properties: p,
                     created: new Date().toISOString(), puts: 0 };
    jobs[name].puts++;
    return send(res, 201, jobResource(ws, name));
  }
  if (coll === 'jobs' && !sub && req.method === 'GET') {
    const j = jobs[name];
    if (!j)
      return armError(res, 404, 'UserError', `job ${name} not found`);
    if (j.mode === 'get429') {
      j.gets++;
      return armError(res, 429, 'TooManyRequests', 'rate limit exceeded', { 'retry-after': '0' });
    }
    if (j.mode === 'get500once' && j.gets === 0 && !j.failedOnce) {
      j.failedOnce = true;
      return armError(res, 500, 'InternalServerError', 'transient');
    }
    j.status = nextStatus(j);
    return send(res, 200, jobResource(ws, name));
  }
  if (coll === 'jobs' && sub === 'cancel' && req.method === 'POST') {
    const j = jobs[name];
    if (!j)
      return armError(res, 404, 'UserError', `job ${name} not found`);
    j.cancelled = true;
    j.cancelGet = j.gets;
    return send(res, 202, undefined, { location: url.pathname });
  }
  if (coll === 'models' && sub === 'versions' && version && req.method === 'PUT') {
    let doc;
    try { doc = JSON.parse(body); } catch (e) { return armError(res, 400, 'BadRequest', 'body is not JSON'); }
    const p = doc.properties || {};
    if (!p.modelUri)
      return armError(res, 400, 'UserError', 'properties.modelUri is required');
    const jobName = (p.modelUri.match(/^azureml:\/\/jobs\/([^/]+)\//) || [])[1];
    if (jobName && jobs[jobName] && jobs[jobName].mode === 'regfail')
      return armError(res, 500, 'InternalServerError', 'model registry unavailable');
    models.push({ name, version, body: doc });
    return send(res, 201, { id: `${ws}/models/${name}/versions/${version}`, name: version,
                            type: 'Microsoft.MachineLearningServices/workspaces/models/versions',
                            properties: p });
  }
  return armError(res, 405, 'MethodNotAllowed', `${req.method} not supported here`);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
});
server.listen(0, '127.0.0.1', () => {
  const port = server.address().port;
  if (PORT_FILE)
    fs.writeFileSync(PORT_FILE, String(port));
  console.log(`listening ${port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
