// Prints the mutation score per module and group from Stryker's JSON reports (`make mutate`).
// Usage: node scripts/mutation-summary.mjs [report.json ...]
// Without arguments: every group's report (reports/mutation/mutation-<group>.json) that exists, else the
// report of an ad-hoc run (reports/mutation/mutation.json).
import { existsSync, readFileSync } from 'node:fs';
import { MUTATION_GROUPS } from '../mutation-groups.mjs';

const GOAL = 85;
const groupReports = Object.keys(MUTATION_GROUPS)
  .map((name) => `reports/mutation/mutation-${name}.json`)
  .filter((file) => existsSync(file));
const files =
  process.argv.length > 2
    ? process.argv.slice(2)
    : groupReports.length > 0
      ? groupReports
      : ['reports/mutation/mutation.json'];

/** Each mutated file's mutants; a file in two reports keeps the later report's. */
const mutantsOf = new Map();
for (const file of files) {
  let report;
  try {
    report = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    console.error(`mutation-summary: cannot read ${file} (${error.message}); run \`make mutate\` first`);
    process.exit(1);
  }
  for (const [path, entry] of Object.entries(report.files)) mutantsOf.set(path, entry.mutants);
}

function tally(paths) {
  const t = { killed: 0, survived: 0, timeout: 0, noCoverage: 0, errors: 0 };
  for (const path of paths) {
    for (const m of mutantsOf.get(path)) {
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

const paths = [...mutantsOf.keys()].sort();
const rows = [];
const listed = new Set();
for (const [name, group] of Object.entries(MUTATION_GROUPS)) {
  const own = [...new Set(group.mutate.map((m) => m.replace(/:\d+-\d+$/, '')))].filter((p) => mutantsOf.has(p));
  if (own.length === 0) continue;
  for (const path of own) {
    rows.push([`  ${path}`, tally([path])]);
    listed.add(path);
  }
  rows.push([name, tally(own)]);
}
const others = paths.filter((p) => !listed.has(p));
for (const path of others) rows.push([`  ${path} (in no group)`, tally([path])]);
rows.push(['all', tally(paths)]);

const header = ['module', 'killed', 'survived', 'timeout', 'no cov', 'errors', 'score'];
const width = Math.max(...rows.map(([name]) => name.length), header[0].length);
const line = (cells) =>
  cells.map((c, i) => (i === 0 ? String(c).padEnd(width) : String(c).padStart(8))).join(' ');
console.log(`from ${files.join(', ')}`);
console.log(line(header));
for (const [name, t] of rows) {
  const score = Number.isNaN(t.score) ? 'n/a' : `${t.score.toFixed(1)}%`;
  console.log(line([name, t.killed, t.survived, t.timeout, t.noCoverage, t.errors, score]));
}
const total = rows.at(-1)[1].score;
console.log(`goal: ${GOAL}% on every module; ${total >= GOAL ? 'met overall' : 'not met overall'}`);
