import { mkdir, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';

/**
 * A loopback SMTP outbox for the demo: a real SMTP server (smtp-server) on 127.0.0.1 that accepts every
 * message and saves it, byte for byte, as `<dir>/<n>.eml`. No TLS, no auth: it never leaves the machine.
 */
export type Outbox = {
  port: number;
  /** Paths of the saved messages, in arrival order. */
  saved: string[];
  waitFor: (count: number, timeoutMs: number) => Promise<void>;
  close: () => Promise<void>;
};

export async function startOutbox(dir: string): Promise<Outbox> {
  await mkdir(dir, { recursive: true });
  const saved: string[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    banner: 'fte demo outbox (loopback only)',
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', callback);
      stream.on('end', () => {
        const path = join(dir, `${String(saved.length + 1).padStart(3, '0')}.eml`);
        writeFile(path, Buffer.concat(chunks)).then(
          () => {
            saved.push(path);
            callback(null, `queued as ${path}`);
          },
          (error: Error) => callback(error),
        );
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.server.address() as AddressInfo).port,
    saved,
    async waitFor(count, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (saved.length < count) {
        if (Date.now() > deadline)
          throw new Error(`the outbox received ${saved.length} of ${count} messages`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
