import { describe, expect, it } from 'vitest';
import { examplePath, find, render } from './helm.js';

/** operator.imap.oauthSecret: the cloud reads its mailbox with a read-only OAuth token instead of a password. */
describe('chart: IMAP with an OAuth token', () => {
  it('mounts token.json from the Secret and sets IMAP_OAUTH_TOKEN_FILE instead of IMAP_PASSWORD_FILE', async () => {
    const manifests = await render({
      values: [examplePath('minimal-ssh')],
      set: [
        'operator.imap.host=outlook.office365.com',
        'operator.imap.user=owner@contoso.example',
        'operator.imap.oauthSecret=fte-imap-oauth',
      ],
    });
    const pod = find(manifests, 'Deployment').spec.template.spec;
    const operator = pod.containers.find((c: { name: string }) => c.name === 'operator');
    const env = Object.fromEntries(
      operator.env.map((e: { name: string; value?: string }) => [e.name, e.value]),
    );
    expect(env.IMAP_OAUTH_TOKEN_FILE).toBe('/etc/fte/imap/token.json');
    expect(env.IMAP_PASSWORD_FILE).toBeUndefined();
    expect(env.SMTP_OAUTH_TOKEN_FILE).toBeUndefined();
    const volume = pod.volumes.find((v: { name: string }) => v.name === 'imap');
    expect(volume.secret).toMatchObject({
      secretName: 'fte-imap-oauth',
      items: [{ key: 'token.json', path: 'token.json' }],
    });
  });
});
