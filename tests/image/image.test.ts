import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The fte container image, built for real by scripts/build-image.sh (buildah, mmdebstrap, qemu for arm64)
// and run for real with runc and `buildah run`. A missing tool fails the suite; nothing is skipped.
// The first build takes several minutes (Debian bases, npm ci); later runs reuse cached layers.

const REPO = join(import.meta.dirname, '..', '..');
const SIZE_BUDGET_BYTES = 250_000_000;

type Result = { code: number | null; stdout: string; stderr: string };
type ImageConfig = { User?: string; Env?: string[]; Entrypoint?: string[]; WorkingDir?: string };

const INSTALL_HINT: Record<string, string> = {
  buildah: 'apt-get install -y buildah',
  runc: 'apt-get install -y runc',
  bash: 'apt-get install -y bash',
};

/** Runs a command to completion; a missing program is an error that names the package to install. */
function run(command: string, args: string[]): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const result = collect(child);
    child.on('error', (error: NodeJS.ErrnoException) => {
      const hint = INSTALL_HINT[command] ?? '';
      reject(new Error(error.code === 'ENOENT' ? `${command} not found: ${hint}` : error.message));
    });
    child.on('close', (code) => resolve({ code, stdout: result.stdout, stderr: result.stderr }));
  });
}

function collect(child: ChildProcess): { stdout: string; stderr: string } {
  const out = { stdout: '', stderr: '' };
  child.stdout?.on('data', (d: Buffer) => {
    out.stdout += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out.stderr += d.toString();
  });
  return out;
}

async function ok(command: string, args: string[]): Promise<string> {
  const r = await run(command, args);
  if (r.code !== 0) throw new Error(`${command} ${args.join(' ')} failed (${r.code}):\n${r.stderr}`);
  return r.stdout;
}

describe('fte image (buildah build, amd64 + arm64)', () => {
  let storage: string[] = [];
  let manifest = '';
  const images = new Map<string, { ref: string; bytes: number }>();
  let work = '';
  const containers: string[] = [];
  let version = '';

  const buildah = (...args: string[]) => ok('buildah', [...storage, ...args]);

  async function config(ref: string): Promise<ImageConfig> {
    return JSON.parse(await buildah('inspect', '--type', 'image', ref)).OCIv1.config;
  }

  /** A working container of the image, mounted; its root becomes a runc bundle's read-only rootfs. */
  async function mounted(ref: string): Promise<string> {
    const container = (
      await buildah('from', '--quiet', '--pull=never', '--platform', 'linux/amd64', ref)
    ).trim();
    containers.push(container);
    return (await buildah('mount', container)).trim();
  }

  /** An OCI bundle from `runc spec`: read-only root, a tmpfs on /tmp, the image's env and the given user. */
  async function bundle(
    rootfs: string,
    image: ImageConfig,
    user: { uid: number; gid: number },
    args: string[],
  ) {
    const dir = await mkdtemp(join(work, 'bundle-'));
    await ok('runc', ['spec', '--bundle', dir]);
    const spec = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    spec.root = { path: rootfs, readonly: true };
    spec.process.terminal = false;
    spec.process.args = args;
    spec.process.env = image.Env ?? [];
    spec.process.cwd = image.WorkingDir || '/';
    spec.process.user = user;
    spec.mounts.push({
      destination: '/tmp',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'nodev', 'mode=1777', 'size=64m'],
    });
    await writeFile(join(dir, 'config.json'), JSON.stringify(spec));
    return dir;
  }

  const runcRoot = () => join(work, 'runc-state');
  let containerNumber = 0;
  function runc(dir: string): { id: string; child: ChildProcess; done: Promise<Result> } {
    const id = `fte-image-test-${process.pid}-${++containerNumber}`;
    const child = spawn('runc', ['--root', runcRoot(), 'run', '--bundle', dir, id], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = collect(child);
    const done = new Promise<Result>((resolve, reject) => {
      child.on('error', (error) => reject(new Error(`runc: ${error.message} (apt-get install -y runc)`)));
      child.on('close', (code) => resolve({ code, stdout: out.stdout, stderr: out.stderr }));
    });
    return { id, child, done };
  }

  function userOf(image: ImageConfig): { uid: number; gid: number } {
    const [uid, gid] = (image.User ?? '').split(':').map(Number);
    return { uid: uid ?? Number.NaN, gid: gid ?? uid ?? Number.NaN };
  }

  beforeAll(async () => {
    version = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')).version;
    work = await mkdtemp(join(tmpdir(), 'fte-image-test-'));
    const built = await run('bash', [join(REPO, 'scripts', 'build-image.sh')]);
    if (built.code !== 0) throw new Error(`scripts/build-image.sh failed (${built.code}):\n${built.stderr}`);
    for (const line of built.stdout.trim().split('\n')) {
      const [kind, ...rest] = line.split(' ');
      if (kind === 'storage') storage = rest;
      if (kind === 'manifest') manifest = rest[0]!;
      if (kind === 'image') images.set(rest[0]!, { ref: rest[1]!, bytes: Number(rest[2]) });
    }
    if (storage.length === 0 || manifest === '' || images.size === 0) {
      throw new Error(`unexpected output from scripts/build-image.sh:\n${built.stdout}`);
    }
  }, 45 * 60_000);

  afterAll(async () => {
    for (const container of containers) await run('buildah', [...storage, 'rm', container]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('is one manifest list with an amd64 and an arm64 image', async () => {
    const list = JSON.parse(await buildah('manifest', 'inspect', manifest));
    const platforms = list.manifests.map((m: { platform: { os: string; architecture: string } }) => {
      return `${m.platform.os}/${m.platform.architecture}`;
    });
    expect(platforms.sort()).toEqual(['linux/amd64', 'linux/arm64']);
  });

  it('stays within 250 MB uncompressed per architecture', () => {
    for (const arch of ['amd64', 'arm64']) {
      const image = images.get(arch);
      expect(image, `no ${arch} image`).toBeDefined();
      process.stderr.write(`image: ${image!.ref} is ${(image!.bytes / 1e6).toFixed(1)} MB uncompressed\n`);
      expect(image!.bytes).toBeGreaterThan(0);
      expect(image!.bytes).toBeLessThanOrEqual(SIZE_BUDGET_BYTES);
    }
  });

  it('runs as a numeric non-root user with the CLI as entrypoint, in both architectures', async () => {
    for (const arch of ['amd64', 'arm64']) {
      const image = await config(images.get(arch)!.ref);
      expect(image.User).toBe('10001:10001');
      expect(image.Entrypoint).toEqual(['node', '/app/dist/cli/main.js']);
      expect(image.Env).toContain('HOME=/tmp');
    }
  });

  it(
    'prints its version in the arm64 image (under qemu)',
    async () => {
      const ref = images.get('arm64')!.ref;
      const image = await config(ref);
      const container = (
        await buildah('from', '--quiet', '--pull=never', '--platform', 'linux/arm64', ref)
      ).trim();
      containers.push(container);
      const arch = await buildah('run', '--network', 'none', container, '--', 'node', '-p', 'process.arch');
      expect(arch.trim()).toBe('arm64');
      const printed = await buildah(
        'run',
        '--network',
        'none',
        container,
        '--',
        ...image.Entrypoint!,
        '--version',
      );
      expect(printed.trim()).toBe(version);
    },
    5 * 60_000,
  );

  it(
    'runs `fte --help` in the amd64 image as UID 10001 on a read-only root filesystem',
    async () => {
      const ref = images.get('amd64')!.ref;
      const image = await config(ref);
      const rootfs = await mounted(ref);

      const help = await runc(await bundle(rootfs, image, userOf(image), [...image.Entrypoint!, '--help']))
        .done;
      expect(help.stderr).toBe('');
      expect(help.code).toBe(0);
      expect(help.stdout).toContain('Usage: fte');

      const who = await runc(await bundle(rootfs, image, userOf(image), ['id', '-u'])).done;
      expect(who.stdout.trim()).toBe('10001');

      // Even root cannot write the root filesystem of this bundle; /tmp (the tmpfs) is writable.
      const probe = ['sh', '-c', 'touch /tmp/probe && echo tmp-writable; touch /app/probe'];
      const write = await runc(await bundle(rootfs, image, { uid: 0, gid: 0 }, probe)).done;
      expect(write.stdout.trim()).toBe('tmp-writable');
      expect(write.stderr).toContain('Read-only file system');
      expect(write.code).not.toBe(0);
    },
    5 * 60_000,
  );

  it(
    'stops `fte sync` running as PID 1 on SIGTERM with status 0',
    async () => {
      const ref = images.get('amd64')!.ref;
      const image = await config(ref);
      const rootfs = await mounted(ref);
      const cli = image.Entrypoint!.join(' ');
      const script = [
        'git init --quiet --bare /tmp/remote.git',
        `${cli} init /tmp/vault --remote /tmp/remote.git --agent cloud`,
        `exec ${cli} sync --vault /tmp/vault --agent cloud --interval 1`,
      ].join(' && ');
      const container = runc(await bundle(rootfs, image, userOf(image), ['sh', '-c', script]));
      let output = '';
      await new Promise<void>((resolve, reject) => {
        const look = (d: Buffer) => {
          output += d.toString();
          // `fte sync` logs `<ISO time> synced` after its first cycle (init printed `synced with <remote>`).
          if (/Z synced\n/.test(output)) resolve();
        };
        container.child.stdout?.on('data', look);
        container.child.stderr?.on('data', look);
        container.done.then(
          (r) => reject(new Error(`container exited early (${r.code}):\n${output}`)),
          reject,
        );
      });

      const pid1 = await ok('runc', ['--root', runcRoot(), 'exec', container.id, 'cat', '/proc/1/comm']);
      expect(pid1.trim()).toBe('node');

      await ok('runc', ['--root', runcRoot(), 'kill', container.id, 'TERM']);
      const stopped = await container.done;
      expect(stopped.stderr).not.toContain('Error');
      expect(stopped.code).toBe(0);
    },
    5 * 60_000,
  );
});
