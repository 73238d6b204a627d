/**
 * OAuth2 provider presets for mail: endpoints and the scopes each side of fte needs. The cloud only reads
 * (IMAP); the laptop sends (SMTP) and files the Sent copy (IMAP). `custom` takes everything from settings.
 */

export type ProviderName = 'google' | 'microsoft' | 'custom';
export type Side = 'cloud' | 'laptop';

export type ProviderPreset = {
  authorizationEndpoint: string;
  tokenEndpoint: string;
  deviceEndpoint?: string;
  scopes: Record<Side, string[]>;
  /** Scopes that allow sending mail: a token holding one is refused by the cloud. */
  sendScopes: string[];
  /** Extra authorization parameters (a refresh token is only issued when asked for). */
  extraAuthParams?: Record<string, string>;
};

export const PROVIDERS: Record<Exclude<ProviderName, 'custom'>, ProviderPreset> = {
  google: {
    authorizationEndpoint: 'https://accounts.google.com/o/oauth2/v2/auth',
    tokenEndpoint: 'https://oauth2.googleapis.com/token',
    deviceEndpoint: 'https://oauth2.googleapis.com/device/code',
    // Google has a single scope for IMAP and SMTP (https://mail.google.com/): it is the only one IMAP
    // accepts, so a Google token always allows sending. The cloud therefore cannot use a Google token
    // (it refuses send-capable tokens); use an app password or a read-only provider there.
    scopes: { cloud: ['https://mail.google.com/'], laptop: ['https://mail.google.com/'] },
    sendScopes: ['https://mail.google.com/'],
    extraAuthParams: { access_type: 'offline', prompt: 'consent' },
  },
  microsoft: {
    authorizationEndpoint: 'https://login.microsoftonline.com/common/oauth2/v2.0/authorize',
    tokenEndpoint: 'https://login.microsoftonline.com/common/oauth2/v2.0/token',
    deviceEndpoint: 'https://login.microsoftonline.com/common/oauth2/v2.0/devicecode',
    scopes: {
      cloud: ['https://outlook.office.com/IMAP.AccessAsUser.All', 'offline_access'],
      laptop: [
        'https://outlook.office.com/IMAP.AccessAsUser.All',
        'https://outlook.office.com/SMTP.Send',
        'offline_access',
      ],
    },
    sendScopes: ['https://outlook.office.com/SMTP.Send'],
  },
};

/** Scopes that allow sending, for any provider (used by the cloud's refusal). */
export const SEND_SCOPES = [
  ...PROVIDERS.google.sendScopes,
  ...PROVIDERS.microsoft.sendScopes,
  // Generic names a custom provider may use (and the test server's).
  'smtp',
  'mail.send',
  'SMTP.Send',
];

/** Whether a scope allows sending mail. */
export function isSendScope(scope: string): boolean {
  const s = scope.toLowerCase();
  return (
    SEND_SCOPES.some((known) => known.toLowerCase() === s) ||
    /(^|[/.:])smtp([./:]|$)|smtp\.send|mail\.send/.test(s)
  );
}
