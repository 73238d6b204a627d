import { execFile } from 'node:child_process';
import { chmod, mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseEnvFile } from '../../executor/service/env-file.js';
import { renderLaunchdPlist } from '../../executor/service/launchd.js';
import { renderSystemdUnit, systemdExecutable, systemdQuote } from '../../executor/service/systemd.js';
import { cloudEnv } from '../helpers/cli.js';
import { CLI, git, runCli, tempDir } from './helpers.js';

const exec = promisify(execFile);

/** A vault path with everything a unit or a shell line can get wrong: spaces, both quotes, %, $, a backslash. */
const ODD_NAME = `my "odd" vault's 100% $HOME \\ end`;

type Setup = { root: string; home: string; config: string; vault: string; env: NodeJS.ProcessEnv };

async function setup(vaultName = ODD_NAME): Promise<Setup> {
  const root = await tempDir('fte-svc-');
  const home = join(root, 'home');
  const config = join(root, 'xdg config');
  const vault = join(root, vaultName);
  await mkdir(home, { recursive: true });
  await mkdir(vault, { recursive: true });
  await git(vault, 'init', '--quiet', '--initial-branch=main');
  return { root, home, config, vault, env: { ...cloudEnv(), HOME: home, XDG_CONFIG_HOME: config } };
}

const unitPath = (s: Setup) => join(s.config, 'systemd', 'user', 'fte-executor.service');
const envPath = (s: Setup) => join(s.config, 'fte', 'executor.env');
const plistPath = (s: Setup) => join(s.home, 'Library', 'LaunchAgents', 'dev.fte.executor.plist');
const mode = async (path: string) => (await stat(path)).mode & 0o777;

/**
 * `systemd-analyze verify --user` on a unit file: systemd's own parser (unknown keys, bad values, unbalanced
 * quoting, a first ExecStart word that is not an executable file). It needs a runtime folder for the user
 * manager it simulates; it exits 0 even after "ignoring" a bad line, so stderr must be empty too.
 */
async function systemdVerify(unit: string, runtime: string): Promise<{ code: number; stderr: string }> {
  await mkdir(runtime, { recursive: true, mode: 0o700 });
  try {
    const { stderr } = await exec('systemd-analyze', ['verify', '--user', unit], {
      env: { ...process.env, XDG_RUNTIME_DIR: runtime, SYSTEMD_LOG_LEVEL: 'info' },
    });
    return { code: 0, stderr };
  } catch (error) {
    const e = error as { code?: number; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stderr: e.stderr ?? String(error) };
  }
}

// ---- a minimal strict XML reader (well-formedness) and plist decoder, since plutil is macOS-only ----

type XmlNode = { name: string; children: Array<XmlNode | string> };

function parseXml(text: string): XmlNode {
  let i = 0;
  const fail = (why: string): never => {
    throw new Error(`not well-formed XML at ${i}: ${why}`);
  };
  const skipMisc = () => {
    for (;;) {
      while (/\s/.test(text[i] ?? '')) i++;
      if (text.startsWith('<?', i)) i = text.indexOf('?>', i) + 2 || fail('unclosed <?');
      else if (text.startsWith('<!--', i)) {
        const end = text.indexOf('-->', i + 4);
        if (end === -1) fail('unclosed comment');
        if (text.slice(i + 4, end).includes('--')) fail('-- inside a comment');
        i = end + 3;
      } else if (text.startsWith('<!DOCTYPE', i)) i = text.indexOf('>', i) + 1 || fail('unclosed DOCTYPE');
      else return;
    }
  };
  const decode = (raw: string): string => {
    if (raw.includes('<')) fail('< in text');
    return raw.replace(/&([^;]*);|&/g, (m, name: string | undefined) => {
      const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
      if (name === undefined) return fail(`a bare & in ${JSON.stringify(raw)}`);
      if (named[name]) return named[name];
      const num = /^#(x[0-9a-f]+|[0-9]+)$/i.exec(name);
      if (num) return String.fromCodePoint(Number(num[1]!.startsWith('x') ? `0${num[1]}` : num[1]));
      return fail(`unknown entity ${m}`);
    });
  };
  const element = (): XmlNode => {
    const open = /^<([A-Za-z][\w.-]*)((?:\s+[A-Za-z][\w.-]*="[^"<&]*")*)\s*(\/?)>/.exec(text.slice(i));
    if (!open) return fail('expected a start tag');
    i += open[0].length;
    const node: XmlNode = { name: open[1]!, children: [] };
    if (open[3]) return node;
    for (;;) {
      const lt = text.indexOf('<', i);
      if (lt === -1) fail(`unclosed <${node.name}>`);
      const raw = text.slice(i, lt);
      if (raw.length) node.children.push(decode(raw));
      i = lt;
      if (text.startsWith('</', i)) {
        const close = /^<\/([A-Za-z][\w.-]*)\s*>/.exec(text.slice(i));
        if (!close || close[1] !== node.name) fail(`</${close?.[1]}> closes <${node.name}>`);
        i += close![0].length;
        return node;
      }
      if (text.startsWith('<!--', i)) {
        const end = text.indexOf('-->', i);
        i = end === -1 ? fail('unclosed comment') : end + 3;
        continue;
      }
      node.children.push(element());
    }
  };
  skipMisc();
  const root = element();
  skipMisc();
  if (i !== text.length) fail('content after the root element');
  return root;
}

type Plist = string | number | boolean | Plist[] | { [key: string]: Plist };

function plistValue(node: XmlNode): Plist {
  const elements = node.children.filter((c): c is XmlNode => typeof c !== 'string');
  const text = node.children.filter((c): c is string => typeof c === 'string').join('');
  switch (node.name) {
    case 'string':
      return text;
    case 'integer':
      return Number(text);
    case 'true':
      return true;
    case 'false':
      return false;
    case 'array':
      return elements.map(plistValue);
    case 'dict': {
      const dict: Record<string, Plist> = {};
      for (let k = 0; k < elements.length; k += 2) {
        const key = elements[k]!;
        if (key.name !== 'key') throw new Error(`a dict entry without <key>: <${key.name}>`);
        dict[plistValue({ ...key, name: 'string' }) as string] = plistValue(elements[k + 1]!);
      }
      return dict;
    }
    default:
      throw new Error(`not a plist element: <${node.name}>`);
  }
}

function readPlist(text: string): Record<string, Plist> {
  const root = parseXml(text);
  expect(root.name).toBe('plist');
  const dict = root.children.find((c): c is XmlNode => typeof c !== 'string');
  return plistValue(dict!) as Record<string, Plist>;
}

describe('fte executor install (Linux: a systemd user unit)', () => {
  it('writes a unit systemd-analyze verify accepts, with the real node, this main.js, the vault and the env file', async () => {
    const s = await setup();
    const run = await runCli(['executor', 'install', '--vault', s.vault, '--no-enable'], s.env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`wrote ${unitPath(s)}`);
    expect(run.stdout).toContain('systemctl --user enable --now fte-executor.service');

    const unit = await readFile(unitPath(s), 'utf8');
    const lines = unit.split('\n');
    // Hand-written expectation: `"` and `\` backslash-escaped inside double quotes, % as %%, $ as $$.
    const quotedVault = `"${s.root}/my \\"odd\\" vault's 100%% $$HOME \\\\ end"`;
    expect(lines).toContain(`ExecStart=${process.execPath} ${resolve(CLI)} executor --vault ${quotedVault}`);
    expect(lines).toContain(`EnvironmentFile=${envPath(s)}`);
    expect(lines).toContain('Restart=on-failure');
    expect(lines).toContain('RestartSec=5');
    expect(lines).toContain('StandardOutput=journal');
    expect(lines).toContain('StandardError=journal');
    expect(lines).toContain('WantedBy=default.target');
    expect(lines).toContain('After=network-online.target');
    expect(lines.some((l) => l.startsWith('Description='))).toBe(true);
    expect(unit).not.toContain('--agent');

    const verified = await systemdVerify(unitPath(s), join(s.root, 'runtime'));
    expect(verified.stderr).toBe('');
    expect(verified.code).toBe(0);
  });

  it('quotes the program so systemd finds it through spaces, % and $, and refuses a path systemd cannot run', async () => {
    const s = await setup('plain');
    // systemd checks that the first word of ExecStart, once unquoted and with specifiers resolved, is an
    // executable file: a wrong quoting of the program is an error here.
    const odd = join(s.root, 'bin dir 50% $PATH');
    await mkdir(odd, { recursive: true });
    await symlink(process.execPath, join(odd, 'node'));
    const spec = { node: join(odd, 'node'), main: '/x/main.js', vault: s.vault, envFile: '/x/executor.env' };
    const good = join(s.root, 'good', 'fte-executor.service');
    await mkdir(join(good, '..'));
    await writeFile(good, renderSystemdUnit(spec));
    const verified = await systemdVerify(good, join(s.root, 'runtime'));
    expect(verified.stderr).toBe('');
    expect(verified.code).toBe(0);

    // The control: the same unit with the program written bare, and systemd says so (the check has teeth).
    const bad = join(s.root, 'bad', 'fte-executor.service');
    await mkdir(join(bad, '..'));
    const naive = renderSystemdUnit(spec).replace(systemdExecutable(spec.node), spec.node);
    expect(naive).not.toBe(renderSystemdUnit(spec));
    await writeFile(bad, naive);
    expect((await systemdVerify(bad, join(s.root, 'runtime'))).stderr).toMatch(
      /not executable|special characters/,
    );

    // A quote in the program's path: systemd refuses it ("special characters"), so fte says so first.
    expect(() => renderSystemdUnit({ ...spec, node: `${s.root}/it's/node` })).toThrow(/quote or a backslash/);
    // Arguments: `\` and `"` escaped inside double quotes, % as %%, $ as $$ (no variable expansion).
    expect(systemdQuote('/usr/bin/node')).toBe('/usr/bin/node');
    expect(systemdQuote('a b')).toBe('"a b"');
    expect(systemdQuote('50%$x"\\')).toBe('"50%%$$x\\"\\\\"');
    expect(() => systemdQuote('a\nb')).toThrow(/line break/);
  });

  it('passes --agent when it is not the default', async () => {
    const s = await setup('v');
    const run = await runCli(
      ['executor', 'install', '--vault', s.vault, '--agent', 'laptop2', '--no-enable'],
      s.env,
    );
    expect(run.code).toBe(0);
    expect(await readFile(unitPath(s), 'utf8')).toMatch(
      /^ExecStart=.* executor --vault \S+ --agent laptop2$/m,
    );
  });

  it('creates the env file 0600 in a 0700 folder, a commented template with every key unset', async () => {
    const s = await setup();
    expect((await runCli(['executor', 'install', '--vault', s.vault, '--no-enable'], s.env)).code).toBe(0);
    expect(await mode(envPath(s))).toBe(0o600);
    expect(await mode(join(envPath(s), '..'))).toBe(0o700);
    const text = await readFile(envPath(s), 'utf8');
    for (const key of [
      'SMTP_HOST',
      'SMTP_PORT',
      'SMTP_USER',
      'SMTP_PASSWORD',
      'SMTP_FROM',
      'FTE_APPROVAL_KEY_FILE',
      'FTE_UI_PORT',
    ])
      expect(text).toMatch(new RegExp(`^#${key}=$`, 'm'));
    // Nothing set: an empty `FTE_UI_PORT=` would be a setting (port 0), not an unset one.
    expect(parseEnvFile(text)).toEqual({ values: {}, bad: [] });
    // The unit itself holds no setting.
    expect(await readFile(unitPath(s), 'utf8')).not.toMatch(/SMTP|PASSWORD/);
  });

  it('--from-env fills a new env file so that /bin/sh and the systemd-style reader both get the exact values', async () => {
    const s = await setup('v');
    const password = `p@ss "w$rd" \`x\` \\ 'q' #1`;
    const env = {
      ...s.env,
      SMTP_PASSWORD: password,
      SMTP_FROM: 'Owner <owner@example.com>',
      SMTP_PORT: '587',
      UNRELATED: 'x',
    };
    const run = await runCli(['executor', 'install', '--vault', s.vault, '--no-enable', '--from-env'], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('filled from this environment: SMTP_PORT, SMTP_PASSWORD, SMTP_FROM');
    expect(run.stdout).not.toContain(password);
    const text = await readFile(envPath(s), 'utf8');
    expect(text).not.toContain('UNRELATED');
    expect(parseEnvFile(text).values).toEqual({
      SMTP_PASSWORD: password,
      SMTP_FROM: 'Owner <owner@example.com>',
      SMTP_PORT: '587',
    });
    const { stdout } = await exec('/bin/sh', [
      '-c',
      'set -a; . "$1"; printf "%s\\n%s\\n%s" "$SMTP_PASSWORD" "$SMTP_FROM" "$SMTP_PORT"',
      'sh',
      envPath(s),
    ]);
    expect(stdout).toBe(`${password}\nOwner <owner@example.com>\n587`);
  });

  it("keeps an existing env file as it is (the owner's secrets) and tightens its mode to 0600", async () => {
    const s = await setup('v');
    expect((await runCli(['executor', 'install', '--vault', s.vault, '--no-enable'], s.env)).code).toBe(0);
    const edited = 'SMTP_HOST=mail.example.com\nSMTP_PASSWORD="owner secret"\n';
    await writeFile(envPath(s), edited);
    await chmod(envPath(s), 0o644);
    const again = await runCli(['executor', 'install', '--vault', s.vault, '--no-enable', '--from-env'], {
      ...s.env,
      SMTP_HOST: 'other.example.com',
    });
    expect(again.code).toBe(0);
    expect(await readFile(envPath(s), 'utf8')).toBe(edited);
    expect(await mode(envPath(s))).toBe(0o600);
    expect(again.stdout).toContain('kept as it is');
    expect(again.stdout).toContain('its mode was 0644, now 0600');
  });

  it('refuses an env file inside the vault (it would sync to the cloud) and writes nothing', async () => {
    const s = await setup('v');
    const inside = join(s.vault, 'secrets', 'executor.env');
    const run = await runCli(
      ['executor', 'install', '--vault', s.vault, '--no-enable', '--env-path', inside],
      s.env,
    );
    expect(run.code).toBe(78);
    expect(run.stderr).toContain('inside the vault');
    await expect(stat(inside)).rejects.toThrow();
    await expect(stat(unitPath(s))).rejects.toThrow();
  });

  it('refuses a folder that is not a vault', async () => {
    const s = await setup('v');
    const run = await runCli(
      ['executor', 'install', '--vault', join(s.root, 'nothing'), '--no-enable'],
      s.env,
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('is not a vault');
  });

  it('--dry-run prints the unit and writes nothing', async () => {
    const s = await setup('v');
    const run = await runCli(['executor', 'install', '--vault', s.vault, '--dry-run'], s.env);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('[Service]');
    expect(run.stdout).toContain(`ExecStart=${process.execPath} `);
    await expect(stat(unitPath(s))).rejects.toThrow();
    await expect(stat(envPath(s))).rejects.toThrow();
  });

  it('uninstall removes the unit and keeps the env file', async () => {
    const s = await setup('v');
    expect((await runCli(['executor', 'install', '--vault', s.vault, '--no-enable'], s.env)).code).toBe(0);
    const run = await runCli(['executor', 'uninstall', '--no-enable'], s.env);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`removed ${unitPath(s)}`);
    expect(run.stdout).toContain(`kept the env file ${envPath(s)}`);
    await expect(stat(unitPath(s))).rejects.toThrow();
    expect(await mode(envPath(s))).toBe(0o600);
  });

  it('leaves plain fte executor as it was: --help lists the subcommands, a missing --vault is still a usage error', async () => {
    const s = await setup('v');
    const help = await runCli(['executor', '--help'], s.env);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--once');
    expect(help.stdout).toMatch(/install \[options\]/);
    const noVault = await runCli(['executor', '--once'], s.env);
    expect(noVault.code).toBe(2);
    expect(noVault.stderr).toContain("required option '--vault <dir>' not specified");
  });
});

describe('fte executor install --platform darwin (a launchd agent)', () => {
  it('writes a well-formed plist with ProgramArguments, KeepAlive, RunAtLoad and the log path', async () => {
    const s = await setup();
    const run = await runCli(
      ['executor', 'install', '--vault', s.vault, '--no-enable', '--platform', 'darwin'],
      s.env,
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('launchctl bootstrap gui/');
    const plist = readPlist(await readFile(plistPath(s), 'utf8'));
    expect(plist.Label).toBe('dev.fte.executor');
    expect(plist.RunAtLoad).toBe(true);
    expect(plist.KeepAlive).toEqual({ SuccessfulExit: false });
    expect(plist.StandardOutPath).toBe(join(s.home, 'Library', 'Logs', 'fte', 'executor.log'));
    expect(plist.StandardErrorPath).toBe(join(s.home, 'Library', 'Logs', 'fte', 'executor.log'));
    const args = plist.ProgramArguments as string[];
    expect(args.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    expect(args[2]).toContain(process.execPath);
    expect(await mode(envPath(s))).toBe(0o600);
    expect(JSON.stringify(plist)).not.toMatch(/PASSWORD/);

    const gone = await runCli(['executor', 'uninstall', '--no-enable', '--platform', 'darwin'], s.env);
    expect(gone.code).toBe(0);
    await expect(stat(plistPath(s))).rejects.toThrow();
  });

  it("the plist's shell line, run by /bin/sh, exports the env file and execs exactly node, main.js, executor --vault <odd path>", async () => {
    const s = await setup();
    // A stand-in for node that prints its arguments (one per line) and a setting from the env file.
    const fake = join(s.root, 'fake node');
    await writeFile(
      fake,
      '#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\nprintf "env:%s\\n" "$SMTP_PASSWORD"\n',
    );
    await chmod(fake, 0o755);
    const envFile = join(s.root, `env 'file' "x"`);
    await writeFile(envFile, 'SMTP_PASSWORD="a \\$ecret \\"q\\""\n', { mode: 0o600 });
    const main = join(s.root, 'main & <js>.js');
    const text = renderLaunchdPlist({ node: fake, main, vault: s.vault, envFile, agent: 'laptop' }, s.home);
    const args = readPlist(text).ProgramArguments as string[];
    expect(args[0]).toBe('/bin/sh');
    const { stdout } = await exec(args[0]!, args.slice(1), { env: { PATH: '/usr/bin:/bin' } });
    expect(stdout).toBe(
      [main, 'executor', '--vault', s.vault, '--agent', 'laptop', 'env:a $ecret "q"', ''].join('\n'),
    );
  });
});
