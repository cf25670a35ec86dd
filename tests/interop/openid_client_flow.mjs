// An independent relying party: panva's openid-client (v6) against a live Senim.
//
// Driven by tests/interop/test_openid_client.py. Configuration is one JSON
// object, from the SENIM_INTEROP_CONFIG environment variable (preferred: the
// private key then never shows in the process list) or from argv[2]:
//
//   {"issuer": "http://127.0.0.1:PORT", "client_id": "...",
//    "private_jwk": {"kty": "EC", "crv": "P-256", "x": ..., "y": ..., "d": ..., "kid": "k1"},
//    "redirect_uri": "http://127.0.0.1:PORT/cb"}
//
// Protocol on stdout, one JSON object a line:
//   {"step": "client_credentials", ...}   the client_credentials grant (DPoP-bound)
//   {"authorization_url": "..."}          then ONE line is read from stdin: the
//                                         callback URL the browser ended on
//   {"step": "final", ...}                what the test asserts
// On any failure the error goes to stderr as {"step": "error", ...} and the
// exit code is 1. Tokens and the private key are never printed.

import { createHash, webcrypto } from 'node:crypto';
import { createInterface } from 'node:readline';

import * as client from 'openid-client';

const STDIN_TIMEOUT_MS = 30_000;

function readConfig() {
  const raw = process.env.SENIM_INTEROP_CONFIG || process.argv[2];
  if (!raw) {
    throw new Error('pass the configuration as JSON in SENIM_INTEROP_CONFIG or as the first argument');
  }
  const config = JSON.parse(raw);
  for (const name of ['issuer', 'client_id', 'private_jwk', 'redirect_uri']) {
    if (!config[name]) throw new Error(`configuration lacks "${name}"`);
  }
  if (!config.private_jwk.kid) throw new Error('the private JWK needs a "kid"');
  return config;
}

function emit(object) {
  process.stdout.write(`${JSON.stringify(object)}\n`);
}

function b64urlJson(segment) {
  return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
}

/** Claims of a JWT access token, read without verification (only for reporting cnf.jkt). */
function unverifiedClaims(jwt) {
  try {
    return b64urlJson(jwt.split('.')[1]);
  } catch {
    return null;
  }
}

/** RFC 7638 thumbprint of an EC public key (what cnf.jkt must carry, RFC 9449 §6.1). */
async function ecThumbprint(publicKey) {
  const jwk = await webcrypto.subtle.exportKey('jwk', publicKey);
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return createHash('sha256').update(canonical).digest('base64url');
}

async function importClientKey(privateJwk) {
  const { kid, alg, use, key_ops: _ops, ...material } = privateJwk;
  if (material.kty !== 'EC' || material.crv !== 'P-256' || !material.d) {
    throw new Error('the client key must be a private EC P-256 JWK (ES256)');
  }
  const key = await webcrypto.subtle.importKey(
    'jwk',
    material,
    { name: 'ECDSA', namedCurve: 'P-256' },
    false,
    ['sign'],
  );
  return { key, kid };
}

/**
 * A fetch that records what went over the wire (method, path, status, whether
 * a DPoP proof and which Authorization scheme were sent, the raw token_type of
 * token responses, and the body of every error response), so that the test
 * can assert on the wire format and a failure is explained.
 */
function recordingFetch(trace) {
  return async (url, options = {}) => {
    const headers = new Headers(options.headers);
    const response = await fetch(url, options);
    const entry = {
      method: options.method || 'GET',
      path: new URL(url).pathname,
      status: response.status,
      dpop_proof: headers.has('dpop'),
      authorization_scheme: (headers.get('authorization') || '').split(' ')[0] || null,
    };
    const contentType = response.headers.get('content-type') || '';
    if (contentType.includes('json') && (entry.path.endsWith('/token') || response.status >= 400)) {
      try {
        const body = await response.clone().json();
        if (body.token_type !== undefined) entry.token_type = body.token_type;
        if (body.error !== undefined) {
          entry.error = body.error;
          entry.error_description = body.error_description;
        }
      } catch {
        entry.unreadable_body = true;
      }
    }
    const challenge = response.headers.get('www-authenticate');
    if (challenge) entry.www_authenticate = challenge;
    trace.push(entry);
    return response;
  };
}

function readOneLine(timeoutMs) {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: process.stdin });
    let settled = false;
    const settle = (outcome, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outcome(value);
      rl.close(); // emits 'close' synchronously: settle first
    };
    const timer = setTimeout(
      () => settle(reject, new Error(`no callback URL on stdin within ${timeoutMs} ms`)),
      timeoutMs,
    );
    rl.once('line', (line) => settle(resolve, line.trim()));
    rl.once('close', () => settle(reject, new Error('stdin closed before the callback URL arrived')));
  });
}

async function main() {
  const settings = readConfig();
  const trace = [];
  const fetchAndRecord = recordingFetch(trace);
  const clientKey = await importClientKey(settings.private_jwk);

  // Discovery (OIDC Discovery 1.0 / RFC 8414); the test server is plain http.
  const config = await client.discovery(
    new URL(settings.issuer),
    settings.client_id,
    { redirect_uris: [settings.redirect_uri], response_types: ['code'] },
    client.PrivateKeyJwt(clientKey),
    { execute: [client.allowInsecureRequests], [client.customFetch]: fetchAndRecord },
  );
  config[client.customFetch] = fetchAndRecord;
  const metadata = config.serverMetadata();

  // One DPoP key for the whole session (RFC 9449).
  const dpopKeyPair = await client.randomDPoPKeyPair('ES256');
  const DPoP = client.getDPoPHandle(config, dpopKeyPair);
  const dpopJkt = await ecThumbprint(dpopKeyPair.publicKey);

  // 1. client_credentials, DPoP-bound.
  const cc = await client.clientCredentialsGrant(config, { scope: 'consents' }, { DPoP });
  const ccResult = {
    token_type: cc.token_type,
    scope: cc.scope,
    expires_in: cc.expiresIn(),
    has_refresh_token: Boolean(cc.refresh_token),
    cnf_jkt: unverifiedClaims(cc.access_token)?.cnf?.jkt ?? null,
  };
  emit({ step: 'client_credentials', ...ccResult });

  // 2. PAR (RFC 9126) with PKCE S256, state, nonce and a DPoP proof.
  const codeVerifier = client.randomPKCECodeVerifier();
  const codeChallenge = await client.calculatePKCECodeChallenge(codeVerifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authorizationUrl = await client.buildAuthorizationUrlWithPAR(
    config,
    {
      redirect_uri: settings.redirect_uri,
      scope: 'openid accounts',
      code_challenge: codeChallenge,
      code_challenge_method: 'S256',
      state,
      nonce,
    },
    { DPoP },
  );
  emit({ authorization_url: authorizationUrl.href });

  // 3. The browser's part happens in the test; it hands back the callback URL.
  const callbackUrl = await readOneLine(STDIN_TIMEOUT_MS);
  const callbackParams = Object.fromEntries(new URL(callbackUrl).searchParams);

  // 4. The code exchange: checks state, iss (RFC 9207), PKCE, the ID token and nonce.
  const tokens = await client.authorizationCodeGrant(
    config,
    new URL(callbackUrl),
    { pkceCodeVerifier: codeVerifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true },
    undefined,
    { DPoP },
  );
  const idClaims = tokens.claims();

  // 5. Refresh with the same DPoP key; the refresh token must rotate.
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP });

  // 6. UserInfo with the refreshed, DPoP-bound access token.
  const userinfo = await client.fetchUserInfo(config, refreshed.access_token, idClaims.sub, { DPoP });

  // 7. Once its successor has been used, the rotated-out refresh token is
  //    refused (RFC 9700 §4.14.2; before that, a retry of a lost response
  //    would be accepted, FAPI 2.0 SP §5.3.2.1).
  const refreshedAgain = await client.refreshTokenGrant(config, refreshed.refresh_token, undefined, { DPoP });
  if (!refreshedAgain.refresh_token) throw new Error('second refresh returned no refresh token');
  let oldRefreshError = null;
  try {
    await client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP });
  } catch (error) {
    oldRefreshError = error.error ?? error.code ?? error.name;
  }

  emit({
    step: 'final',
    discovery: {
      issuer: metadata.issuer,
      authorization_response_iss_parameter_supported:
        metadata.authorization_response_iss_parameter_supported ?? null,
      require_pushed_authorization_requests: metadata.require_pushed_authorization_requests ?? null,
    },
    dpop_jkt: dpopJkt,
    client_credentials: ccResult,
    authorization_response: {
      has_code: Boolean(callbackParams.code),
      state_matched: callbackParams.state === state,
      iss: callbackParams.iss ?? null,
    },
    code: {
      token_type: tokens.token_type,
      scope: tokens.scope,
      has_refresh_token: Boolean(tokens.refresh_token),
      has_id_token: Boolean(tokens.id_token),
      cnf_jkt: unverifiedClaims(tokens.access_token)?.cnf?.jkt ?? null,
    },
    id_token: {
      iss: idClaims.iss,
      sub: idClaims.sub,
      aud: idClaims.aud,
      azp: idClaims.azp ?? null,
      acr: idClaims.acr ?? null,
      amr: idClaims.amr ?? null,
      nonce_matched: idClaims.nonce === nonce,
    },
    refresh: {
      token_type: refreshed.token_type,
      has_refresh_token: Boolean(refreshed.refresh_token),
      rotated: Boolean(refreshed.refresh_token) && refreshed.refresh_token !== tokens.refresh_token,
      cnf_jkt: unverifiedClaims(refreshed.access_token)?.cnf?.jkt ?? null,
    },
    old_refresh_token_error: oldRefreshError,
    userinfo: { sub: userinfo.sub },
    requests: trace,
  });
}

const SECRET_FIELDS = new Set(['access_token', 'refresh_token', 'id_token', 'code', 'd']);

/** A copy of an error's cause that is safe to print: no token, code or key material. */
function redact(value, depth = 0) {
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return { name: value.name, message: value.message, code: value.code };
  if (typeof Response !== 'undefined' && value instanceof Response) {
    return { status: value.status, url: value.url };
  }
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, SECRET_FIELDS.has(k) ? '<redacted>' : redact(v, depth + 1)]),
  );
}

function describe(error) {
  const out = { step: 'error', name: error?.name, message: error?.message };
  for (const field of ['code', 'error', 'error_description', 'status']) {
    if (error?.[field] !== undefined) out[field] = error[field];
  }
  if (error?.cause !== undefined) out.cause = redact(error.cause);
  return out;
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`${JSON.stringify(describe(error))}\n`);
    process.exit(1);
  },
);
