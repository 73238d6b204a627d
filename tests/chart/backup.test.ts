import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../harness/kube.js';
import { examplePath, find, render } from './helm.js';

/**
 * The backup and restore scripts exactly as the chart renders them, run against a real PostgreSQL
 * (Debian's postgresql package: initdb, pg_ctl, pg_dump, pg_restore) and a real filestore directory.
 */
const PG_BIN = '/usr/lib/postgresql/15/bin';

async function freePort(): Promise<number> {
  const srv = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => srv.once('listening', resolve));
  const addr = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  if (typeof addr !== 'object' || !addr) throw new Error('no free port');
  return addr.port;
}

describe('the backup CronJob and the restore Job scripts, on a real PostgreSQL', () => {
  let dir: string;
  let port: number;
  let env: NodeJS.ProcessEnv;
  let scripts: Record<string, string>;
  const asPostgres = (args: string[]) =>
    execFileSync('runuser', ['-u', 'postgres', '--', ...args], { stdio: 'pipe' });
  const psql = (db: string, sql: string) =>
    execFileSync('psql', ['-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1', '-d', db, '-c', sql], { env })
      .toString()
      .trim();
  const script = async (name: 'backup' | 'restore', extra: NodeJS.ProcessEnv = {}) =>
    run('sh', [join(dir, `${name}.sh`)], { env: { ...env, ...extra }, timeoutMs: 60_000 });
  const backups = () =>
    readdirSync(join(dir, 'backup'))
      .filter((f) => !f.startsWith('lost+found'))
      .sort();

  beforeAll(async () => {
    for (const tool of ['initdb', 'pg_ctl', 'postgres']) {
      if (!existsSync(join(PG_BIN, tool)))
        throw new Error(`${PG_BIN}/${tool} missing: apt-get install -y postgresql`);
    }
    const manifests = await render({ values: [examplePath('with-odoo')], set: ['backup.retention=2'] });
    scripts = find(manifests, 'ConfigMap', 'fte-backup').data;
    const cron = find(manifests, 'CronJob', 'fte-backup').spec.jobTemplate.spec.template.spec.containers[0];
    const rendered = Object.fromEntries(
      cron.env
        .filter((e: { value?: string }) => e.value !== undefined)
        .map((e: { name: string; value: string }) => [e.name, e.value]),
    );
    expect(rendered).toMatchObject({ PGDATABASE: 'odoo', PGUSER: 'odoo', RETENTION: '2' });

    dir = mkdtempSync(join(tmpdir(), 'fte-chart-backup-'));
    for (const sub of ['data', 'sock', 'backup', 'odoo/filestore/odoo/ab'])
      mkdirSync(join(dir, sub), { recursive: true });
    execFileSync('chown', ['postgres:postgres', join(dir, 'data'), join(dir, 'sock')]);
    execFileSync('chmod', ['755', dir]);
    writeFileSync(join(dir, 'backup.sh'), scripts['backup.sh']!);
    writeFileSync(join(dir, 'restore.sh'), scripts['restore.sh']!);
    port = await freePort();
    asPostgres([join(PG_BIN, 'initdb'), '-D', join(dir, 'data'), '-U', 'odoo', '--auth=trust', '-E', 'UTF8']);
    asPostgres([
      join(PG_BIN, 'pg_ctl'),
      '-D',
      join(dir, 'data'),
      '-l',
      join(dir, 'sock', 'postgres.log'),
      '-w',
      '-o',
      `-p ${port} -k ${join(dir, 'sock')} -c listen_addresses=127.0.0.1`,
      'start',
    ]);
    env = {
      PATH: `${PG_BIN}:${process.env.PATH}`,
      PGHOST: '127.0.0.1',
      PGPORT: String(port),
      PGUSER: rendered.PGUSER,
      PGDATABASE: rendered.PGDATABASE,
      PGPASSWORD: 'unused with trust',
      RETENTION: rendered.RETENTION,
      BACKUP_DIR: join(dir, 'backup'),
      FILESTORE_DIR: join(dir, 'odoo'),
    };
    psql('postgres', 'CREATE DATABASE odoo');
    psql('odoo', "CREATE TABLE account_move (name text); INSERT INTO account_move VALUES ('INV/1')");
    writeFileSync(join(dir, 'odoo/filestore/odoo/ab/attachment'), 'first');
  });

  afterAll(() => {
    if (!dir) return;
    try {
      asPostgres([join(PG_BIN, 'pg_ctl'), '-D', join(dir, 'data'), '-m', 'fast', '-w', 'stop']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes a custom-format dump and the filestore, keeps the newest backup.retention, restores one', async () => {
    const first = await script('backup');
    expect(first.code, first.stderr).toBe(0);
    const [firstDump] = backups().filter((f) => f.endsWith('.dump'));
    expect(firstDump).toMatch(/^odoo-\d{8}T\d{6}Z\.dump$/);
    // pg_dump's custom format starts with PGDMP.
    expect(
      readFileSync(join(dir, 'backup', firstDump!))
        .subarray(0, 5)
        .toString(),
    ).toBe('PGDMP');

    await sleep(1100);
    psql('odoo', "INSERT INTO account_move VALUES ('INV/2')");
    writeFileSync(join(dir, 'odoo/filestore/odoo/ab/attachment'), 'second');
    expect((await script('backup')).code).toBe(0);
    await sleep(1100);
    psql('odoo', "INSERT INTO account_move VALUES ('INV/3')");
    const third = await script('backup');
    expect(third.code, third.stderr).toBe(0);
    expect(third.stdout).toContain(`backup: removed ${firstDump}`);

    const kept = backups();
    expect(kept).toHaveLength(4);
    expect(kept.filter((f) => f.endsWith('.dump'))).toHaveLength(2);
    expect(kept.filter((f) => f.endsWith('.filestore.tar.gz'))).toHaveLength(2);
    expect(kept).not.toContain(firstDump);
    const second = kept.filter((f) => f.endsWith('.dump'))[0]!;

    // Disaster: rows and attachment gone. Restore the second backup.
    psql('odoo', 'DELETE FROM account_move');
    rmSync(join(dir, 'odoo/filestore/odoo'), { recursive: true });
    const restored = await script('restore', { RESTORE_FILE: second });
    expect(restored.code, restored.stderr).toBe(0);
    expect(psql('odoo', 'SELECT name FROM account_move ORDER BY name')).toBe('INV/1\nINV/2');
    expect(readFileSync(join(dir, 'odoo/filestore/odoo/ab/attachment'), 'utf8')).toBe('second');
  });

  it('a restore of a dump that is not there fails and says what is', async () => {
    const r = await script('restore', { RESTORE_FILE: 'odoo-19990101T000000Z.dump' });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('restore: no odoo-19990101T000000Z.dump on the backup volume');
    expect(psql('odoo', 'SELECT count(*) FROM account_move')).toBe('2');
  });
});
