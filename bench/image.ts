import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { printTable, progress, type Row } from './report.js';

/**
 * The container image (scripts/build-image.sh, buildah): how long a warm build takes per architecture (every
 * layer cached, as after an unchanged checkout) and how big each image is uncompressed (budget 250 MB).
 * Needs root, buildah, mmdebstrap and qemu for arm64; the first run builds the bases and layers (minutes).
 */
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const ARCHES = ['amd64', 'arm64'];
const RUNS = 3;

function build(arch: string): { seconds: number; bytes: number } {
  const start = performance.now();
  const result = spawnSync('bash', [`${REPO}scripts/build-image.sh`, '--tag', 'bench', '--arch', arch], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const seconds = (performance.now() - start) / 1000;
  if (result.status !== 0) throw new Error(`build-image.sh --arch ${arch} failed:\n${result.stderr}`);
  const line = result.stdout.split('\n').find((l) => l.startsWith(`image ${arch} `));
  if (!line) throw new Error(`build-image.sh printed no size for ${arch}:\n${result.stdout}`);
  return { seconds, bytes: Number(line.split(' ')[3]) };
}

const rows: Row[] = [];
for (const arch of ARCHES) {
  progress(`${arch}: warming the layer cache (the first run ever builds everything)`);
  build(arch);
  const samples: number[] = [];
  let bytes = 0;
  for (let i = 0; i < RUNS; i++) {
    progress(`${arch}: warm build ${i + 1}/${RUNS}`);
    const measured = build(arch);
    samples.push(measured.seconds);
    bytes = measured.bytes;
  }
  const median = [...samples].sort((a, b) => a - b)[Math.floor(RUNS / 2)]!;
  rows.push({
    what: `${arch}: warm build (all layers cached), median of ${RUNS}`,
    result: `${median.toFixed(1)} s`,
  });
  rows.push({
    what: `${arch}: image size, uncompressed`,
    result: `${(bytes / 1e6).toFixed(1)} MB`,
    target: '≤ 250 MB',
  });
}
printTable('container image', rows);
