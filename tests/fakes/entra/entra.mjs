// A fake Microsoft Entra ID / Bot Framework login service for tests (Entra is unreachable
// from CI). It speaks the real wire formats:
//  - OpenID Connect discovery documents: the Bot Framework one
//    (GET /botframework/v1/.well-known/openidconfiguration, issuer https://api.botframework.com)
//    and a tenant's v2.0 one (GET /<tenant>/v2.0/.well-known/openid-configuration);
//  - JWKS documents (kty/use/kid/x5t/n/e, as login.microsoftonline.com serves them);
//  - the v2.0 token endpoint (POST /<tenant>/oauth2/v2.0/token, form-encoded client
//    credentials grant with client_secret, or client_assertion_type jwt-bearer + a client
//    assertion that is either an RS256 JWT signed by a registered certificate or a registered
//    federated token), answering {"token_type","expires_in","ext_expires_in","access_token"}
//    or {"error","error_description","error_codes"} with 400/401 like AADSTS does;
//  - the managed identity endpoint of the instance metadata service (GET
//    /metadata/identity/oauth2/token?api-version=2018-02-01&resource=R&client_id=C, header
//    Metadata: true), answering {"access_token","expires_in","expires_on","resource",
//    "token_type"} (numbers as strings, as IMDS does) for an app registered with
//    managed: true (a user-assigned identity whose client id is the app id).
// state.ttl sets the lifetime of issued tokens (seconds; default 3599).
// The test mints inbound tokens with sign(), rotates keys with rotate(), and inspects what was
// issued and asked for (issued, grants).
import { createServer } from 'node:http';
import { createHash, createPublicKey, createSign, createVerify, generateKeyPairSync, randomUUID, X509Certificate } from 'node:crypto';

const b64u = (buf) => Buffer.from(buf).toString('base64url');

export function jwtSign(privateKey, header, claims) {
  const head = b64u(JSON.stringify(header));
  const body = b64u(JSON.stringify(claims));
  const s = createSign('RSA-SHA256');
  s.update(`${head}.${body}`);
  return `${head}.${body}.${s.sign(privateKey).toString('base64url')}`;
}

function jwtDecode(token) {
  const [h, p, s] = token.split('.');
  return { header: JSON.parse(Buffer.from(h, 'base64url')), claims: JSON.parse(Buffer.from(p, 'base64url')), signed: `${h}.${p}`, sig: Buffer.from(s || '', 'base64url') };
}

function newKey(kid) {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = publicKey.export({ format: 'jwk' });
  return { kid, privateKey, publicKey, jwk: { kty: 'RSA', use: 'sig', kid, x5t: kid, n: jwk.n, e: jwk.e } };
}

export async function startFakeEntra({ tenant, apps = {} } = {}) {
  // apps: { <client_id>: { secret?, certPem?, federatedToken?, managed? } }
  const keys = [newKey('k1')];
  const state = { issued: [], grants: [], metadataHits: 0, jwksHits: 0, failTokens: 0, ttl: 3599 };
  let base = '';
  const send = (res, status, obj) => {
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(obj));
  };
  const aadError = (res, status, code, desc) =>
    send(res, status, { error: code, error_description: desc, error_codes: [7000215], timestamp: new Date().toISOString(), trace_id: randomUUID(), correlation_id: randomUUID() });

  function checkAssertion(clientId, assertion, tokenUrl) {
    const app = apps[clientId] || {};
    if (app.federatedToken && assertion === app.federatedToken) return 'federated';
    if (!app.certPem) return null;
    let d;
    try { d = jwtDecode(assertion); } catch { return null; }
    const cert = new X509Certificate(app.certPem);
    const x5t = b64u(createHash('sha1').update(cert.raw).digest());
    const v = createVerify('RSA-SHA256');
    v.update(d.signed);
    const now = Math.floor(Date.now() / 1000);
    if (d.header.alg !== 'RS256' || d.header.x5t !== x5t || !v.verify(cert.publicKey, d.sig)) return null;
    if (d.claims.aud !== tokenUrl || d.claims.iss !== clientId || d.claims.sub !== clientId || !(d.claims.exp > now) || !d.claims.jti) return null;
    return 'certificate';
  }

  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const url = new URL(req.url, base);
      const p = url.pathname;
      if (req.method === 'GET' && p === '/botframework/v1/.well-known/openidconfiguration') {
        state.metadataHits++;
        return send(res, 200, { issuer: 'https://api.botframework.com', authorization_endpoint: 'https://invalid.botframework.com', jwks_uri: `${base}/botframework/v1/.well-known/keys`, id_token_signing_alg_values_supported: ['RS256'], token_endpoint_auth_methods_supported: ['private_key_jwt'] });
      }
      if (req.method === 'GET' && p === `/${tenant}/v2.0/.well-known/openid-configuration`) {
        state.metadataHits++;
        return send(res, 200, { token_endpoint: `${base}/${tenant}/oauth2/v2.0/token`, token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'], jwks_uri: `${base}/${tenant}/discovery/v2.0/keys`, response_modes_supported: ['query', 'fragment', 'form_post'], subject_types_supported: ['pairwise'], id_token_signing_alg_values_supported: ['RS256'], response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'], scopes_supported: ['openid', 'profile', 'email', 'offline_access'], issuer: `https://login.microsoftonline.com/${tenant}/v2.0`, request_uri_parameter_supported: false, tenant_region_scope: 'EU', cloud_instance_name: 'microsoftonline.com' });
      }
      if (req.method === 'GET' && (p === '/botframework/v1/.well-known/keys' || p === `/${tenant}/discovery/v2.0/keys`)) {
        state.jwksHits++;
        return send(res, 200, { keys: keys.map((k) => ({ ...k.jwk, issuer: p.startsWith('/botframework') ? 'https://api.botframework.com' : `https://login.microsoftonline.com/${tenant}/v2.0` })) });
      }
      if (req.method === 'GET' && p === '/metadata/identity/oauth2/token') {
        const q = Object.fromEntries(url.searchParams.entries());
        state.grants.push({ managed: true, ...q });
        if (req.headers.metadata !== 'true') return send(res, 400, { error: 'invalid_request', error_description: 'Required metadata header not specified' });
        if (!q['api-version']) return send(res, 400, { error: 'invalid_request', error_description: 'Required query variable api-version is missing' });
        if (q.resource !== 'https://api.botframework.com') return send(res, 400, { error: 'invalid_resource', error_description: 'AADSTS500011: resource' });
        const app = apps[q.client_id];
        if (!app || !app.managed) return send(res, 400, { error: 'invalid_request', error_description: 'Identity not found' });
        const now = Math.floor(Date.now() / 1000);
        const token = jwtSign(keys[keys.length - 1].privateKey, { typ: 'JWT', alg: 'RS256', kid: keys[keys.length - 1].kid }, { aud: 'https://api.botframework.com', iss: `https://sts.windows.net/${tenant}/`, iat: now, nbf: now, exp: now + state.ttl, appid: q.client_id, tid: tenant, ver: '1.0', jti: randomUUID() });
        state.issued.push({ token, clientId: q.client_id, how: 'managed' });
        return send(res, 200, { access_token: token, client_id: q.client_id, expires_in: String(state.ttl), expires_on: String(now + state.ttl), ext_expires_in: String(state.ttl), not_before: String(now), resource: q.resource, token_type: 'Bearer' });
      }
      if (req.method === 'POST' && p === `/${tenant}/oauth2/v2.0/token`) {
        const f = new URLSearchParams(body);
        const grant = Object.fromEntries(f.entries());
        state.grants.push(grant);
        if (state.failTokens > 0) { state.failTokens--; return aadError(res, 503, 'temporarily_unavailable', 'AADSTS50196: try again'); }
        if (grant.grant_type !== 'client_credentials') return aadError(res, 400, 'unsupported_grant_type', 'AADSTS70003');
        if (grant.scope !== 'https://api.botframework.com/.default') return aadError(res, 400, 'invalid_scope', 'AADSTS70011: scope');
        const app = apps[grant.client_id];
        if (!app) return aadError(res, 400, 'unauthorized_client', 'AADSTS700016: application not found');
        let how = null;
        if (grant.client_secret !== undefined) how = app.secret && grant.client_secret === app.secret ? 'secret' : null;
        else if (grant.client_assertion_type === 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') how = checkAssertion(grant.client_id, grant.client_assertion || '', `${base}${p}`);
        if (!how) return aadError(res, 401, 'invalid_client', 'AADSTS7000215: Invalid client secret or assertion.');
        const now = Math.floor(Date.now() / 1000);
        const token = jwtSign(keys[keys.length - 1].privateKey, { typ: 'JWT', alg: 'RS256', kid: keys[keys.length - 1].kid }, { aud: 'https://api.botframework.com', iss: `https://sts.windows.net/${tenant}/`, iat: now, nbf: now, exp: now + state.ttl, appid: grant.client_id, tid: tenant, ver: '1.0', jti: randomUUID() });
        state.issued.push({ token, clientId: grant.client_id, how });
        return send(res, 200, { token_type: 'Bearer', expires_in: state.ttl, ext_expires_in: state.ttl, access_token: token });
      }
      send(res, 404, { error: 'not_found' });
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${server.address().port}`;
  return {
    base,
    state,
    botframeworkMetadata: `${base}/botframework/v1/.well-known/openidconfiguration`,
    tenantMetadata: `${base}/${tenant}/v2.0/.well-known/openid-configuration`,
    tokenUrl: `${base}/${tenant}/oauth2/v2.0/token`,
    imdsUrl: `${base}/metadata/identity/oauth2/token`,
    // an inbound token signed by the current key (or kid/foreign key for the matrix)
    sign(claims, { kid, foreign } = {}) {
      const k = foreign ? newKey(kid || 'k1') : keys.find((x) => x.kid === kid) || keys[keys.length - 1];
      return jwtSign(k.privateKey, { typ: 'JWT', alg: 'RS256', kid: kid || k.kid, x5t: kid || k.kid }, claims);
    },
    rotate(kid) { keys.push(newKey(kid)); },
    close: () => new Promise((r) => server.close(r)),
  };
}
