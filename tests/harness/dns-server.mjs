// A minimal authoritative DNS server for the test node (tests/harness/test-images.ts startClusterDns):
// UDP only, one question per query, A records from a JSON file { "<name>": "<IPv4>" } read on every query.
// A known name asked for another type gets an empty answer (NODATA); an unknown name gets NXDOMAIN.
// Usage: node dns-server.mjs <address> <port> <records.json>
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';

const [address, port, recordsFile] = process.argv.slice(2);
if (!address || !port || !recordsFile) {
  process.stderr.write('usage: dns-server.mjs <address> <port> <records.json>\n');
  process.exit(2);
}

function records() {
  try {
    return JSON.parse(readFileSync(recordsFile, 'utf8'));
  } catch {
    return {};
  }
}

/** The question's name (lower case, no trailing dot), type and where the question ends. */
function parseQuestion(msg) {
  let offset = 12;
  const labels = [];
  for (;;) {
    const length = msg[offset];
    if (length === undefined) throw new Error('truncated name');
    if (length === 0) break;
    if (length > 63) throw new Error('compressed or invalid label in a question');
    labels.push(msg.subarray(offset + 1, offset + 1 + length).toString('ascii'));
    offset += 1 + length;
  }
  offset += 1;
  if (offset + 4 > msg.length) throw new Error('truncated question');
  return { name: labels.join('.').toLowerCase(), type: msg.readUInt16BE(offset), end: offset + 4 };
}

function answer(msg) {
  const id = msg.readUInt16BE(0);
  const flags = msg.readUInt16BE(2);
  const rd = flags & 0x0100;
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  let question;
  try {
    if (msg.length < 12 || msg.readUInt16BE(4) !== 1) throw new Error('not one question');
    question = parseQuestion(msg);
  } catch {
    header.writeUInt16BE(0x8000 | rd | 1, 2); // FORMERR
    return header;
  }
  const known = records();
  const ip = known[question.name];
  const rcode = ip === undefined ? 3 : 0;
  const answers = ip !== undefined && question.type === 1 ? 1 : 0;
  header.writeUInt16BE(0x8000 | 0x0400 | rd | rcode, 2); // QR, AA
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers, 6);
  const parts = [header, msg.subarray(12, question.end)];
  if (answers) {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0); // the question's name
    rr.writeUInt16BE(1, 2); // A
    rr.writeUInt16BE(1, 4); // IN
    rr.writeUInt32BE(5, 6); // TTL
    rr.writeUInt16BE(4, 10);
    ip.split('.').forEach((octet, i) => {
      rr[12 + i] = Number(octet);
    });
    parts.push(rr);
  }
  process.stdout.write(`${question.name} type ${question.type}: ${ip ?? 'NXDOMAIN'}\n`);
  return Buffer.concat(parts);
}

const socket = createSocket('udp4');
socket.on('message', (msg, peer) => {
  if (msg.length < 12) return;
  socket.send(answer(msg), peer.port, peer.address);
});
socket.bind(Number(port), address, () => process.stdout.write(`dns server listening on ${address}:${port}\n`));
