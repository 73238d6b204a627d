import type { KubeConfig } from '@kubernetes/client-node';

type Dispatcher = NonNullable<ReturnType<import('@kubernetes/client-node').RequestContext['getDispatcher']>>;

/** How long one shared connection pool is used before a fresh one picks up rotated certificates. */
const POOL_LIFETIME_MS = 60 * 60 * 1000;
const shared = new WeakSet<KubeConfig>();

/**
 * Makes every request made through `kubeConfig` share one connection pool.
 *
 * @kubernetes/client-node 2.0.1 builds a new undici Agent for every request when the cluster has a CA
 * (every real cluster), so each call pays a TCP and TLS handshake and the old agents linger: at a few
 * hundred requests a second the client spends most of its CPU on handshakes. This keeps the library's
 * authentication (headers, tokens re-read per request) and swaps only the dispatcher for one shared agent,
 * renewed hourly so rotated client certificates are picked up. Idempotent.
 */
export function shareConnections(kubeConfig: KubeConfig): KubeConfig {
  if (shared.has(kubeConfig)) return kubeConfig;
  shared.add(kubeConfig);
  const authenticate = kubeConfig.applySecurityAuthentication.bind(kubeConfig);
  let pool: { dispatcher: Dispatcher; since: number } | undefined;
  kubeConfig.applySecurityAuthentication = async (context) => {
    await authenticate(context);
    const fresh = context.getDispatcher();
    if (!fresh) return; // plain HTTP or no TLS options: the library uses the global dispatcher
    const now = Date.now();
    if (!pool || now - pool.since > POOL_LIFETIME_MS) {
      const previous = pool?.dispatcher;
      pool = { dispatcher: fresh, since: now };
      // Requests still running on the old pool (a watch) finish there; it closes after them.
      void previous?.close().catch(() => undefined);
      return;
    }
    if (fresh !== pool.dispatcher) void fresh.close().catch(() => undefined);
    context.setDispatcher(pool.dispatcher);
  };
  return kubeConfig;
}
