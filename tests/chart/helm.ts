import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { type CommandResult, readKubeTools, run } from '../harness/kube.js';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');
export const CHART = join(REPO_ROOT, 'charts', 'fte');
export const EXAMPLES = join(CHART, 'examples');

/** The values files under charts/fte/examples/, by name (without .yaml). */
export const examples: string[] = readdirSync(EXAMPLES)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => f.slice(0, -'.yaml'.length))
  .sort();

export const examplePath = (name: string): string => join(EXAMPLES, `${name}.yaml`);

/** The cached helm binary of scripts/ensure-k8s-tools.sh; throws (never skips) when it is missing. */
export function helmPath(): string {
  const helm = readKubeTools().helm;
  if (!helm)
    throw new Error('helm not built: run scripts/ensure-k8s-tools.sh (HELM= missing in k8s-tools.env)');
  return helm;
}

let helmHome: string | undefined;
/** helm's own cache/config/data dirs for the test file, removed after it. */
function home(): string {
  helmHome ??= mkdtempSync(join(tmpdir(), 'fte-chart-helm-'));
  return helmHome;
}
afterAll(() => {
  if (helmHome !== undefined) rmSync(helmHome, { recursive: true, force: true });
  helmHome = undefined;
});

/** Runs helm with its own cache/config/data dirs, never touching the user's. */
export function helmRun(args: string[]): Promise<CommandResult> {
  return run(helmPath(), args, {
    timeoutMs: 120_000,
    env: {
      ...process.env,
      HELM_CACHE_HOME: join(home(), 'cache'),
      HELM_CONFIG_HOME: join(home(), 'config'),
      HELM_DATA_HOME: join(home(), 'data'),
    },
  });
}

export type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: rendered Kubernetes objects are checked field by field.
  spec?: any;
  // biome-ignore lint/suspicious/noExplicitAny: as above.
  [key: string]: any;
};

export type RenderOptions = { values?: string[]; set?: string[]; namespace?: string; release?: string };

export function templateArgs(opts: RenderOptions = {}): string[] {
  return [
    'template',
    opts.release ?? 'fte',
    CHART,
    '--namespace',
    opts.namespace ?? 'fte',
    ...(opts.values ?? []).flatMap((v) => ['-f', v]),
    ...(opts.set ?? []).flatMap((s) => ['--set', s]),
  ];
}

/** `helm template` as YAML text; throws with helm's message when it refuses. */
export async function renderText(opts: RenderOptions = {}): Promise<string> {
  const r = await helmRun(templateArgs(opts));
  if (r.code !== 0) throw new Error(`helm template failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** `helm template` as objects. */
export async function render(opts: RenderOptions = {}): Promise<Manifest[]> {
  const docs = parseAllDocuments(await renderText(opts));
  const out: Manifest[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`rendered YAML does not parse: ${doc.errors[0]?.message}`);
    const value = doc.toJS();
    if (value) out.push(value as Manifest);
  }
  return out;
}

export function find(manifests: Manifest[], kind: string, name?: string): Manifest {
  const found = manifests.filter((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
  if (found.length !== 1) {
    throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  }
  return found[0]!;
}
