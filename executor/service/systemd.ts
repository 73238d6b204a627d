import { join } from 'node:path';
import { EXIT, FteError } from '../../core/errors.js';
import { configHome } from './env-file.js';

/** What a service definition runs: `<node> <main.js> executor --vault <vault> [--agent <agent>]`. */
export type ServiceSpec = {
  /** Absolute path of the node binary. */
  node: string;
  /** Absolute path of this fte's `dist/cli/main.js`. */
  main: string;
  /** Absolute vault path. */
  vault: string;
  /** Passed as `--agent` when not the default (`local`). */
  agent?: string;
  /** Absolute path of the env file (settings and secrets; the unit itself holds none). */
  envFile: string;
};

export const SYSTEMD_UNIT_NAME = 'fte-executor.service';

/** `$XDG_CONFIG_HOME/systemd/user/fte-executor.service` (else `~/.config/...`), where `systemctl --user` looks. */
export function systemdUnitPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(configHome(env), 'systemd', 'user', SYSTEMD_UNIT_NAME);
}

/** A path or argument with a line break or another control character: no unit or plist carries it safely (exit 2). */
export class ServiceValueError extends FteError {
  constructor(message: string) {
    super(message, { exitCode: EXIT.usage });
  }
}

function plain(value: string, what: string): string {
  if (/[\u0000-\u001f\u007f]/.test(value)) {
    throw new ServiceValueError(
      `the ${what} ${JSON.stringify(value)} contains a line break or control character`,
    );
  }
  return value;
}

/** `%` starts a unit specifier (`%h`, `%n`) in every setting; `%%` is a literal `%`. */
function escapeSpecifiers(value: string): string {
  return value.replace(/%/g, '%%');
}

/**
 * One argument of a systemd command line (`ExecStart=`, after the program), read back by systemd as exactly `value`: bare when it
 * is only safe characters, else double-quoted with `\` and `"` escaped (systemd C-unescapes quoted words),
 * `%` as `%%` (specifiers) and `$` as `$$` (environment variable expansion).
 */
export function systemdQuote(value: string): string {
  plain(value, 'argument');
  if (/^[A-Za-z0-9_@+=:,./-]+$/.test(value)) return value;
  const escaped = value
    .replace(/[\\"]/g, (c) => `\\${c}`)
    .replace(/%/g, '%%')
    .replace(/\$/g, '$$$$');
  return `"${escaped}"`;
}

/**
 * The first word of `ExecStart=` (the program): systemd expands specifiers there but no `$` variables, and
 * refuses a program path with a quote or a backslash outright ("Executable name contains special
 * characters"), so such a path is refused here, with what to do.
 */
export function systemdExecutable(path: string): string {
  plain(path, 'program path');
  if (/["'\\]/.test(path)) {
    throw new ServiceValueError(
      `systemd cannot run a program whose path has a quote or a backslash: ${path}; move node (or fte) to a plainer path`,
    );
  }
  if (/^[A-Za-z0-9_@+=:,./-]+$/.test(path)) return path;
  return `"${path.replace(/%/g, '%%')}"`;
}

/** The argv of the service: node, main.js, `executor --vault <vault>` and `--agent` when not the default. */
export function serviceArgv(spec: ServiceSpec): string[] {
  const argv = [spec.node, spec.main, 'executor', '--vault', spec.vault];
  if (spec.agent && spec.agent !== 'local') argv.push('--agent', spec.agent);
  return argv;
}

/**
 * The systemd user unit (pure). No secret: the settings come from `EnvironmentFile=`. Restarts on failure
 * after 5 s, except on exit 78 (a wrong setting, which a restart cannot fix); logs go to the journal
 * (`journalctl --user -u fte-executor`).
 */
export function renderSystemdUnit(spec: ServiceSpec): string {
  const argv = serviceArgv(spec);
  const envFile = plain(spec.envFile, 'env file path');
  const vault = plain(spec.vault, 'vault path');
  return `# Written by \`fte executor install\`; \`fte executor uninstall\` removes it.
# Settings and secrets live in the EnvironmentFile below, never in this unit.
[Unit]
Description=${escapeSpecifiers(`fte local executive for the vault ${vault}`)}
After=network-online.target

[Service]
Type=simple
ExecStart=${[systemdExecutable(argv[0] as string), ...argv.slice(1).map(systemdQuote)].join(' ')}
EnvironmentFile=${escapeSpecifiers(envFile)}
Restart=on-failure
RestartSec=5
# 78: a wrong setting. Fix the env file, then: systemctl --user restart ${SYSTEMD_UNIT_NAME}
RestartPreventExitStatus=78
StandardOutput=journal
StandardError=journal
SyslogIdentifier=fte-executor

[Install]
WantedBy=default.target
`;
}
