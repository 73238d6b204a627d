import { homedir } from 'node:os';
import { join } from 'node:path';
import { type ServiceSpec, ServiceValueError, serviceArgv } from './systemd.js';

export const LAUNCHD_LABEL = 'dev.fte.executor';

/** `~/Library/LaunchAgents/dev.fte.executor.plist`. */
export function launchdPlistPath(home = homedir()): string {
  return join(home, 'Library', 'LaunchAgents', `${LAUNCHD_LABEL}.plist`);
}

/** `~/Library/Logs/fte/`: the agent's stdout and stderr. */
export function launchdLogDir(home = homedir()): string {
  return join(home, 'Library', 'Logs', 'fte');
}

/** A word for /bin/sh: single-quoted, each `'` written as `'\''`. */
export function shQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * Text for an XML element: `&`, `<` and `>` escaped (all that element text needs; quotes stay readable);
 * control characters XML 1.0 cannot carry are refused.
 */
export function xmlEscape(value: string): string {
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/.test(value)) {
    throw new ServiceValueError(`${JSON.stringify(value)} contains a character a plist cannot carry`);
  }
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * The shell line the agent runs: launchd has no EnvironmentFile, so /bin/sh exports every setting of the
 * env file (`set -a; . <file>`) and then becomes the executor (`exec`), which launchd supervises.
 */
export function launchdCommand(spec: ServiceSpec): string {
  for (const [what, value] of [
    ['vault path', spec.vault],
    ['env file path', spec.envFile],
  ] as const) {
    if (/[\u0000-\u001f\u007f]/.test(value))
      throw new ServiceValueError(
        `the ${what} ${JSON.stringify(value)} contains a line break or control character`,
      );
  }
  return `set -a; . ${shQuote(spec.envFile)}; set +a; exec ${serviceArgv(spec).map(shQuote).join(' ')}`;
}

/** Where launchd's minimal PATH lacks git: Homebrew (Apple silicon and Intel) and the system's own. */
export const LAUNCHD_PATH = '/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin';

/**
 * The launchd agent (pure): runs at login, restarted when it exits with an error (KeepAlive
 * SuccessfulExit=false, at most every 5 s), output in ~/Library/Logs/fte/executor.log. No secret: the
 * settings come from the env file at start.
 */
export function renderLaunchdPlist(spec: ServiceSpec, home = homedir()): string {
  const log = join(launchdLogDir(home), 'executor.log');
  const s = (value: string) => `<string>${xmlEscape(value)}</string>`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- Written by fte executor install; fte executor uninstall removes it. Settings: the env file named below. -->
<plist version="1.0">
<dict>
  <key>Label</key>
  ${s(LAUNCHD_LABEL)}
  <key>ProgramArguments</key>
  <array>
    ${s('/bin/sh')}
    ${s('-c')}
    ${s(launchdCommand(spec))}
  </array>
  <key>EnvironmentVariables</key>
  <dict>
    <key>PATH</key>
    ${s(LAUNCHD_PATH)}
  </dict>
  <key>RunAtLoad</key>
  <true/>
  <key>KeepAlive</key>
  <dict>
    <key>SuccessfulExit</key>
    <false/>
  </dict>
  <key>ThrottleInterval</key>
  <integer>5</integer>
  <key>StandardOutPath</key>
  ${s(log)}
  <key>StandardErrorPath</key>
  ${s(log)}
</dict>
</plist>
`;
}
