// Loopback authorization server for bearerguard's interop tests, built on
// oidc-provider (the engine under Logto). Not for production use.
//
//   node server.mjs --port PORT --state DIR
//
// PORT 0 picks a free port. The server listens on 127.0.0.1 only, prints
// "listening on http://127.0.0.1:PORT" once the provider is ready, and keeps
// its signing keys in DIR/jwks.json so that a restart on the same port serves
// the same keys (an outage, not a rotation).
//
// Resources (RFC 8707 resource indicators), both issuing JWT access tokens
// with typ "at+jwt" (RFC 9068):
//   https://api.example.test     RS256, scopes "read:users write:users"
//   https://api-es.example.test  ES256, scopes "read:users write:users"
// and one issuing opaque access tokens whose introspection names it in aud:
//   https://api-opaque.example.test  scopes "read:users write:users"
// Any other resource is refused with invalid_target. A token request without
// a resource gets an opaque access token, as oidc-provider does by default
// (and Logto for resource-less requests): one issuer, both kinds (hybrid).
//
// Opaque tokens live in oidc-provider's in-process memory adapter only: a
// restart forgets them (introspection then answers active:false), unlike the
// signing keys. Endpoints for them:
//   /token/introspection  RFC 7662. Callers authenticate as any registered
//                         client, with client_secret_basic or _post; only the
//                         resource-server client bearerguard-api (no grants of
//                         its own) is answered anything but active:false.
//                         Structured (JWT) tokens are refused with
//                         unsupported_token_type, as oidc-provider does.
//   /token/revocation     RFC 7009. Only the client a token was issued to may
//                         revoke it.
//
// DPoP (RFC 9449): a token request with a DPoP proof header gets a
// DPoP-bound access token (token_type "DPoP"; a JWT one carries cnf.jkt, the
// RFC 7638 thumbprint of the proof's key). The server insists on its own
// nonce in every DPoP proof (section 8): a proof without one is answered 400
// use_dpop_nonce with a DPoP-Nonce header to retry with. Requests without a
// DPoP header are not affected.
//
// Admin endpoints on the same port, POST only, loopback peers only:
//   /__admin/rotate  add a new RSA and a new EC key; they sign from now on,
//                    the previous keys stay published
//   /__admin/drop    stop publishing every key but the newest of each type
// Both answer with {"kids": [...]}, newest first. oidc-provider's keystore is
// fixed at construction, so both build a new Provider with the new key set
// and swap it in behind the same listener; issuer and port do not change.
// Grants and sessions live in oidc-provider's module-level memory adapter
// and survive the swap.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.PORT ?? '0' },
    state: { type: 'string', default: process.env.STATE_DIR ?? '' },
  },
});

const port = Number.parseInt(args.port, 10);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`invalid --port ${args.port}`);
  process.exit(2);
}

const clients = [
  {
    // Logto-style machine-to-machine app: client_secret_basic. Also allowed
    // the authorization code flow so that tests can obtain a real ID token.
    client_id: 'bearerguard-basic',
    client_secret: 'bearerguard-basic-secret-0123456789abcdef',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['client_credentials', 'authorization_code'],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1/callback'],
    scope: 'openid read:users write:users delete:users',
  },
  {
    client_id: 'bearerguard-post',
    client_secret: 'bearerguard-post-secret-0123456789abcdef',
    token_endpoint_auth_method: 'client_secret_post',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    scope: 'read:users write:users delete:users',
  },
  {
    // The client interop tests get opaque tokens for and revoke them as; the
    // same name and secret as at the Authlib server.
    client_id: 'bearerguard-opaque',
    client_secret: 'bearerguard-opaque-secret-0123456789abcdef',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    scope: 'read:users write:users delete:users',
  },
  {
    // The API itself, as a client of the authorization server: it may call
    // the introspection endpoint and nothing else.
    client_id: 'bearerguard-api',
    client_secret: 'bearerguard-api-secret-0123456789abcdef',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: [],
    response_types: [],
    redirect_uris: [],
  },
];

const introspector = 'bearerguard-api';

const resources = {
  'https://api.example.test': { alg: 'RS256', kty: 'RSA' },
  'https://api-es.example.test': { alg: 'ES256', kty: 'EC' },
  'https://api-opaque.example.test': { format: 'opaque' },
};
const resourceScope = 'read:users write:users';
const accessTokenTTL = 600;

// RFC 7638 thumbprint: the required members in lexicographic order.
function thumbprint(jwk) {
  const members = jwk.kty === 'RSA'
    ? { e: jwk.e, kty: jwk.kty, n: jwk.n }
    : { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
  return crypto.hash('sha256', JSON.stringify(members), 'base64url');
}

function generateKey(kind) {
  const { privateKey } = kind === 'RSA'
    ? crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
    : crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' });
  return {
    ...jwk, kid: thumbprint(jwk), use: 'sig', alg: kind === 'RSA' ? 'RS256' : 'ES256',
  };
}

const stateFile = args.state ? path.join(args.state, 'jwks.json') : '';

// keys is newest first: oidc-provider signs with the first key that fits.
let keys;
if (stateFile && fs.existsSync(stateFile)) {
  keys = JSON.parse(fs.readFileSync(stateFile, 'utf8')).keys;
} else {
  keys = [generateKey('RSA'), generateKey('EC')];
}

function saveKeys() {
  if (stateFile) {
    fs.writeFileSync(`${stateFile}.tmp`, JSON.stringify({ keys }));
    fs.renameSync(`${stateFile}.tmp`, stateFile);
  }
}
saveKeys();

function newestKid(kty) {
  return keys.find((k) => k.kty === kty).kid;
}

const cookieKeys = [crypto.randomBytes(32).toString('base64url')];
// Stateless DPoP nonces are an HMAC under this secret; kept across provider
// swaps so that a nonce handed out before a rotation still works.
const dPoPNonceSecret = crypto.randomBytes(32);

function buildProvider(issuer) {
  return new Provider(issuer, {
    clients,
    jwks: { keys },
    cookies: { keys: cookieKeys },
    scopes: ['openid', 'read:users', 'write:users', 'delete:users'],
    claims: { openid: ['sub'], profile: ['name'] },
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      dPoP: {
        enabled: true,
        nonceSecret: dPoPNonceSecret,
        requireNonce: () => true,
      },
      introspection: {
        enabled: true,
        allowedPolicy: (ctx, client) => client.clientId === introspector,
      },
      revocation: {
        enabled: true,
        // oidc-provider's default, without its "you should change this" warning.
        allowedPolicy(ctx, client, token) {
          if (client.clientId !== token.clientId) {
            throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
          }
          return true;
        },
      },
      resourceIndicators: {
        enabled: true,
        // The authorization code flow here exists to get an ID token; its
        // access token stays opaque (userinfo only) unless a resource is asked.
        defaultResource: () => undefined,
        useGrantedResource: () => false,
        getResourceServerInfo(ctx, resourceIndicator) {
          const rs = resources[resourceIndicator];
          if (!rs) {
            throw new errors.InvalidTarget();
          }
          if (rs.format === 'opaque') {
            return { scope: resourceScope, accessTokenTTL, accessTokenFormat: 'opaque' };
          }
          return {
            scope: resourceScope,
            accessTokenTTL,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: rs.alg, kid: newestKid(rs.kty) } },
          };
        },
      },
    },
    async findAccount(ctx, sub) {
      return {
        accountId: sub,
        async claims() {
          return { sub, name: `Test user ${sub}` };
        },
      };
    },
    ttl: {
      AccessToken: accessTokenTTL,
      ClientCredentials: accessTokenTTL,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
    },
  });
}

function isLoopback(address) {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}

function sendJSON(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

let provider;
let handler;
let issuer;

function swapProvider() {
  provider = buildProvider(issuer);
  // Errors otherwise only reach the client; print them for the test log.
  for (const event of ['server_error', 'grant.error', 'authorization.error']) {
    provider.on(event, (ctx, err) => {
      console.error(`${event}: ${err.name}: ${err.message}${err.error_description ? ` (${err.error_description})` : ''}`);
    });
  }
  handler = provider.callback();
}

function admin(req, res) {
  if (!isLoopback(req.socket.remoteAddress)) {
    sendJSON(res, 403, { error: 'forbidden' });
    return;
  }
  if (req.method !== 'POST') {
    res.setHeader('allow', 'POST');
    sendJSON(res, 405, { error: 'method not allowed' });
    return;
  }
  switch (req.url) {
    case '/__admin/rotate':
      keys = [generateKey('RSA'), generateKey('EC'), ...keys];
      break;
    case '/__admin/drop':
      keys = [keys.find((k) => k.kty === 'RSA'), keys.find((k) => k.kty === 'EC')];
      break;
    default:
      sendJSON(res, 404, { error: 'not found' });
      return;
  }
  saveKeys();
  swapProvider();
  console.log(`admin ${req.url}: kids ${keys.map((k) => k.kid).join(' ')}`);
  sendJSON(res, 200, { kids: keys.map((k) => k.kid) });
}

const server = http.createServer((req, res) => {
  if (req.url.startsWith('/__admin/')) {
    admin(req, res);
    return;
  }
  if (!handler) {
    sendJSON(res, 503, { error: 'starting' });
    return;
  }
  handler(req, res);
});

server.on('error', (err) => {
  console.error(`listen: ${err.message}`);
  process.exit(1);
});

server.listen(port, '127.0.0.1', () => {
  issuer = `http://127.0.0.1:${server.address().port}`;
  swapProvider();
  console.log(`kids ${keys.map((k) => k.kid).join(' ')}`);
  console.log(`listening on ${issuer}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => process.exit(0));
}
