import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import {
  type PRINTER_COLUMNS,
  structural,
  taskCrd,
  taskCrdYaml,
} from '../../operator/controller/kube/crd.js';
import { vaultCrd, vaultCrdYaml } from '../../operator/controller/kube/vault-crd.js';
import { TaskStatus } from '../../operator/task.js';
import { VaultSpec, VaultStatus } from '../../operator/vault-resource.js';
import { tempDir } from '../helpers/vaults.js';
import { CRD_PATH, REPO_ROOT } from './cluster.js';

const exec = promisify(execFile);
const GEN_CRD = join(REPO_ROOT, 'dist', 'operator', 'controller', 'kube', 'gen-crd.js');

describe('the Task CRD', () => {
  it('crds/task.yaml is exactly what the zod schemas generate (regenerate: node dist/operator/controller/kube/gen-crd.js)', async () => {
    const committed = await readFile(CRD_PATH, 'utf8');
    expect(committed).toBe(taskCrdYaml());
    expect(parse(committed)).toEqual(JSON.parse(JSON.stringify(taskCrd())));
  });

  it('names, scope, status subresource and printer columns are those of DESIGN.md §3', () => {
    const crd = JSON.parse(JSON.stringify(taskCrd()));
    expect(crd.metadata.name).toBe('tasks.fte.dev');
    expect(crd.spec.scope).toBe('Namespaced');
    expect(crd.spec.names).toMatchObject({
      plural: 'tasks',
      kind: 'Task',
      shortNames: ['ftask'],
      categories: ['fte'],
    });
    const version = crd.spec.versions[0];
    expect(version).toMatchObject({
      name: 'v1alpha1',
      served: true,
      storage: true,
      subresources: { status: {} },
    });
    const columns = version.additionalPrinterColumns as typeof PRINTER_COLUMNS;
    expect(columns.filter((c) => !('priority' in c)).map((c) => c.name.toUpperCase())).toEqual([
      'DOMAIN',
      'PHASE',
      'OWNER',
      'TITLE',
      'AGE',
    ]);
    expect(columns.filter((c) => 'priority' in c).length).toBeGreaterThan(0);
    const conditions = version.schema.openAPIV3Schema.properties.status.properties.conditions;
    expect(conditions).toMatchObject({
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
    });
    expect(conditions.items.required).toContain('type');
  });

  it('every status field of the zod schema is in the CRD, with the same enum values', () => {
    const crd = JSON.parse(JSON.stringify(taskCrd()));
    const status = crd.spec.versions[0].schema.openAPIV3Schema.properties.status;
    expect(Object.keys(status.properties).sort()).toEqual(Object.keys(TaskStatus.shape).sort());
    expect(status.properties.phase.enum).toEqual(TaskStatus.shape.phase.unwrap().options);
  });

  it('refuses to generate what a structural schema cannot say, instead of drifting quietly', () => {
    expect(() =>
      structural(
        z.toJSONSchema(
          z.object({ a: z.union([z.object({ x: z.string() }), z.object({ y: z.number() })]) }),
        ) as never,
      ),
    ).toThrow(/anyOf/);
    expect(() => structural(z.toJSONSchema(z.object({ a: z.any() })) as never)).toThrow(/needs a type/);
    expect(structural(z.toJSONSchema(z.object({ a: z.literal('x') })) as never)).toMatchObject({
      properties: { a: { type: 'string', enum: ['x'] } },
    });
  });
});

describe('the Vault CRD', () => {
  it('crds/vault.yaml is what the zod schemas generate; gen-crd --check says so, and fails on a stale file', async () => {
    expect(await readFile(join(REPO_ROOT, 'crds', 'vault.yaml'), 'utf8')).toBe(vaultCrdYaml());
    const ok = await exec(process.execPath, [GEN_CRD, '--check']);
    expect(ok.stderr).toBe('');
    const dir = await tempDir();
    await exec(process.execPath, [GEN_CRD, dir]);
    expect(await readFile(join(dir, 'task.yaml'), 'utf8')).toBe(await readFile(CRD_PATH, 'utf8'));
    await writeFile(join(dir, 'vault.yaml'), `${vaultCrdYaml()}# edited\n`);
    const stale = await exec(process.execPath, [GEN_CRD, '--check', dir]).catch((e) => e);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain('vault.yaml is stale');
    expect(stale.stderr).not.toContain('task.yaml');
  });

  it('names, printer columns, defaults and status fields follow the zod schemas', () => {
    const crd = JSON.parse(JSON.stringify(vaultCrd()));
    expect(crd.metadata.name).toBe('vaults.fte.dev');
    expect(crd.spec.scope).toBe('Namespaced');
    expect(crd.spec.names).toMatchObject({ plural: 'vaults', kind: 'Vault', shortNames: ['fv'] });
    const version = crd.spec.versions[0];
    expect(version.subresources).toEqual({ status: {} });
    const columns = version.additionalPrinterColumns as Array<{ name: string; priority?: number }>;
    expect(columns.filter((c) => !c.priority).map((c) => c.name.toUpperCase())).toEqual([
      'URL',
      'BRANCH',
      'COMMIT',
      'LAG',
      'READY',
      'AGE',
    ]);
    const schema = version.schema.openAPIV3Schema.properties;
    expect(schema.spec.required).toEqual(['url']);
    expect(schema.spec.properties.branch.default).toBe('main');
    expect(schema.spec.properties.intervalSeconds).toMatchObject({ default: 10, minimum: 1 });
    expect(Object.keys(schema.spec.properties).sort()).toEqual(Object.keys(VaultSpec.shape).sort());
    expect(Object.keys(schema.status.properties).sort()).toEqual(Object.keys(VaultStatus.shape).sort());
    expect(schema.status.properties.conditions['x-kubernetes-list-map-keys']).toEqual(['type']);
  });
});
