import { ConfigError } from '../config.js';
import { authorizationCodeFlow } from './code-flow.js';
import { deviceCodeFlow } from './device-flow.js';
import { isSendScope, PROVIDERS, type ProviderName, type Side } from './providers.js';
import { assertOutsideVault, type TokenFile, writeTokenFile } from './token-store.js';

/** Everything `fte mail login` needs, resolved from flags and the environment. */
export type LoginSettings = {
  provider: ProviderName;
  side: Side;
  user: string;
  clientId: string;
  clientSecret?: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  deviceEndpoint?: string;
  scopes: string[];
  extraAuthParams?: Record<string, string>;
  out: string;
};

export type LoginFlags = {
  provider: string;
  side?: string;
  user?: string;
  clientId?: string;
  clientSecret?: string;
  authorizationEndpoint?: string;
  tokenEndpoint?: string;
  deviceEndpoint?: string;
  scopes?: string;
  out?: string;
};

/** Flags first, then `FTE_OAUTH_*` settings; anything missing or contradictory is a ConfigError (exit 78). */
export function loginSettings(flags: LoginFlags, env: NodeJS.ProcessEnv): LoginSettings {
  const provider = flags.provider as ProviderName;
  if (!['google', 'microsoft', 'custom'].includes(provider))
    throw new ConfigError(
      `--provider must be google, microsoft or custom (got ${JSON.stringify(flags.provider)})`,
    );
  const side = (flags.side ?? 'laptop') as Side;
  if (side !== 'cloud' && side !== 'laptop') throw new ConfigError('--side must be cloud or laptop');
  const clientId = flags.clientId ?? env.FTE_OAUTH_CLIENT_ID;
  if (!clientId)
    throw new ConfigError(
      'set FTE_OAUTH_CLIENT_ID (or --client-id): the client id of your own app registration (docs/oauth.md)',
    );
  const clientSecret = flags.clientSecret ?? env.FTE_OAUTH_CLIENT_SECRET ?? undefined;
  const user = flags.user ?? (side === 'cloud' ? env.IMAP_USER : (env.SMTP_USER ?? env.IMAP_USER));
  if (!user)
    throw new ConfigError(
      '--user (the mailbox address) is missing, and neither SMTP_USER nor IMAP_USER is set',
    );
  const out =
    flags.out ??
    (side === 'cloud' ? env.IMAP_OAUTH_TOKEN_FILE : (env.SMTP_OAUTH_TOKEN_FILE ?? env.IMAP_OAUTH_TOKEN_FILE));
  if (!out)
    throw new ConfigError(
      '--out (where to write the token file) is missing, and no *_OAUTH_TOKEN_FILE is set',
    );
  const preset = provider === 'custom' ? undefined : PROVIDERS[provider];
  const authorizationEndpoint =
    flags.authorizationEndpoint ?? env.FTE_OAUTH_AUTHORIZATION_ENDPOINT ?? preset?.authorizationEndpoint;
  const tokenEndpoint = flags.tokenEndpoint ?? env.FTE_OAUTH_TOKEN_ENDPOINT ?? preset?.tokenEndpoint;
  const deviceEndpoint = flags.deviceEndpoint ?? env.FTE_OAUTH_DEVICE_ENDPOINT ?? preset?.deviceEndpoint;
  if (!authorizationEndpoint || !tokenEndpoint)
    throw new ConfigError(
      '--provider custom needs --authorization-endpoint and --token-endpoint (or FTE_OAUTH_AUTHORIZATION_ENDPOINT, FTE_OAUTH_TOKEN_ENDPOINT)',
    );
  const scopesText = flags.scopes ?? env.FTE_OAUTH_SCOPES;
  const scopes = scopesText ? scopesText.split(/[\s,]+/).filter(Boolean) : preset?.scopes[side];
  if (!scopes || scopes.length === 0)
    throw new ConfigError('--provider custom needs --scopes (or FTE_OAUTH_SCOPES)');
  if (side === 'cloud' && scopes.some(isSendScope)) {
    throw new ConfigError(
      provider === 'google'
        ? 'Google has no read-only IMAP scope (IMAP needs https://mail.google.com/, which also sends): the cloud refuses such a token; use an app password (IMAP_PASSWORD) for the cloud'
        : `the cloud side must not ask for a send scope (${scopes.filter(isSendScope).join(', ')})`,
    );
  }
  assertOutsideVault(
    out,
    [env.FTE_VAULT].filter((v): v is string => Boolean(v)),
  );
  return {
    provider,
    side,
    user,
    clientId,
    clientSecret,
    authorizationEndpoint,
    tokenEndpoint,
    deviceEndpoint,
    scopes,
    extraAuthParams: preset?.extraAuthParams,
    out,
  };
}

/** Runs the flow and writes the token file (0600). Returns what was written, for a summary (no token shown). */
export async function login(
  settings: LoginSettings,
  ui: {
    device: boolean;
    open: (url: string) => void | Promise<void>;
    show: (uri: string, code: string) => void;
    clock?: () => Date;
  },
): Promise<TokenFile> {
  const common = {
    tokenEndpoint: settings.tokenEndpoint,
    clientId: settings.clientId,
    clientSecret: settings.clientSecret,
    scopes: settings.scopes,
  };
  let answer: Awaited<ReturnType<typeof authorizationCodeFlow>>;
  if (ui.device) {
    if (!settings.deviceEndpoint)
      throw new ConfigError(
        'this provider has no device endpoint: set --device-endpoint or sign in without --device',
      );
    answer = await deviceCodeFlow({ ...common, deviceEndpoint: settings.deviceEndpoint, show: ui.show });
  } else {
    answer = await authorizationCodeFlow({
      ...common,
      authorizationEndpoint: settings.authorizationEndpoint,
      extraAuthParams: settings.extraAuthParams,
      loginHint: settings.user,
      open: ui.open,
    });
  }
  if (settings.side === 'cloud' && answer.scopes.some(isSendScope)) {
    throw new ConfigError(
      `the provider granted a send scope (${answer.scopes.filter(isSendScope).join(', ')}) for the cloud side: not written`,
    );
  }
  const now = (ui.clock ?? (() => new Date()))();
  const token: TokenFile = {
    version: 1,
    provider: settings.provider,
    user: settings.user,
    token_endpoint: settings.tokenEndpoint,
    client_id: settings.clientId,
    client_secret: settings.clientSecret,
    scopes: answer.scopes,
    access_token: answer.access_token,
    expires_at: new Date(now.getTime() + (answer.expires_in ?? 3600) * 1000).toISOString(),
    refresh_token: answer.refresh_token,
    obtained_at: now.toISOString(),
  };
  await writeTokenFile(settings.out, token);
  return token;
}
