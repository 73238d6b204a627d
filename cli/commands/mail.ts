import { spawn } from 'node:child_process';
import { type LoginFlags, login, loginSettings } from '../../core/oauth/login.js';

export type MailLoginOptions = LoginFlags & { device?: boolean; browser?: boolean };

/**
 * `fte mail login`: signs in to the mailbox with OAuth2 (authorization code + PKCE on a loopback
 * redirect, or the device-code flow with --device) and writes the token file (0600, outside the vault).
 * Prints what was written and the scopes, never a token.
 */
export async function mailLogin(opts: MailLoginOptions): Promise<void> {
  const settings = loginSettings(opts, process.env);
  const out = process.stdout;
  const token = await login(settings, {
    device: opts.device ?? false,
    open: (url) => {
      out.write(`Open this address in a browser to sign in:\n${url}\n`);
      if (opts.browser === false) return;
      const opener =
        process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
      const child = spawn(opener, [url], { stdio: 'ignore', detached: true });
      child.on('error', () => undefined);
      child.unref();
    },
    show: (uri, code) => out.write(`On any device, open ${uri} and enter the code ${code}\n`),
  });
  out.write(
    `signed in as ${token.user} (${settings.provider}, ${settings.side} side; scopes: ${token.scopes.join(' ')}); token file written: ${settings.out} (mode 0600)\n`,
  );
  if (settings.side === 'cloud') {
    out.write(
      `For the cluster: kubectl create secret generic fte-imap-oauth --from-file=token.json=${settings.out} (then set IMAP_OAUTH_TOKEN_FILE to the mounted path; see docs/oauth.md)\n`,
    );
  }
}
