import { stringify } from 'yaml';
import { z } from 'zod';
import { TaskSpec, TaskStatus } from '../../task.js';
import { GROUP, PLURAL, VERSION } from './task-store.js';

/**
 * The Task CRD (DESIGN.md §3), generated from the zod schemas in operator/task.ts so the API server
 * validates exactly what the code accepts: `crds/task.yaml` is this function's output
 * (`node dist/operator/controller/kube/gen-crd.js` writes it; tests/kube/crd.test.ts fails when it is stale).
 */

export type JsonSchema = Record<string, unknown>;

/** JSON Schema keywords a structural CRD schema may carry, as zod emits them. */
const KEPT = new Set([
  'type',
  'description',
  'properties',
  'required',
  'items',
  'enum',
  'pattern',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'minItems',
  'maxItems',
  'format',
  // Structural schemas may default a field; the API server fills it in before validating (Vault's spec).
  'default',
]);
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/**
 * A zod-emitted JSON Schema as a structural OpenAPI v3 schema: `additionalProperties: false` goes (the
 * API server prunes unknown fields instead, as zod strips them), a record becomes `additionalProperties`
 * with a schema, and anything a CRD cannot express makes generation fail, so the two cannot silently
 * disagree.
 */
export function structural(schema: JsonSchema, path = '$'): JsonSchema {
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === '$schema') continue;
    if (key === 'additionalProperties') {
      if (value === false) continue;
      if (value && typeof value === 'object') {
        out.additionalProperties = structural(value as JsonSchema, `${path}.*`);
        continue;
      }
      throw new Error(`${path}: additionalProperties ${JSON.stringify(value)} has no CRD equivalent`);
    }
    if (key === 'const') {
      out.enum = [value];
      continue;
    }
    if (!KEPT.has(key))
      throw new Error(`${path}: JSON Schema keyword "${key}" has no structural CRD equivalent`);
    if (key === 'properties') {
      out.properties = Object.fromEntries(
        Object.entries(value as Record<string, JsonSchema>).map(([name, child]) => [
          name,
          structural(child, `${path}.${name}`),
        ]),
      );
    } else if (key === 'items') {
      out.items = structural(value as JsonSchema, `${path}[]`);
    } else if (key === 'maximum' && value === MAX_SAFE) {
      // zod's bound for a safe integer; int64 in the API server.
      out.format = 'int64';
    } else {
      out[key] = value;
    }
  }
  if (typeof out.type !== 'string') throw new Error(`${path}: a structural schema needs a type`);
  return out;
}

/**
 * A zod schema as a CRD's structural schema. `io: 'input'` describes what a writer may leave out (fields
 * with a zod default are optional there, and the API server applies the same default).
 */
export function objectSchema(
  schema: z.ZodType,
  description: string,
  io: 'input' | 'output' = 'output',
): JsonSchema {
  return { description, ...structural(z.toJSONSchema(schema, { io }) as JsonSchema) };
}

/** Conditions follow the API conventions: a list map keyed by type (one entry per type, merged by key). */
export function asConditionListMap(status: JsonSchema, owner: string): void {
  const statusProperties = status.properties as Record<string, JsonSchema>;
  const conditions = statusProperties.conditions;
  if (!conditions) throw new Error(`${owner} has no conditions`);
  statusProperties.conditions = {
    ...conditions,
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['type'],
  };
}

/** Printer columns: `kubectl get tasks` shows the first five; `-o wide` adds the priority-1 ones. */
export const PRINTER_COLUMNS = [
  { name: 'Domain', type: 'string', jsonPath: '.spec.domain' },
  { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
  { name: 'Owner', type: 'string', jsonPath: '.status.owner' },
  { name: 'Title', type: 'string', jsonPath: '.spec.title' },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  { name: 'Id', type: 'string', jsonPath: '.spec.id', priority: 1 },
  { name: 'Priority', type: 'string', jsonPath: '.spec.priority', priority: 1 },
  { name: 'Approval', type: 'string', jsonPath: '.status.approvalPath', priority: 1 },
  { name: 'Expires', type: 'string', jsonPath: '.status.expires', priority: 1 },
  { name: 'Error', type: 'string', jsonPath: '.status.lastError', priority: 1 },
] as const;

export function taskCrd(): Record<string, unknown> {
  const spec = objectSchema(
    TaskSpec,
    'The task as the vault holds it, mirrored from its files by the operator.',
  );
  const status = objectSchema(
    TaskStatus,
    'What the reconciler last observed and did; written by the operator only.',
  );
  asConditionListMap(status, 'TaskStatus');
  return namespacedCrd({
    plural: PLURAL,
    kind: 'Task',
    shortName: 'ftask',
    printerColumns: PRINTER_COLUMNS,
    selectableFields: [{ jsonPath: '.spec.domain' }, { jsonPath: '.spec.id' }],
    description:
      'One task of the fte vault (an email to answer, an invoice to post, …): a projection of its markdown files into the cluster.',
    spec,
    status,
  });
}

/** A namespaced fte.dev CRD with one served version, a status subresource, and spec required. */
export function namespacedCrd(o: {
  plural: string;
  kind: string;
  shortName: string;
  printerColumns: readonly Record<string, unknown>[];
  selectableFields?: { jsonPath: string }[];
  description: string;
  spec: Record<string, unknown>;
  status: Record<string, unknown>;
}): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${o.plural}.${GROUP}` },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: {
        plural: o.plural,
        singular: o.kind.toLowerCase(),
        kind: o.kind,
        listKind: `${o.kind}List`,
        shortNames: [o.shortName],
        categories: ['fte'],
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: o.printerColumns,
          ...(o.selectableFields ? { selectableFields: o.selectableFields } : {}),
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: o.description,
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: o.spec,
                status: o.status,
              },
            },
          },
        },
      ],
    },
  };
}

/** The comment on top of a generated CRD file. */
export function crdHeader(schemas: string, generator: string): string {
  return [
    `# Generated from the zod schemas in ${schemas} by ${generator}; do not edit.`,
    '# Regenerate: npx tsc -p tsconfig.json && node dist/operator/controller/kube/gen-crd.js',
    '',
  ].join('\n');
}

export const CRD_HEADER = crdHeader('operator/task.ts', 'operator/controller/kube/crd.ts');

export function crdYaml(header: string, crd: Record<string, unknown>): string {
  return `${header}${stringify(crd, { lineWidth: 0 })}`;
}

export function taskCrdYaml(): string {
  return crdYaml(CRD_HEADER, taskCrd());
}
