import { readFile } from 'node:fs/promises';

/**
 * A number that grows while a process tree does anything: bytes read and written (`/proc/<pid>/io`) plus
 * CPU ticks (`/proc/<pid>/stat`) of the process and all its descendants. A git transfer can be silent on
 * stderr for many seconds (the server deltifying one big object); this shows it is still working (a
 * local remote's pack-objects burns CPU, an ssh client reads the server's keepalives). -1 where /proc is
 * not available (then only git's progress lines count).
 */
export async function processTreeActivity(pid: number): Promise<number> {
  let total = 0;
  let seen = 0;
  const queue = [pid];
  for (let guard = 0; queue.length > 0 && guard < 256; guard++) {
    const next = queue.shift() as number;
    const [io, stat, children] = await Promise.all([
      readFile(`/proc/${next}/io`, 'utf8').catch(() => ''),
      readFile(`/proc/${next}/stat`, 'utf8').catch(() => ''),
      readFile(`/proc/${next}/task/${next}/children`, 'utf8').catch(() => ''),
    ]);
    if (!stat) continue;
    seen++;
    for (const match of io.matchAll(/^(?:rchar|wchar): (\d+)$/gm)) total += Number(match[1]);
    // Fields after the command name (which may contain spaces): utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    total += Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
    for (const child of children.trim().split(/\s+/).filter(Boolean)) queue.push(Number(child));
  }
  return seen === 0 ? -1 : total;
}
