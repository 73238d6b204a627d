// Prints the mutation score per module group from Stryker's JSON report (`make mutate`).
// Usage: node scripts/mutation-summary.mjs [reports/mutation/mutation.json]
import { readFileSync } from 'node:fs';

const GROUPS = [
  ['vault boundary', (path) => path.startsWith('core/')],
  ['executor', (path) => path.startsWith('executor/')],
  ['operator decide/credentials', (path) => path.startsWith('operator/')],
];
const GOAL = 85;

const file = process.argv[2] ?? 'reports/mutation/mutation.json';
let report;
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch (error) {
  console.error(`mutation-summary: cannot read ${file} (${error.message}); run \`make mutate\` first`);
  process.exit(1);
}

function tally(paths) {
  const t = { killed: 0, survived: 0, timeout: 0, noCoverage: 0, errors: 0 };
  for (const path of paths) {
    for (const m of report.files[path].mutants) {
      if (m.status === 'Killed') t.killed++;
      else if (m.status === 'Survived') t.survived++;
      else if (m.status === 'Timeout') t.timeout++;
      else if (m.status === 'NoCoverage') t.noCoverage++;
      else if (m.status === 'CompileError' || m.status === 'RuntimeError') t.errors++;
    }
  }
  const valid = t.killed + t.timeout + t.survived + t.noCoverage;
  t.score = valid === 0 ? Number.NaN : (100 * (t.killed + t.timeout)) / valid;
  return t;
}

const paths = Object.keys(report.files).sort();
const rows = [];
for (const [name, member] of GROUPS) {
  const own = paths.filter(member);
  if (own.length === 0) continue;
  for (const path of own) rows.push([`  ${path}`, tally([path])]);
  rows.push([name, tally(own)]);
}
rows.push(['all', tally(paths)]);

const header = ['module', 'killed', 'survived', 'timeout', 'no cov', 'errors', 'score'];
const width = Math.max(...rows.map(([name]) => name.length), header[0].length);
const line = (cells) =>
  cells.map((c, i) => (i === 0 ? String(c).padEnd(width) : String(c).padStart(8))).join(' ');
console.log(line(header));
for (const [name, t] of rows) {
  const score = Number.isNaN(t.score) ? 'n/a' : `${t.score.toFixed(1)}%`;
  console.log(line([name, t.killed, t.survived, t.timeout, t.noCoverage, t.errors, score]));
}
const total = rows.at(-1)[1].score;
console.log(`goal: ${GOAL}% on every group; ${total >= GOAL ? 'met overall' : 'not met overall'}`);
