// The reference provider of bench/token_endpoint.py: oidc-provider configured
// like Senim's token endpoint.
//
//   node server.mjs <config.json>
//
// config.json: {"port": 8123, "client_id": "...", "jwks": {"keys": [...]},
//               "redirect_uri": "http://127.0.0.1:9/cb"}
//
// What matches Senim: issuer http://127.0.0.1:<port>, ES256 signing key,
// private_key_jwt (ES256) client authentication with single-use assertions,
// DPoP required for the client (dpop_bound_access_tokens), pushed
// authorization requests required, PKCE S256, JWT access tokens (RFC 9068)
// for client_credentials and the code flow, access token TTL 300 s, refresh
// token rotation on every use (reuse revokes the grant), refresh tokens
// issued to every client allowed the refresh_token grant.
//
// What differs: oidc-provider's own in-memory adapter holds tokens, grants and
// replay-detection entries in this one process; Senim writes every one of
// them to SQLite. Its default store is an LRU of 1,000 entries, which under
// load evicts live grants, refresh tokens and interactions, and forgets the
// jti of assertions and DPoP proofs still within their lifetime (a replay
// would then pass): here the same adapter gets a store without a size limit,
// entries leave it only when they expire. One Node.js process (the in-memory
// adapter cannot be shared between processes).
//
// The customer's interaction (login, consent) has no pages here: GET
// /interaction/<uid> approves it at once for the account "customer-1", like
// Senim's complete_interaction() does in the benchmark.
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';

import Provider, { errors } from 'oidc-provider';
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const { port } = config;
const ISSUER = `http://127.0.0.1:${port}`;
// The resource server the access tokens are for: JWT format, like Senim's.
const RESOURCE = `${ISSUER}/resource`;
const RESOURCE_SCOPES = 'accounts consents';
const ACCOUNT_ID = 'customer-1';

const signingKey = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  .privateKey.export({ format: 'jwk' });

// The store of oidc-provider's MemoryAdapter (get, set with maxAge, delete),
// without the LRU's size limit. Expired entries are dropped when read, and
// swept every 10 s.
class UnboundedStore {
  #entries = new Map();

  constructor() {
    setInterval(() => this.#sweep(), 10_000).unref();
  }

  #sweep() {
    const now = Date.now();
    for (const [key, entry] of this.#entries) {
      if (entry.expiry !== undefined && entry.expiry <= now) this.#entries.delete(key);
    }
  }

  get(key) {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiry !== undefined && entry.expiry <= Date.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(key, value, { maxAge } = {}) {
    const expiry = typeof maxAge === 'number' && Number.isFinite(maxAge) ? Date.now() + maxAge : undefined;
    this.#entries.set(key, { value, expiry });
    return this;
  }

  delete(key) {
    return this.#entries.delete(key);
  }
}

const CLOCK_TOLERANCE = 15;
const store = new UnboundedStore();

const provider = new Provider(ISSUER, {
  adapter: (model) => new MemoryAdapter(model, store, CLOCK_TOLERANCE),
  clockTolerance: CLOCK_TOLERANCE,
  clients: [
    {
      client_id: config.client_id,
      client_name: 'bench',
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      jwks: config.jwks,
      grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: [config.redirect_uri],
      scope: 'openid accounts consents',
      dpop_bound_access_tokens: true,
      require_pushed_authorization_requests: true,
    },
  ],
  jwks: { keys: [{ ...signingKey, kid: 'bench-es256', alg: 'ES256', use: 'sig' }] },
  enabledJWA: {
    clientAuthSigningAlgValues: ['ES256', 'PS256', 'EdDSA'],
    dPoPSigningAlgValues: ['ES256', 'EdDSA'],
    idTokenSigningAlgValues: ['ES256'],
  },
  clientDefaults: { id_token_signed_response_alg: 'ES256' },
  scopes: ['openid', 'offline_access', 'accounts', 'consents'],
  routes: {
    authorization: '/authorize',
    pushed_authorization_request: '/par',
    token: '/token',
    jwks: '/jwks',
  },
  cookies: { keys: ['bench-only-cookie-key-0123456789abcdef'] },
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    dPoP: { enabled: true },
    pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resourceIndicator) => {
        if (resourceIndicator !== RESOURCE) {
          throw new errors.InvalidTarget();
        }
        return {
          scope: RESOURCE_SCOPES,
          audience: ISSUER,
          accessTokenTTL: 300,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        };
      },
    },
  },
  ttl: {
    AccessToken: 300,
    ClientCredentials: 300,
    AuthorizationCode: 60,
    IdToken: 300,
    Interaction: 600,
    Session: 600,
    Grant: 30 * 24 * 3600,
    RefreshToken: 30 * 24 * 3600,
  },
  rotateRefreshToken: true,
  issueRefreshToken: (ctx, client) => client.grantTypeAllowed('refresh_token'),
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  findAccount: (ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
});

// The customer approves at once: login and consent in one step.
provider.use(async (ctx, next) => {
  const match = /^\/interaction\/([\w-]+)$/.exec(ctx.path);
  if (!match || ctx.method !== 'GET') {
    await next();
    return;
  }
  const { params } = await provider.interactionDetails(ctx.req, ctx.res);
  const grant = new provider.Grant({ accountId: ACCOUNT_ID, clientId: params.client_id });
  grant.addOIDCScope(params.scope);
  grant.addResourceScope(RESOURCE, params.scope);
  const grantId = await grant.save();
  const location = await provider.interactionResult(ctx.req, ctx.res, {
    login: { accountId: ACCOUNT_ID, acr: 'urn:senim:loa:2fa', amr: ['face', 'sms'] },
    consent: { grantId },
  }, { mergeWithLastSubmission: false });
  ctx.status = 303;
  ctx.redirect(location);
});

provider.on('server_error', (ctx, error) => {
  console.error('server_error', error);
});

provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider is serving ${ISSUER}`);
});
