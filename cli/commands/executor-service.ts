import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultEnvFilePath, envFilePath } from '../../executor/service/env-file.js';
import {
  assertOutsideVault,
  type EnvFileOutcome,
  ensureEnvFile,
  removeFile,
  runCommand,
  writeFileAtomic,
} from '../../executor/service/install.js';
import {
  LAUNCHD_LABEL,
  launchdLogDir,
  launchdPlistPath,
  renderLaunchdPlist,
} from '../../executor/service/launchd.js';
import {
  renderSystemdUnit,
  type ServiceSpec,
  SYSTEMD_UNIT_NAME,
  systemdUnitPath,
} from '../../executor/service/systemd.js';
import { SetupError } from '../../executor/setup.js';
import { CliError } from '../errors.js';

/**
 * `fte executor install` / `uninstall`: the laptop's executor as a user service (systemd on Linux, launchd
 * on macOS) that starts at login and restarts after a failure. Settings and secrets stay in the env file
 * (0600, outside the vault); the unit or plist holds none.
 */

type Platform = 'linux' | 'darwin';

function platformOf(option: string | undefined): Platform {
  const value = option ?? process.platform;
  if (value === 'linux' || value === 'darwin') return value;
  throw new SetupError(
    `no service support for ${JSON.stringify(value)}: Linux (systemd) and macOS (launchd, --platform darwin) only`,
  );
}

/** This fte's own entry point (dist/cli/main.js), next to this file's folder. */
function mainScript(): string {
  return fileURLToPath(new URL('../main.js', import.meta.url));
}

const out = (line = '') => process.stdout.write(`${line}\n`);

function describeEnvFile(env: EnvFileOutcome): string[] {
  const lines: string[] = [];
  if (env.created) {
    lines.push(`env file ${env.path}: created (mode 0600); fill in your settings (SMTP_*, …) there`);
    if (env.filled.length) lines.push(`  filled from this environment: ${env.filled.join(', ')}`);
    if (env.skipped.length)
      lines.push(`  not filled (a line break in the value): ${env.skipped.join(', ')}; set them by hand`);
  } else {
    lines.push(`env file ${env.path}: kept as it is (never overwritten)`);
    if (env.fixedMode !== undefined)
      lines.push(`  its mode was ${env.fixedMode.toString(8).padStart(4, '0')}, now 0600 (it holds secrets)`);
  }
  if (env.fixedDirMode !== undefined)
    lines.push(`  its folder's mode was ${env.fixedDirMode.toString(8).padStart(4, '0')}, now 0700`);
  return lines;
}

export type InstallOptions = {
  vault: string;
  agent: string;
  /** `--env-path` (not `--env-file`: Node 20 reads that itself even after the script, nodejs/node#54232). */
  envPath?: string;
  fromEnv?: boolean;
  /** `--no-enable` sets this false. */
  enable: boolean;
  dryRun?: boolean;
  platform?: string;
};

export async function runInstall(opts: InstallOptions): Promise<void> {
  const platform = platformOf(opts.platform);
  const vault = resolve(opts.vault);
  if (!existsSync(join(vault, '.git'))) {
    throw new SetupError(`${vault} is not a vault (no git repo there); create one with fte init`);
  }
  const envFile = envFilePath(opts.envPath);
  await assertOutsideVault(envFile, vault);
  const main = mainScript();
  if (!existsSync(main)) throw new CliError(`${main} does not exist; build fte first (make build)`);
  const spec: ServiceSpec = { node: process.execPath, main, vault, agent: opts.agent, envFile };
  const home = homedir();
  const [path, text] =
    platform === 'linux'
      ? [systemdUnitPath(), renderSystemdUnit(spec)]
      : [launchdPlistPath(home), renderLaunchdPlist(spec, home)];
  if (opts.dryRun) {
    process.stdout.write(text);
    process.stderr.write(`(not written: would write ${path}, with settings from ${envFile})\n`);
    return;
  }

  const env = await ensureEnvFile(envFile, vault, {
    fromEnv: opts.fromEnv ? process.env : undefined,
    tightenDir: envFile === defaultEnvFilePath(),
  });
  await writeFileAtomic(path, text);
  out(`wrote ${path}`);
  for (const line of describeEnvFile(env)) out(line);
  out(`runs: ${process.execPath} ${main} executor --vault ${vault}`);

  if (platform === 'linux') {
    const steps = [
      ['daemon-reload'],
      ['enable', SYSTEMD_UNIT_NAME],
      // restart, not start: a re-install takes effect on a running service too.
      ['restart', SYSTEMD_UNIT_NAME],
    ];
    if (!opts.enable) {
      out('not enabled (--no-enable); to start it now and at every login:');
      out('  systemctl --user daemon-reload');
      out(`  systemctl --user enable --now ${SYSTEMD_UNIT_NAME}`);
    } else {
      for (const args of steps) {
        const result = await runCommand('systemctl', ['--user', ...args]);
        if (!result.ok) {
          throw new CliError(
            `systemctl --user ${args.join(' ')} failed: ${result.output}. The unit is written at ${path}; ` +
              `run systemctl --user daemon-reload and systemctl --user enable --now ${SYSTEMD_UNIT_NAME} in your login session`,
          );
        }
        out(`ran: systemctl --user ${args.join(' ')}`);
      }
    }
    out('logs: journalctl --user -u fte-executor -f');
    out('to keep it running while you are logged out: loginctl enable-linger "$USER"');
    out('check the setup: fte doctor --vault <vault>');
    return;
  }

  await mkdir(launchdLogDir(home), { recursive: true, mode: 0o700 });
  const domain = `gui/${process.getuid?.() ?? 501}`;
  if (!opts.enable) {
    out('not loaded (--no-enable); to start it now and at every login:');
    out(`  launchctl bootstrap ${domain} ${path}`);
  } else {
    // A loaded older version must go first, or bootstrap refuses ("service already loaded").
    await runCommand('launchctl', ['bootout', `${domain}/${LAUNCHD_LABEL}`]);
    const result = await runCommand('launchctl', ['bootstrap', domain, path]);
    if (!result.ok) {
      throw new CliError(
        `launchctl bootstrap ${domain} ${path} failed: ${result.output}. The agent is written at ${path}`,
      );
    }
    out(`ran: launchctl bootstrap ${domain} ${path}`);
  }
  out(`logs: ${join(launchdLogDir(home), 'executor.log')}`);
  out('check the setup: fte doctor --vault <vault>');
}

export type UninstallOptions = { enable: boolean; platform?: string; envPath?: string };

export async function runUninstall(opts: UninstallOptions): Promise<void> {
  const platform = platformOf(opts.platform);
  const envFile = envFilePath(opts.envPath);
  if (platform === 'linux') {
    const path = systemdUnitPath();
    if (opts.enable) {
      const result = await runCommand('systemctl', ['--user', 'disable', '--now', SYSTEMD_UNIT_NAME]);
      out(
        result.ok
          ? `ran: systemctl --user disable --now ${SYSTEMD_UNIT_NAME}`
          : `systemctl --user disable --now ${SYSTEMD_UNIT_NAME}: ${result.output} (continuing)`,
      );
    } else {
      out(`not stopped (--no-enable); to stop it: systemctl --user disable --now ${SYSTEMD_UNIT_NAME}`);
    }
    out((await removeFile(path)) ? `removed ${path}` : `no unit at ${path} (nothing to remove)`);
    if (opts.enable) await runCommand('systemctl', ['--user', 'daemon-reload']);
    else out('then: systemctl --user daemon-reload');
  } else {
    const path = launchdPlistPath();
    const domain = `gui/${process.getuid?.() ?? 501}`;
    if (opts.enable) {
      const result = await runCommand('launchctl', ['bootout', `${domain}/${LAUNCHD_LABEL}`]);
      out(
        result.ok
          ? `ran: launchctl bootout ${domain}/${LAUNCHD_LABEL}`
          : `launchctl bootout ${domain}/${LAUNCHD_LABEL}: ${result.output} (continuing)`,
      );
    } else {
      out(`not stopped (--no-enable); to stop it: launchctl bootout ${domain}/${LAUNCHD_LABEL}`);
    }
    out((await removeFile(path)) ? `removed ${path}` : `no agent at ${path} (nothing to remove)`);
  }
  out(
    `kept the env file ${envFile} (your settings and secrets); delete it yourself if you no longer need it`,
  );
}
