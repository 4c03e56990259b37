/**
 * Login to the web board through OpenID Connect (`openid-client`): authorization code with
 * PKCE (S256), state and nonce against any standard issuer found by discovery. The person is
 * the value of the configured claim (email or sub, from the ID token, else from userinfo),
 * mapped by `board.users` to a Slack user id; their roles come from `roles:`.
 */
import * as client from 'openid-client';
import type { Config } from '../../config/schema.js';

type OidcConfig = NonNullable<NonNullable<Config['board']>['oidc']>;

export interface LoginStart {
  /** Where to send the browser. */
  url: string;
  /** What the callback must find again (kept in the sealed login cookie). */
  pending: { verifier: string; state: string; nonce: string; returnTo: string };
}

const isLoopback = (url: string) => {
  const u = new URL(url);
  return u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname);
};

export class OidcLogin {
  private config: Promise<client.Configuration> | null = null;

  constructor(
    private readonly oidc: OidcConfig,
    private readonly clientSecret: string | undefined,
  ) {}

  /** Discovery once (again after a failure): the issuer may start after serve. */
  private configuration(): Promise<client.Configuration> {
    this.config ??= client
      .discovery(
        new URL(this.oidc.issuer),
        this.oidc.clientId,
        this.clientSecret,
        // Without a secret: a public client (PKCE only).
        this.clientSecret === undefined
          ? client.None()
          : this.oidc.tokenEndpointAuth === 'client_secret_post'
            ? client.ClientSecretPost(this.clientSecret)
            : client.ClientSecretBasic(this.clientSecret),
        // Plain HTTP only to an issuer on this machine (a test or a local provider).
        isLoopback(this.oidc.issuer) ? { execute: [client.allowInsecureRequests] } : undefined,
      )
      .catch((err: unknown) => {
        this.config = null;
        throw err;
      });
    return this.config;
  }

  async start(returnTo: string): Promise<LoginStart> {
    const config = await this.configuration();
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: this.oidc.redirectUrl,
      scope: this.oidc.scopes.join(' '),
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    return { url: url.href, pending: { verifier, state, nonce, returnTo } };
  }

  /** The claim value of the person who came back with this callback URL. */
  async finish(callbackUrl: URL, pending: LoginStart['pending']): Promise<string> {
    const config = await this.configuration();
    const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier: pending.verifier,
      expectedState: pending.state,
      expectedNonce: pending.nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims();
    if (!claims) throw new Error('the issuer sent no ID token');
    let source: Record<string, unknown> = claims;
    if (typeof claims[this.oidc.claim] !== 'string') {
      // Many issuers put email only in userinfo when an access token is issued.
      source = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    }
    const value = source[this.oidc.claim];
    if (typeof value !== 'string' || !value) throw new Error(`the issuer did not say the ${this.oidc.claim} claim`);
    if (this.oidc.claim === 'email' && source.email_verified === false)
      throw new Error('the issuer says this email is not verified');
    return value;
  }
}
