import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import {
  type PRINTER_COLUMNS,
  structural,
  taskCrd,
  taskCrdYaml,
} from '../../operator/controller/kube/crd.js';
import { TaskStatus } from '../../operator/task.js';
import { CRD_PATH } from './cluster.js';

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
