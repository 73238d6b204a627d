// A git server over HTTP with Basic auth, as a pod reaches GitHub: `git http-backend` (git's own smart
// HTTP CGI program) behind a small Node HTTP server. Plain JavaScript so that the cluster harness can start
// it inside the node's network namespace with `nsenter --net … node git-http-server.mjs`.
//
//   node git-http-server.mjs <listen host> <port> <project root> <user> <password file>
//
// Prints "listening <host>:<port>" once it accepts connections. Every repository under <project root> is
// served at /<name>.git; fetch and push both need the credentials.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { timingSafeEqual } from 'node:crypto';

const [host, port, projectRoot, user, passwordFile] = process.argv.slice(2);
if (!host || !port || !projectRoot || !user || !passwordFile) {
  process.stderr.write('usage: git-http-server.mjs <host> <port> <project root> <user> <password file>\n');
  process.exit(64);
}
const expected = Buffer.from(`Basic ${Buffer.from(`${user}:${readFileSync(passwordFile, 'utf8').trim()}`).toString('base64')}`);

function authorized(header) {
  const given = Buffer.from(header ?? '');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

const server = createServer((req, res) => {
  if (!authorized(req.headers.authorization)) {
    res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="fte test git"' }).end();
    return;
  }
  const url = new URL(req.url ?? '/', 'http://git.invalid');
  const cgi = spawn('git', ['http-backend'], {
    env: {
      PATH: process.env.PATH,
      GIT_PROJECT_ROOT: projectRoot,
      GIT_HTTP_EXPORT_ALL: '1',
      REMOTE_USER: user,
      REMOTE_ADDR: req.socket.remoteAddress ?? '',
      REQUEST_METHOD: req.method ?? 'GET',
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.slice(1),
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      HTTP_CONTENT_ENCODING: req.headers['content-encoding'] ?? '',
      GIT_PROTOCOL: req.headers['git-protocol'] ?? '',
    },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  req.pipe(cgi.stdin);
  cgi.stdin.on('error', () => {});
  // CGI output: header lines, a blank line, then the body.
  let head = Buffer.alloc(0);
  let headerDone = false;
  cgi.stdout.on('data', (chunk) => {
    if (headerDone) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) return;
    headerDone = true;
    let status = 200;
    const headers = {};
    for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
      else headers[name] = value;
    }
    res.writeHead(status, headers);
    res.write(head.subarray(end + 4));
  });
  cgi.on('close', (code) => {
    if (!headerDone) res.writeHead(500).end(`git http-backend exited with ${code}\n`);
    else res.end();
  });
});

server.listen(Number(port), host, () => process.stdout.write(`listening ${host}:${port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
