import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CHART,
  examplePath,
  examples,
  find,
  helmRun,
  type Manifest,
  REPO_ROOT,
  render,
  templateArgs,
} from './helm.js';

/** Every example plus every option that hands a container a secret, so the allow-list sees them all. */
const EVERYTHING = [
  'operator.anthropic.existingSecret=fte-anthropic',
  'operator.imap.host=imap.example.com',
  'operator.imap.user=me@example.com',
  'operator.imap.existingSecret=fte-imap',
  'metrics.serviceMonitor.enabled=true',
  'statusPage.enabled=true',
  'statusPage.auth.existingSecret=fte-ui',
];

/** The status page on, behind a password/token Secret, exposed by an Ingress with a cert-manager certificate. */
const STATUS_PAGE = [
  'statusPage.enabled=true',
  'statusPage.auth.existingSecret=fte-ui',
  'statusPage.ingress.enabled=true',
  'statusPage.ingress.host=fte.example.com',
  'statusPage.ingress.tls.clusterIssuer=letsencrypt',
];

describe('charts/fte', () => {
  it('has the four documented examples', () => {
    expect(examples).toEqual(['external-db', 'https-token', 'minimal-ssh', 'with-odoo']);
  });

  it.each(examples)('helm lint --strict passes with examples/%s.yaml', async (name) => {
    const r = await helmRun(['lint', '--strict', CHART, '-f', examplePath(name)]);
    expect(`${r.stdout}${r.stderr}`).toContain('0 chart(s) failed');
    expect(r.code).toBe(0);
  });

  it('the CRDs in charts/fte/crds are byte-identical copies of every file in crds/', () => {
    const source = readdirSync(join(REPO_ROOT, 'crds')).sort();
    const chart = readdirSync(join(CHART, 'crds')).sort();
    expect(source).toContain('task.yaml');
    for (const file of source) {
      expect(chart, `charts/fte/crds/${file} is missing`).toContain(file);
      expect(
        readFileSync(join(CHART, 'crds', file), 'utf8') ===
          readFileSync(join(REPO_ROOT, 'crds', file), 'utf8'),
        `charts/fte/crds/${file} differs from crds/${file}: cp crds/${file} charts/fte/crds/`,
      ).toBe(true);
    }
    expect(chart.sort()).toEqual([...source].sort());
  });

  describe('values.schema.json refuses wrong values with a message naming the value', () => {
    const refused = async (set: string[], values = [examplePath('minimal-ssh')]) => {
      const r = await helmRun(templateArgs({ values, set }));
      expect(r.code, r.stdout.slice(0, 200)).not.toBe(0);
      expect(r.stdout).toBe('');
      return r.stderr;
    };

    it('a plain-http git remote', async () => {
      const err = await refused(['vault.url=http://git.example.com/me/vault.git']);
      expect(err).toContain("values don't meet the specifications of the schema");
      expect(err).toMatch(
        /at '\/vault\/url': 'http:\/\/git\.example\.com\/me\/vault\.git' does not match pattern/,
      );
    });

    it('no git remote at all', async () => {
      const err = await refused([], []);
      expect(err).toMatch(/at '\/vault\/url': minLength: got 0, want 1/);
    });

    it('zero replicas, an unknown log level, an interval over an hour', async () => {
      const err = await refused([
        'operator.replicas=0',
        'operator.logLevel=verbose',
        'vault.intervalSeconds=7200',
      ]);
      expect(err).toMatch(/at '\/operator\/replicas': minimum: got 0, want 1/);
      expect(err).toMatch(/at '\/operator\/logLevel': value must be one of 'trace', 'debug', 'info'/);
      expect(err).toMatch(/at '\/vault\/intervalSeconds': maximum: got 7,?200, want 3,?600/);
    });

    it('a value the chart does not know (no way to smuggle an env var into the operator)', async () => {
      const err = await refused(['operator.extraEnv[0].name=SMTP_PASSWORD', 'operator.extraEnv[0].value=x']);
      expect(err).toMatch(/at '\/operator': additional properties 'extraEnv' not allowed/);
    });

    it('an https remote without its header Secret, an ssh remote without known_hosts', async () => {
      const https = await refused([
        'vault.url=https://git.example.com/me/vault.git',
        'git.sshKey.existingSecret=',
      ]);
      expect(https).toMatch(/at '\/git\/http\/existingSecret'/);
      const ssh = await refused(['git.knownHosts=']);
      expect(ssh).toMatch(/at '\/git\/knownHosts': minLength: got 0, want 1/);
    });

    it('an Odoo ingress without a host, a restore file with a path, a bad Odoo version', async () => {
      const err = await refused(
        ['odoo.ingress.host=', 'backup.restore.file=../etc/passwd', 'odoo.version=latest'],
        [examplePath('with-odoo')],
      );
      expect(err).toMatch(/at '\/odoo\/ingress\/host': minLength: got 0, want 1/);
      expect(err).toMatch(/at '\/backup\/restore\/file': '\.\.\/etc\/passwd' does not match pattern/);
      expect(err).toMatch(/at '\/odoo\/version': 'latest' does not match pattern/);
    });

    it('an Odoo ingress with neither cert-manager nor a TLS Secret (a template check)', async () => {
      const err = await refused(['odoo.ingress.tls.clusterIssuer='], [examplePath('with-odoo')]);
      expect(err).toContain(
        'odoo.ingress.enabled: set odoo.ingress.tls.clusterIssuer (cert-manager) or odoo.ingress.tls.existingSecret',
      );
    });
  });

  describe('the operator pod', () => {
    const SEND_CREDENTIAL = [
      /^SMTP_PASSWORD/,
      /^WHATSAPP_SESSION/,
      /^BANK_/,
      /_BANK_TOKEN$/,
      /^PAYMENT_.*TOKEN$/,
      /^FTE_APPROVAL_KEY/,
    ];
    // biome-ignore lint/suspicious/noExplicitAny: a rendered container.
    type Container = any;

    /** Every Secret a container can read: secretKeyRef env, envFrom, mounted secret or projected volumes. */
    function secretsOf(pod: Manifest['spec'], container: Container): string[] {
      const names: string[] = [];
      for (const env of container.env ?? []) {
        if (env.valueFrom?.secretKeyRef) names.push(`env ${env.name} <- ${env.valueFrom.secretKeyRef.name}`);
      }
      for (const from of container.envFrom ?? []) names.push(`envFrom ${JSON.stringify(from)}`);
      for (const mount of container.volumeMounts ?? []) {
        const volume = pod.volumes.find((v: { name: string }) => v.name === mount.name);
        expect(volume, `volume ${mount.name}`).toBeDefined();
        if (volume.secret) names.push(`mount ${mount.mountPath} <- ${volume.secret.secretName}`);
        for (const source of volume.projected?.sources ?? []) {
          if (source.secret) names.push(`mount ${mount.mountPath} <- ${source.secret.name}`);
        }
      }
      return names.sort();
    }

    const cases = [
      ...examples.map((name) => ({ name, values: [examplePath(name)], set: [] as string[] })),
      ...examples.map((name) => ({
        name: `${name} + every option`,
        values: [examplePath(name)],
        set: EVERYTHING,
      })),
    ];

    it.each(cases)(
      '$name: no container can receive a send credential; the operator only its allow-list',
      async ({ values, set }) => {
        const manifests = await render({ values, set });
        const deployment = find(manifests, 'Deployment', 'fte-operator');
        const pod = deployment.spec.template.spec;
        const containers: Container[] = [...pod.initContainers, ...pod.containers];
        expect(containers.map((c) => c.name)).toEqual(['clone', 'sync', 'operator']);

        for (const c of containers) {
          for (const env of c.env ?? []) {
            for (const pattern of SEND_CREDENTIAL) expect(`${c.name}: ${env.name}`).not.toMatch(pattern);
          }
          expect(c.envFrom, `${c.name} envFrom`).toBeUndefined();
        }

        const operator = containers.find((c) => c.name === 'operator');
        const allowed = [
          'env ANTHROPIC_API_KEY <- fte-anthropic',
          'env FTE_UI_PASSWORD_HASH <- fte-ui',
          'env FTE_UI_TOKEN <- fte-ui',
          'mount /etc/fte/imap <- fte-imap',
          'mount /etc/fte/odoo <- fte-odoo-cloud',
          'mount /etc/fte/vault-token <- fte-vault-token',
        ];
        const operatorSecrets = secretsOf(pod, operator);
        for (const s of operatorSecrets) expect(allowed, `operator container: ${s}`).toContain(s);
        expect(operatorSecrets).toContain('mount /etc/fte/vault-token <- fte-vault-token');
        // The operator never runs git and never sees a git credential.
        expect(
          operator.env.map((e: { name: string }) => e.name).filter((n: string) => n.startsWith('GIT_')),
        ).toEqual([]);

        // The git owner gets git's credential and the token, nothing of the operator's.
        const gitSecret = values[0]!.includes('https')
          ? 'env GIT_CONFIG_VALUE_0 <- fte-git-http'
          : 'mount /etc/fte/git <- fte-git-ssh';
        expect(
          secretsOf(
            pod,
            containers.find((c) => c.name === 'clone'),
          ),
        ).toEqual([gitSecret]);
        expect(
          secretsOf(
            pod,
            containers.find((c) => c.name === 'sync'),
          ),
        ).toEqual([gitSecret, 'mount /etc/fte/vault-token <- fte-vault-token'].sort());

        // No other workload of the release mounts the git, Anthropic, IMAP or Odoo API key Secrets.
        const operatorOnly = [
          'fte-git-ssh',
          'fte-git-http',
          'fte-anthropic',
          'fte-imap',
          'fte-odoo-cloud',
          'fte-ui',
          'fte-vault-token',
        ];
        const workloads = ['Deployment', 'StatefulSet', 'CronJob', 'Job', 'DaemonSet', 'Pod'];
        for (const m of manifests.filter((x) => x !== deployment && workloads.includes(x.kind))) {
          const text = JSON.stringify(m.spec ?? {});
          for (const s of operatorOnly)
            expect(`${m.kind}/${m.metadata.name}: ${text.includes(`"${s}"`)}`).toContain(': false');
        }
      },
    );

    it('runs the documented commands, hardened, with the token, probes and git settings', async () => {
      const manifests = await render({ values: [examplePath('minimal-ssh')] });
      const pod = find(manifests, 'Deployment', 'fte-operator').spec.template.spec;
      expect(find(manifests, 'Deployment', 'fte-operator').spec.replicas).toBe(2);
      const [clone] = pod.initContainers;
      const [sync, operator] = pod.containers;
      expect(clone.args).toEqual([
        'init',
        '/data/vault',
        '--remote',
        'git@github.com:me/vault.git',
        '--agent',
        'cloud',
      ]);
      expect(sync.args).toEqual([
        'sync',
        '--vault',
        '/data/vault',
        '--agent',
        'cloud',
        '--serve',
        '127.0.0.1:7419',
        '--interval',
        '10',
        '--vault-resource',
        'fte',
      ]);
      expect(operator.args).toEqual([
        'operator',
        '--store',
        'kube',
        '--vault',
        '/data/vault',
        '--agent',
        'cloud',
        '--vault-port',
        'http://127.0.0.1:7419',
        '--vault-resource',
        'fte',
        '--port',
        '9464',
      ]);
      const env = (c: Container) =>
        Object.fromEntries(c.env.map((e: { name: string; value?: string }) => [e.name, e.value]));
      expect(env(operator)).toMatchObject({
        FTE_OPERATOR_BIND: '0.0.0.0',
        FTE_LEASE_NAME: 'fte-operator',
        FTE_VAULT_TOKEN_FILE: '/etc/fte/vault-token/token',
        HOME: '/tmp',
      });
      expect(env(sync)).toMatchObject({ FTE_VAULT_TOKEN_FILE: '/etc/fte/vault-token/token', HOME: '/tmp' });
      for (const c of [clone, sync]) {
        expect(env(c).GIT_SSH_COMMAND).toBe(
          'ssh -i /etc/fte/git/ssh-privatekey -o UserKnownHostsFile=/etc/fte/git/known_hosts -o IdentitiesOnly=yes',
        );
      }
      expect(operator.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
      expect(operator.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
      expect(pod.securityContext).toMatchObject({
        runAsNonRoot: true,
        runAsUser: 10001,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      for (const c of [clone, sync, operator]) {
        expect(c.securityContext).toEqual({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        });
      }
      const knownHosts = find(manifests, 'ConfigMap', 'fte-git').data.known_hosts;
      expect(knownHosts).toMatch(/^github\.com ssh-ed25519 /);
      expect(find(manifests, 'PodDisruptionBudget').spec.minAvailable).toBe(1);
      expect(manifests.filter((m) => m.kind === 'ServiceMonitor')).toEqual([]);
    });

    it('https: the header reaches git from the Secret through GIT_CONFIG_*, never as a file', async () => {
      const pod = find(await render({ values: [examplePath('https-token')] }), 'Deployment', 'fte-operator')
        .spec.template.spec;
      const sync = pod.containers[0];
      expect(sync.env.filter((e: { name: string }) => e.name.startsWith('GIT_'))).toEqual([
        { name: 'GIT_CONFIG_COUNT', value: '1' },
        { name: 'GIT_CONFIG_KEY_0', value: 'http.extraHeader' },
        {
          name: 'GIT_CONFIG_VALUE_0',
          valueFrom: { secretKeyRef: { name: 'fte-git-http', key: 'authorization' } },
        },
      ]);
      expect(pod.volumes.map((v: { name: string }) => v.name)).not.toContain('git');
    });

    it('with Odoo, the operator gets the draft user and its key file, never the database password', async () => {
      const manifests = await render({ values: [examplePath('with-odoo')] });
      const operator = find(manifests, 'Deployment', 'fte-operator').spec.template.spec.containers[1];
      expect(
        Object.fromEntries(
          operator.env
            .filter((e: { name: string }) => e.name.startsWith('ODOO_'))
            .map((e: { name: string; value: string }) => [e.name, e.value]),
        ),
      ).toEqual({
        ODOO_URL: 'http://fte-odoo:8069',
        ODOO_DB: 'odoo',
        ODOO_LOGIN: 'fte-cloud',
        ODOO_API_KEY_FILE: '/etc/fte/odoo/api-key',
      });
      expect(JSON.stringify(operator)).not.toContain('postgresql');
      // Egress to Odoo is by pod selector, port 8069.
      const egress = find(manifests, 'NetworkPolicy', 'fte-operator').spec.egress;
      expect(egress).toContainEqual({
        to: [
          {
            podSelector: {
              matchLabels: {
                'app.kubernetes.io/name': 'fte',
                'app.kubernetes.io/instance': 'fte',
                'app.kubernetes.io/component': 'odoo',
              },
            },
          },
        ],
        ports: [{ protocol: 'TCP', port: 8069 }],
      });
    });
  });

  describe('NetworkPolicy', () => {
    it('the operator pods reach only DNS, the API server, git, IMAP and Anthropic; only the metrics port is open', async () => {
      const manifests = await render({ values: [examplePath('https-token')] });
      const policy = find(manifests, 'NetworkPolicy', 'fte-operator').spec;
      expect(policy.policyTypes).toEqual(['Ingress', 'Egress']);
      expect(policy.ingress).toEqual([{ ports: [{ protocol: 'TCP', port: 9464 }] }]);
      const rules = policy.egress.map(
        (r: { to: unknown[]; ports: { protocol: string; port: number }[] }) => ({
          to: JSON.stringify(r.to),
          ports: r.ports.map((p) => `${p.protocol}/${p.port}`).join(','),
        }),
      );
      expect(rules).toEqual([
        {
          to: '[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"kube-system"}}}]',
          ports: 'UDP/53,TCP/53',
        },
        { to: '[{"ipBlock":{"cidr":"0.0.0.0/0"}}]', ports: 'TCP/6443,TCP/443' },
        { to: '[{"ipBlock":{"cidr":"203.0.113.10/32"}}]', ports: 'TCP/443' },
        { to: '[{"ipBlock":{"cidr":"0.0.0.0/0"}}]', ports: 'TCP/993' },
        {
          to: '[{"ipBlock":{"cidr":"160.79.104.0/23"}},{"ipBlock":{"cidr":"2607:6bc0::/48"}}]',
          ports: 'TCP/443',
        },
      ]);
    });
  });

  describe('the read-only status page', () => {
    // biome-ignore lint/suspicious/noExplicitAny: a rendered container.
    const operatorOf = (manifests: Manifest[]): any =>
      find(manifests, 'Deployment', 'fte-operator').spec.template.spec.containers.find(
        (c: { name: string }) => c.name === 'operator',
      );

    it('is off by default: no --ui-port, no FTE_UI_* env, no ui port, Service or Ingress', async () => {
      for (const name of examples) {
        const manifests = await render({ values: [examplePath(name)] });
        const operator = operatorOf(manifests);
        expect(operator.args).not.toContain('--ui-port');
        expect(
          operator.env.map((e: { name: string }) => e.name).filter((n: string) => n.startsWith('FTE_UI')),
        ).toEqual([]);
        expect(operator.ports).toEqual([{ name: 'http', containerPort: 9464 }]);
        expect(manifests.filter((m) => m.metadata.name === 'fte-operator-ui')).toEqual([]);
        // Only Odoo's Ingress, where an example has one.
        for (const m of manifests.filter((x) => x.kind === 'Ingress'))
          expect(m.metadata.name).toBe('fte-odoo');
        expect(find(manifests, 'NetworkPolicy', 'fte-operator').spec.ingress).toEqual([
          { ports: [{ protocol: 'TCP', port: 9464 }] },
        ]);
      }
    });

    it('refuses to render without statusPage.auth.existingSecret (the page never listens unprotected)', async () => {
      const r = await helmRun(
        templateArgs({ values: [examplePath('minimal-ssh')], set: ['statusPage.enabled=true'] }),
      );
      expect(r.code).not.toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(
        'statusPage.enabled: set statusPage.auth.existingSecret to a Secret with key passwordHash (fte ui hash-password) and/or token',
      );
    });

    it('refuses an Ingress without TLS or host, and a port taken by the metrics or the vault port', async () => {
      const refused = async (set: string[]) => {
        const r = await helmRun(templateArgs({ values: [examplePath('minimal-ssh')], set }));
        expect(r.code).not.toBe(0);
        return r.stderr;
      };
      expect(await refused([...STATUS_PAGE, 'statusPage.ingress.tls.clusterIssuer='])).toContain(
        'statusPage.ingress.enabled: set statusPage.ingress.tls.clusterIssuer (cert-manager) or statusPage.ingress.tls.existingSecret',
      );
      expect(await refused([...STATUS_PAGE, 'statusPage.ingress.host='])).toMatch(
        /at '\/statusPage\/ingress\/host': minLength: got 0, want 1/,
      );
      for (const port of ['9464', '7419']) {
        expect(await refused([...STATUS_PAGE, `statusPage.port=${port}`])).toContain(
          'statusPage.port must differ from operator.port and sync.port',
        );
      }
    });

    it('enabled with a Secret, an Ingress and TLS: --ui-port, auth from the Secret, Service, Ingress, NetworkPolicy', async () => {
      const manifests = await render({ values: [examplePath('minimal-ssh')], set: STATUS_PAGE });
      const operator = operatorOf(manifests);
      const ui = operator.args.indexOf('--ui-port');
      expect(ui).toBeGreaterThan(0);
      expect(operator.args.slice(ui, ui + 2)).toEqual(['--ui-port', '7420']);
      expect(operator.env).toEqual(
        expect.arrayContaining([
          { name: 'FTE_UI_BIND', value: '0.0.0.0' },
          { name: 'FTE_UI_SECURE_COOKIE', value: '1' },
          {
            name: 'FTE_UI_PASSWORD_HASH',
            valueFrom: { secretKeyRef: { name: 'fte-ui', key: 'passwordHash', optional: true } },
          },
          {
            name: 'FTE_UI_TOKEN',
            valueFrom: { secretKeyRef: { name: 'fte-ui', key: 'token', optional: true } },
          },
        ]),
      );
      // Never the hash or the token as a literal value, and no other FTE_UI_* setting.
      expect(
        operator.env.map((e: { name: string }) => e.name).filter((n: string) => n.startsWith('FTE_UI')),
      ).toEqual(['FTE_UI_BIND', 'FTE_UI_SECURE_COOKIE', 'FTE_UI_PASSWORD_HASH', 'FTE_UI_TOKEN']);
      expect(operator.ports).toEqual([
        { name: 'http', containerPort: 9464 },
        { name: 'ui', containerPort: 7420 },
      ]);
      // Probes stay on the health port: the page never decides whether a pod is ready.
      expect(operator.readinessProbe.httpGet.port).toBe('http');

      const service = find(manifests, 'Service', 'fte-operator-ui');
      expect(service.spec.ports).toEqual([{ name: 'ui', port: 7420, targetPort: 'ui' }]);
      expect(service.spec.selector).toEqual({
        'app.kubernetes.io/name': 'fte',
        'app.kubernetes.io/instance': 'fte',
        'app.kubernetes.io/component': 'operator',
      });
      // Sessions live in each pod's memory: a browser stays on one pod.
      expect(service.spec.sessionAffinity).toBe('ClientIP');
      expect(service.metadata.annotations).toMatchObject({
        'traefik.ingress.kubernetes.io/service.sticky.cookie': 'true',
        'traefik.ingress.kubernetes.io/service.sticky.cookie.secure': 'true',
        'traefik.ingress.kubernetes.io/service.sticky.cookie.httponly': 'true',
      });
      // The metrics Service is unchanged.
      expect(find(manifests, 'Service', 'fte-operator-metrics').spec.ports).toEqual([
        { name: 'http', port: 9464, targetPort: 'http' },
      ]);

      const ingress = find(manifests, 'Ingress', 'fte-operator-ui');
      expect(ingress.metadata.annotations).toEqual({ 'cert-manager.io/cluster-issuer': 'letsencrypt' });
      expect(ingress.spec).toEqual({
        ingressClassName: 'traefik',
        tls: [{ hosts: ['fte.example.com'], secretName: 'fte-operator-ui-tls' }],
        rules: [
          {
            host: 'fte.example.com',
            http: {
              paths: [
                {
                  path: '/',
                  pathType: 'Prefix',
                  backend: { service: { name: 'fte-operator-ui', port: { name: 'ui' } } },
                },
              ],
            },
          },
        ],
      });

      expect(find(manifests, 'NetworkPolicy', 'fte-operator').spec.ingress).toEqual([
        { ports: [{ protocol: 'TCP', port: 9464 }] },
        { ports: [{ protocol: 'TCP', port: 7420 }] },
      ]);
    });

    it('an own TLS Secret, another port, the ingress controller as the only peer; no Ingress: no Secure cookie', async () => {
      const traefik = {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
      };
      const manifests = await render({
        values: [examplePath('minimal-ssh')],
        set: [
          ...STATUS_PAGE,
          'statusPage.port=8080',
          'statusPage.ingress.tls.clusterIssuer=',
          'statusPage.ingress.tls.existingSecret=fte-ui-tls',
          'networkPolicy.statusPage.from[0].namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name=kube-system',
        ],
      });
      expect(operatorOf(manifests).args).toContain('8080');
      const ingress = find(manifests, 'Ingress', 'fte-operator-ui');
      expect(ingress.spec.tls).toEqual([{ hosts: ['fte.example.com'], secretName: 'fte-ui-tls' }]);
      expect(find(manifests, 'NetworkPolicy', 'fte-operator').spec.ingress).toEqual([
        { ports: [{ protocol: 'TCP', port: 9464 }] },
        { ports: [{ protocol: 'TCP', port: 8080 }], from: [traefik] },
      ]);

      // Without an Ingress (kubectl port-forward only), the cookie is not Secure and the Service has no
      // Traefik annotations.
      const plain = await render({
        values: [examplePath('minimal-ssh')],
        set: ['statusPage.enabled=true', 'statusPage.auth.existingSecret=fte-ui'],
      });
      const env = operatorOf(plain).env.map((e: { name: string }) => e.name);
      expect(env).toContain('FTE_UI_BIND');
      expect(env).not.toContain('FTE_UI_SECURE_COOKIE');
      expect(find(plain, 'Service', 'fte-operator-ui').metadata.annotations).toBeUndefined();
      expect(plain.filter((m) => m.kind === 'Ingress')).toEqual([]);
    });

    it('helm lint --strict passes with the status page on', async () => {
      const r = await helmRun([
        'lint',
        '--strict',
        CHART,
        '-f',
        examplePath('with-odoo'),
        ...STATUS_PAGE.flatMap((s) => ['--set', s]),
      ]);
      expect(`${r.stdout}${r.stderr}`).toContain('0 chart(s) failed');
      expect(r.code).toBe(0);
    });
  });

  describe('backups', () => {
    it('a CronJob keeps backup.retention; the restore Job exists only with backup.restore.file', async () => {
      const manifests = await render({ values: [examplePath('with-odoo')] });
      const cron = find(manifests, 'CronJob', 'fte-backup');
      expect(cron.spec.timeZone).toBe('Europe/Berlin');
      const container = cron.spec.jobTemplate.spec.template.spec.containers[0];
      expect(container.env).toContainEqual({ name: 'RETENTION', value: '14' });
      expect(manifests.filter((m) => m.kind === 'Job')).toEqual([]);
      const script = find(manifests, 'ConfigMap', 'fte-backup').data['backup.sh'];
      expect(script).toContain('pg_dump --format=custom');

      const restoring = await render({
        values: [examplePath('with-odoo')],
        set: ['backup.restore.file=odoo-20260107T033000Z.dump'],
      });
      const job = find(restoring, 'Job');
      const restore = job.spec.template.spec.containers[0];
      expect(restore.command).toEqual(['sh', '/scripts/restore.sh']);
      expect(restore.env).toContainEqual({ name: 'RESTORE_FILE', value: 'odoo-20260107T033000Z.dump' });
    });
  });
});

describe('the Monday briefing CronJob (charts/fte/templates/briefing.yaml)', () => {
  // biome-ignore lint/suspicious/noExplicitAny: a rendered pod spec.
  function secretsOf(pod: any, container: any): string[] {
    const names: string[] = [];
    for (const env of container.env ?? []) {
      if (env.valueFrom?.secretKeyRef) names.push(`env ${env.name} <- ${env.valueFrom.secretKeyRef.name}`);
    }
    for (const mount of container.volumeMounts ?? []) {
      const volume = pod.volumes.find((v: { name: string }) => v.name === mount.name);
      expect(volume, `volume ${mount.name}`).toBeDefined();
      if (volume.secret) names.push(`mount ${mount.mountPath} <- ${volume.secret.secretName}`);
      for (const source of volume.projected?.sources ?? []) {
        if (source.secret) names.push(`mount ${mount.mountPath} <- ${source.secret.name}`);
      }
    }
    return names.sort();
  }

  // biome-ignore lint/suspicious/noExplicitAny: a rendered container.
  const operatorEnv = (manifests: Manifest[]): Record<string, any> =>
    Object.fromEntries(
      find(manifests, 'Deployment', 'fte-operator')
        .spec.template.spec.containers.find((c: { name: string }) => c.name === 'operator')
        .env.map((e: { name: string; value?: string }) => [e.name, e.value]),
    );

  it('off by default: the operator writes the briefing instead (FTE_BRIEFING=1, FTE_TIMEZONE from briefing.timeZone)', async () => {
    const manifests = await render({ values: [examplePath('with-odoo')] });
    expect(manifests.filter((m) => m.kind === 'CronJob').map((m) => m.metadata.name)).toEqual(['fte-backup']);
    expect(operatorEnv(manifests).FTE_BRIEFING).toBe('1');
    expect(operatorEnv(manifests).FTE_TIMEZONE).toBeUndefined();
    const berlin = await render({
      values: [examplePath('with-odoo')],
      set: ['briefing.timeZone=Europe/Berlin'],
    });
    expect(operatorEnv(berlin)).toMatchObject({ FTE_BRIEFING: '1', FTE_TIMEZONE: 'Europe/Berlin' });
  });

  it.each(['with-odoo', 'https-token'])(
    '%s: clone, fte briefing, sync --once at Monday 07:00 in briefing.timeZone; git credentials only to clone and sync',
    async (example) => {
      const manifests = await render({
        values: [examplePath(example)],
        set: [...EVERYTHING, 'briefing.enabled=true', 'briefing.timeZone=Europe/Berlin'],
      });
      const cron = find(manifests, 'CronJob', 'fte-briefing');
      expect(cron.spec.schedule).toBe('0 7 * * 1');
      // Never both: with the CronJob on, the operator does not write the briefing.
      expect(operatorEnv(manifests).FTE_BRIEFING).toBe('0');
      expect(cron.spec.timeZone).toBe('Europe/Berlin');
      expect(cron.spec.concurrencyPolicy).toBe('Forbid');
      const pod = cron.spec.jobTemplate.spec.template.spec;
      expect(pod.automountServiceAccountToken).toBe(false);
      const [clone, briefing] = pod.initContainers;
      const [sync] = pod.containers;
      expect([clone.name, briefing.name, sync.name]).toEqual(['clone', 'briefing', 'sync']);
      expect(clone.args.slice(0, 3)).toEqual(['init', '/data/vault', '--remote']);
      expect(briefing.args).toEqual(['briefing', '--vault', '/data/vault', '--agent', 'cloud']);
      expect(sync.args).toEqual(['sync', '--vault', '/data/vault', '--agent', 'cloud', '--once']);
      const env = Object.fromEntries(
        briefing.env.map((e: { name: string; value?: string }) => [e.name, e.value ?? '(secret)']),
      );
      expect(env.FTE_TIMEZONE).toBe('Europe/Berlin');
      expect(Object.keys(env).filter((n) => n.startsWith('GIT_'))).toEqual([]);
      const gitSecret = example.includes('https')
        ? 'env GIT_CONFIG_VALUE_0 <- fte-git-http'
        : 'mount /etc/fte/git <- fte-git-ssh';
      expect(secretsOf(pod, clone)).toEqual([gitSecret]);
      expect(secretsOf(pod, sync)).toEqual([gitSecret]);
      const odoo = example === 'with-odoo';
      expect(secretsOf(pod, briefing)).toEqual(
        [
          'env ANTHROPIC_API_KEY <- fte-anthropic',
          ...(odoo ? ['mount /etc/fte/odoo <- fte-odoo-cloud'] : []),
        ].sort(),
      );
      if (odoo) {
        expect(env).toMatchObject({
          ODOO_URL: expect.stringMatching(/^http:\/\/fte-odoo[.:]/),
          ODOO_DB: expect.any(String),
          ODOO_LOGIN: expect.any(String),
          ODOO_API_KEY_FILE: '/etc/fte/odoo/api-key',
        });
      } else {
        expect(env.ODOO_URL).toBeUndefined();
      }
    },
  );

  it('helm lint --strict passes with the briefing on; a bad schedule is refused by the schema', async () => {
    const lint = await helmRun([
      'lint',
      '--strict',
      CHART,
      '-f',
      examplePath('with-odoo'),
      '--set',
      'briefing.enabled=true',
      '--set',
      'briefing.timeZone=America/New_York',
    ]);
    expect(`${lint.stdout}${lint.stderr}`).toContain('0 chart(s) failed');
    const bad = await helmRun([
      ...templateArgs({ values: [examplePath('with-odoo')] }),
      '--set',
      'briefing.schedule=weekly',
    ]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/briefing\/schedule/);
  });
});
