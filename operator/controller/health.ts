import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Health } from '../operator.js';
import type { OperatorMetrics } from './metrics.js';

export type HealthServer = { port: number; close(): Promise<void> };

/**
 * `/healthz` (the loop is alive), `/readyz` (mirrored, watching, first sync done) and `/metrics`
 * (Prometheus text) on one small HTTP server. Nothing else is served.
 */
export async function startHealthServer(options: {
  port: number;
  host: string;
  health: () => Health;
  metrics: OperatorMetrics;
  logger: Logger;
}): Promise<HealthServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz' || path === '/readyz') {
      const health = options.health();
      const ok = path === '/healthz' ? health.live : health.ready;
      response
        .writeHead(ok ? 200 : 503, { 'content-type': 'application/json' })
        .end(`${JSON.stringify({ status: ok ? 'ok' : 'unavailable', ...health })}\n`);
      return;
    }
    if (path === '/metrics') {
      options.metrics.registry
        .metrics()
        .then((text) => {
          response.writeHead(200, { 'content-type': options.metrics.registry.contentType }).end(text);
        })
        .catch((error: Error) => {
          options.logger.warn({ err: error.message }, 'metrics collection failed');
          response.writeHead(500).end();
        });
      return;
    }
    response
      .writeHead(404, { 'content-type': 'text/plain' })
      .end('not found: try /healthz, /readyz or /metrics\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  options.logger.info({ port, host: options.host }, 'health and metrics server listening');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
