import { resolve } from 'node:path';
import { initVault } from '../../core/init.js';

export async function run(dir: string, opts: { remote?: string; agent: string }): Promise<void> {
  const report = await initVault(resolve(dir), { remote: opts.remote, agent: opts.agent });
  const created = report.created.filter((p) => !p.endsWith('.gitkeep'));
  process.stdout.write(
    `vault ready at ${resolve(dir)}: ${report.created.length} files created, ${report.kept.length} kept` +
      (created.length ? ` (${created.join(', ')})` : '') +
      '\n',
  );
  if (report.remote) {
    process.stdout.write(
      report.pushed
        ? `synced with ${report.remote}\n`
        : `remote ${report.remote} unreachable; will push on the next sync\n`,
    );
  }
}
