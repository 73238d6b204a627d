import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A real HTTP server speaking the Anthropic Messages API (`POST /v1/messages`) on loopback, for driving
 * the official SDK through its `baseURL`: each request gets the reply the test's handler chooses.
 */

export type RecordedRequest = {
  body: {
    model: string;
    system?: string;
    messages: Array<{ role: string; content: string }>;
    output_config?: { format?: { type: string; schema: unknown } };
    max_tokens: number;
  };
  headers: IncomingMessage['headers'];
};

export type Reply =
  | { status: number; headers?: Record<string, string>; body: unknown; delayMs?: number }
  | 'hang';
export type Handler = (request: RecordedRequest, index: number) => Reply;

export type MessagesServer = { url: string; requests: RecordedRequest[]; close(): Promise<void> };

export function message(
  text: string,
  usage = { input_tokens: 120, output_tokens: 40 },
  stop_reason = 'end_turn',
) {
  return {
    status: 200,
    body: {
      id: `msg_${Math.random().toString(36).slice(2)}`,
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-6',
      content: [{ type: 'text', text }],
      stop_reason,
      stop_sequence: null,
      usage: { ...usage, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    },
  } satisfies Reply;
}

export function apiError(status: number, type: string, headers: Record<string, string> = {}): Reply {
  return {
    status,
    headers,
    body: { type: 'error', error: { type, message: `${type} from the test server` } },
  };
}

/** A reply for either call: triage (structured output) or the draft (plain text). */
export function answer(
  request: RecordedRequest,
  draft = 'Thanks for your email. The invoice is attached.\n\nBest regards,\nthe team',
): Reply {
  if (request.body.output_config?.format) {
    return message(
      JSON.stringify({ priority: 'high', needs_reply: true, reason: 'the client asks for an invoice' }),
      { input_tokens: 300, output_tokens: 25 },
    );
  }
  return message(draft, { input_tokens: 500, output_tokens: 60 });
}

export async function startMessagesServer(handler: Handler): Promise<MessagesServer> {
  const requests: RecordedRequest[] = [];
  const hanging: ServerResponse[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url?.split('?')[0] !== '/v1/messages') {
        res
          .writeHead(404, { 'content-type': 'application/json' })
          .end(JSON.stringify(apiError(404, 'not_found_error')));
        return;
      }
      const recorded: RecordedRequest = {
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
        headers: req.headers,
      };
      requests.push(recorded);
      const reply = handler(recorded, requests.length - 1);
      if (reply === 'hang') {
        hanging.push(res);
        return;
      }
      res
        .writeHead(reply.status, {
          'content-type': 'application/json',
          'request-id': 'req_test',
          ...reply.headers,
        })
        .end(JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
