import { loginNeeded } from '../core/oauth/token-source.js';
import type { DashboardState } from './dashboard.js';

/**
 * "Run `fte mail login` again": the lines the dashboard, the status page and `fte doctor` show when a mail
 * sign-in (OAuth) was revoked or expired. Two sources: this machine's own token files (SMTP, the Sent
 * copy's IMAP), whose refused refresh left a `.login-needed` marker, and the cloud's signals
 * (`mail_login_needed` until a `mail_login_restored`), merged into the dashboard state.
 */

/** This machine's token files, from its settings. */
export function localMailTokenFiles(env: NodeJS.ProcessEnv): string[] {
  const files = [env.SMTP_OAUTH_TOKEN_FILE, env.IMAP_OAUTH_TOKEN_FILE]
    .map((f) => f?.trim())
    .filter((f): f is string => Boolean(f));
  return [...new Set(files)];
}

export async function mailLoginLines(
  state: DashboardState | undefined,
  tokenFiles: string[],
): Promise<string[]> {
  const lines: string[] = [];
  for (const file of tokenFiles) {
    const marker = await loginNeeded(file);
    if (marker) lines.push(`this machine: ${marker.message}`);
  }
  for (const [agent, entry] of Object.entries(state?.mailLogin ?? {}).sort(([a], [b]) =>
    a.localeCompare(b),
  )) {
    lines.push(`${agent}: ${entry.message}`);
  }
  return lines;
}
