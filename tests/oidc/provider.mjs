// A real OpenID Connect provider for aim's tests: the certified `oidc-provider` from npm, run
// with the machine's Node.js, on a loopback port. The Rust tests (crates/oidc/tests/) start it,
// read the one JSON line it prints on standard output ({"issuer": ...}), drive a login as a
// browser would, and stop it by closing its standard input (or killing it).
//
//   node tests/oidc/provider.mjs --redirect-uri http://127.0.0.1:PORT/callback [--port N]
//
// Environment: AIM_TEST_OIDC_SECRET, the client secret of the confidential clients.
// Keys: one RSA (RS256) and one P-256 (ES256) signing key, generated at every start (new kids).
// Clients: aim-basic (client_secret_basic, ID tokens RS256), aim-post (client_secret_post,
// ES256), aim-public (a public client: no secret, PKCE only, RS256).
// The one account: login `tester-01` (any password: the provider's own development
// interactions), e-mail tester01@example.be, verified. Any other login is not an account.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import Provider from 'oidc-provider';

const { values } = parseArgs({
  options: {
    'redirect-uri': { type: 'string' },
    port: { type: 'string', default: '0' },
  },
});
const redirectUri = values['redirect-uri'];
if (!redirectUri) {
  console.error('usage: provider.mjs --redirect-uri URI [--port N]');
  process.exit(2);
}
const secret = process.env.AIM_TEST_OIDC_SECRET;
if (!secret || secret.length < 32) {
  console.error('AIM_TEST_OIDC_SECRET must hold a client secret of at least 32 characters');
  process.exit(2);
}

function signingKey(type, options, alg) {
  const { privateKey } = generateKeyPairSync(type, options);
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: `${alg.toLowerCase()}-${randomBytes(6).toString('hex')}`, alg, use: 'sig' };
}

const keys = [
  signingKey('rsa', { modulusLength: 2048 }, 'RS256'),
  signingKey('ec', { namedCurve: 'P-256' }, 'ES256'),
];

const ACCOUNTS = {
  'tester-01': { email: 'tester01@example.be', email_verified: true, name: 'Tester One' },
};

const client = (id, auth, alg) => ({
  client_id: id,
  ...(auth === 'none' ? {} : { client_secret: secret }),
  token_endpoint_auth_method: auth,
  id_token_signed_response_alg: alg,
  redirect_uris: [redirectUri],
  grant_types: ['authorization_code'],
  response_types: ['code'],
});

const server = createServer();
server.listen(Number(values.port), '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [
      client('aim-basic', 'client_secret_basic', 'RS256'),
      client('aim-post', 'client_secret_post', 'ES256'),
      client('aim-public', 'none', 'RS256'),
    ],
    jwks: { keys },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
    },
    async findAccount(ctx, sub) {
      const claims = ACCOUNTS[sub];
      if (!claims) return undefined;
      return { accountId: sub, claims: async () => ({ sub, ...claims }) };
    },
    features: { devInteractions: { enabled: true } },
  });
  // The tests see nothing of the provider's development warnings.
  provider.on('server_error', (ctx, err) => console.error('provider error:', err));
  server.on('request', provider.callback());
  console.log(JSON.stringify({ issuer, kids: keys.map((k) => k.kid) }));
});

// Ends when the test closes standard input (the test's process ended too).
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
