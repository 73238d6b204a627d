import { readFile } from 'node:fs/promises';
import { HttpVaultPort, serveVaultPort, type VaultPortServer } from '../core/vault/http-port.js';
import { LocalVaultPort } from '../core/vault/local-port.js';
import type { VaultRepo } from '../core/vault-repo.js';
import { CliError, EXIT } from './errors.js';

/**
 * The CLI's side of the loopback vault port (DESIGN.md §4): `fte sync --serve <host:port>` serves the clone
 * it owns, `fte operator --vault-port <url>` applies its changes there. Both read the shared token from
 * FTE_VAULT_TOKEN_FILE (a mounted Secret) or FTE_VAULT_TOKEN.
 */

export async function vaultToken(env: NodeJS.ProcessEnv): Promise<string> {
  let token = env.FTE_VAULT_TOKEN;
  if (env.FTE_VAULT_TOKEN_FILE) {
    try {
      token = await readFile(env.FTE_VAULT_TOKEN_FILE, 'utf8');
    } catch (error) {
      throw new CliError(
        `cannot read FTE_VAULT_TOKEN_FILE ${env.FTE_VAULT_TOKEN_FILE}: ${(error as Error).message}`,
        EXIT.config,
      );
    }
  }
  token = token?.trim();
  if (!token || token.length < 16) {
    throw new CliError(
      'the vault port needs a shared token of at least 16 characters in FTE_VAULT_TOKEN_FILE or FTE_VAULT_TOKEN',
      EXIT.config,
    );
  }
  return token;
}

/** `host:port` (loopback only) → a running server for the clone's port. */
export async function serveSyncPort(
  repo: VaultRepo,
  listen: string,
  env: NodeJS.ProcessEnv,
): Promise<VaultPortServer> {
  const match = /^(?:(\[[^\]]+\]|[^:]+):)?(\d{1,5})$/.exec(listen);
  const port = Number(match?.[2]);
  if (!match || port > 65535) {
    throw new CliError(
      `--serve must be [host:]port, e.g. 127.0.0.1:7419 (got ${JSON.stringify(listen)})`,
      EXIT.usage,
    );
  }
  const host = (match[1] ?? '127.0.0.1').replace(/^\[|\]$/g, '');
  try {
    return await serveVaultPort({
      port: new LocalVaultPort(repo),
      token: await vaultToken(env),
      host,
      listenPort: port,
      onError: (error) => process.stderr.write(`fte sync: vault port: ${(error as Error).message}\n`),
    });
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`cannot serve the vault port on ${listen}: ${(error as Error).message}`, EXIT.config);
  }
}

export async function operatorPort(
  url: string,
  root: string,
  agent: string,
  env: NodeJS.ProcessEnv,
): Promise<HttpVaultPort> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CliError(
      `--vault-port must be a URL like http://127.0.0.1:7419 (got ${JSON.stringify(url)})`,
      EXIT.usage,
    );
  }
  if (parsed.protocol !== 'http:')
    throw new CliError('--vault-port must be an http:// loopback URL', EXIT.usage);
  const port = new HttpVaultPort(root, agent, parsed.toString(), await vaultToken(env));
  await sidecarUp(parsed, Number(env.FTE_VAULT_PORT_WAIT_SECONDS ?? 60));
  return port;
}

/**
 * Waits until the sidecar answers /healthz: in a pod both containers start together and the sidecar first
 * clones, so the operator gives it up to `seconds` (FTE_VAULT_PORT_WAIT_SECONDS, 60) before it gives up
 * with the unreachable port's error (exit 75) instead of crashing at once. Silent: the operator's log is
 * JSON lines only.
 */
async function sidecarUp(url: URL, seconds: number): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    try {
      const response = await fetch(new URL('/healthz', url), { signal: AbortSignal.timeout(2_000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() >= deadline) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
