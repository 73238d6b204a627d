import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initVault } from '../core/init.js';
import type { VaultPort } from '../core/vault/change.js';
import { HttpVaultPort, serveVaultPort } from '../core/vault/http-port.js';
import { LocalVaultPort } from '../core/vault/local-port.js';
import { VaultRepo } from '../core/vault-repo.js';
import { ms, percentile, printTable, progress, type Row, timed } from './report.js';

/**
 * A VaultChange like a draft step's (an approval request, a signal, an audit record; one commit), applied
 * in-process and over the loopback HTTP port of `fte sync --serve`: what the sidecar split costs.
 */
const RUNS = 200;
const TOKEN = 'bench-token-0123456789abcdef';

async function measure(name: string, port: VaultPort): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    if (i % 50 === 0) progress(`${name}: ${i}/${RUNS}`);
    const id = `${name.replace(/\W/g, '')}_${i}`;
    const [result, elapsed] = await timed(() =>
      port.apply({
        message: `cloud: draft ${id}`,
        operations: [
          {
            op: 'write',
            path: `Pending_Approval/email/${id}.md`,
            content: `---\ntask: ${id}\n---\n\ndraft\n`,
          },
          {
            op: 'write',
            path: `Updates/${id}.md`,
            content: `---\ntask: ${id}\n---\n\nsignal\n`,
            mode: 'ensure',
          },
        ],
        audit: [{ action_type: 'approval_requested', actor: 'cloud', target: id, result: 'ok', task: id }],
      }),
    );
    if (result.kind !== 'applied') throw new Error(`change refused: ${JSON.stringify(result)}`);
    samples.push(elapsed);
  }
  return samples;
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'fte-bench-port-'));
  try {
    const dir = join(root, 'vault');
    await initVault(dir, { agent: 'cloud' });
    const repo = new VaultRepo({ root: dir, agent: 'cloud' });
    const local = new LocalVaultPort(repo);
    const server = await serveVaultPort({ port: local, token: TOKEN });
    const http = new HttpVaultPort(dir, 'cloud', server.url, TOKEN);
    const inProcess = await measure('in-process', local);
    const overHttp = await measure('http', http);
    await server.close();
    const rows: Row[] = [
      {
        what: `VaultChange in-process (draft-sized, 1 commit), p50 of ${RUNS}`,
        result: ms(percentile(inProcess, 50)),
      },
      { what: 'same, p99', result: ms(percentile(inProcess, 99)) },
      { what: 'VaultChange over the loopback HTTP port, p50', result: ms(percentile(overHttp, 50)) },
      { what: 'same, p99', result: ms(percentile(overHttp, 99)) },
      {
        what: 'HTTP overhead at p50',
        result: ms(percentile(overHttp, 50) - percentile(inProcess, 50)),
      },
    ];
    printTable('vault port', rows);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();
