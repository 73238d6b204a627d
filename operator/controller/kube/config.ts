import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { ConfigError } from '../../../core/config.js';

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export type KubeConnection = {
  kubeConfig: KubeConfig;
  namespace: string;
  /** Where the configuration came from, for logs and error messages. */
  source: string;
  server: string;
};

export type KubeConnectionOptions = {
  /** `--kubeconfig`: wins over everything else. */
  kubeconfig?: string;
  /** `--namespace`: wins over the context's namespace and the pod's own. */
  namespace?: string;
  env?: NodeJS.ProcessEnv;
};

/** The Kubernetes configuration could not be found or read. */
export class KubeConfigError extends ConfigError {}

/**
 * Finds the cluster to talk to, in this order: `--kubeconfig`, `$KUBECONFIG`, the pod's service account
 * (in-cluster), `~/.kube/config`. The namespace is `--namespace`, else `$POD_NAMESPACE`, else the
 * service account's namespace (in-cluster) or the current context's, else `default`.
 */
export function connectKube(options: KubeConnectionOptions = {}): KubeConnection {
  const env = options.env ?? process.env;
  const saDir = SERVICE_ACCOUNT_DIR;
  const kubeConfig = new KubeConfig();
  let source: string;
  let inCluster = false;
  try {
    if (options.kubeconfig) {
      if (!existsSync(options.kubeconfig))
        throw new KubeConfigError(`--kubeconfig ${options.kubeconfig} does not exist`);
      kubeConfig.loadFromFile(options.kubeconfig);
      source = `--kubeconfig ${options.kubeconfig}`;
    } else if (env.KUBECONFIG) {
      const files = env.KUBECONFIG.split(':').filter(Boolean);
      const missing = files.filter((f) => !existsSync(f));
      if (missing.length === files.length) {
        throw new KubeConfigError(`KUBECONFIG names no existing file (${env.KUBECONFIG})`);
      }
      // One file is the common case; several are merged the way kubectl merges them.
      if (files.length === 1) kubeConfig.loadFromFile(files[0]!);
      else kubeConfig.loadFromDefault({}, false);
      source = `KUBECONFIG=${env.KUBECONFIG}`;
    } else if (env.KUBERNETES_SERVICE_HOST && existsSync(join(saDir, 'token'))) {
      kubeConfig.loadFromCluster();
      source = 'in-cluster service account';
      inCluster = true;
    } else if (existsSync(join(homedir(), '.kube', 'config'))) {
      kubeConfig.loadFromFile(join(homedir(), '.kube', 'config'));
      source = '~/.kube/config';
    } else {
      throw new KubeConfigError(
        'no Kubernetes configuration: pass --kubeconfig <file>, set KUBECONFIG, or run inside a cluster',
      );
    }
  } catch (error) {
    if (error instanceof KubeConfigError) throw error;
    throw new KubeConfigError(`cannot read the Kubernetes configuration: ${(error as Error).message}`);
  }
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new KubeConfigError(`the Kubernetes configuration (${source}) has no current cluster`);
  return {
    kubeConfig,
    namespace: pickNamespace(kubeConfig, options, env, saDir, inCluster),
    source,
    server: cluster.server,
  };
}

function pickNamespace(
  kubeConfig: KubeConfig,
  options: KubeConnectionOptions,
  env: NodeJS.ProcessEnv,
  saDir: string,
  inCluster: boolean,
): string {
  if (options.namespace) return options.namespace;
  if (env.POD_NAMESPACE) return env.POD_NAMESPACE;
  if (inCluster) {
    try {
      const ns = readFileSync(join(saDir, 'namespace'), 'utf8').trim();
      if (ns) return ns;
    } catch {
      // fall through to the context's namespace
    }
  }
  const context = kubeConfig.getContextObject(kubeConfig.getCurrentContext());
  return context?.namespace || 'default';
}
