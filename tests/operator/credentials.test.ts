import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sendCredentialsIn, sendScopesOf } from '../../operator/credentials.js';

/** The check `fte operator` runs before anything else (it refuses to start, exit 78, when this is not []). */
describe('send credentials the cloud operator refuses to hold', () => {
  it('names every send, payment and signing credential set, sorted', () => {
    const env = {
      SMTP_PASSWORD: 'p',
      SMTP_OAUTH_TOKEN_FILE: '/t',
      WHATSAPP_SESSION_DIR: '/w',
      BANK_API_KEY: 'b',
      ACME_BANK_TOKEN: 'a',
      PAYMENT_STRIPE_TOKEN: 's',
      FTE_APPROVAL_KEY: 'k',
      FTE_APPROVAL_KEY_FILE: '/k',
      ODOO_POST_API_KEY: 'o',
      ODOO_POST_API_KEY_FILE: '/o',
    };
    expect(sendCredentialsIn(env)).toEqual(Object.keys(env).sort());
  });

  it('leaves alone what the cloud may hold, near misses of the names, and empty or unset values', () => {
    const env = {
      SMTP_HOST: 'smtp.example.com',
      SMTP_USER: 'me@example.com',
      SMTP_PASSWORD_HINT: 'x',
      MY_SMTP_PASSWORD: 'x',
      SMTP_OAUTH_TOKEN_FILE_OLD: 'x',
      MY_SMTP_OAUTH_TOKEN_FILE: 'x',
      MY_ODOO_POST_API_KEY: 'x',
      MY_WHATSAPP_SESSION: 'x',
      NOT_BANK_X: 'x',
      ACME_BANK_TOKEN_OLD: 'x',
      MY_PAYMENT_TOKEN: 'x',
      PAYMENT_TOKEN_URL: 'x',
      FTE_APPROVAL_KEY_ID: 'x',
      XFTE_APPROVAL_KEY: 'x',
      ODOO_API_KEY: 'draft-only',
      ODOO_API_KEY_FILE: '/d',
      ODOO_POST_API_KEY_OLD: 'x',
      SMTP_PASSWORD: '',
      BANK_PIN: undefined,
    };
    expect(sendCredentialsIn(env)).toEqual([]);
  });

  it('an IMAP token file whose scopes allow sending is named with them; a read-only or unreadable one is not', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fte-credentials-'));
    const send = join(dir, 'send.json');
    const read = join(dir, 'read.json');
    const broken = join(dir, 'broken.json');
    const noScopes = join(dir, 'no-scopes.json');
    await writeFile(
      send,
      JSON.stringify({
        scopes: [
          'https://outlook.office.com/IMAP.AccessAsUser.All',
          'https://outlook.office.com/SMTP.Send',
          'https://outlook.office.com/Mail.Send',
          7,
        ],
      }),
    );
    await writeFile(read, JSON.stringify({ scopes: ['https://outlook.office.com/IMAP.AccessAsUser.All'] }));
    await writeFile(broken, '{"scopes": [');
    await writeFile(noScopes, JSON.stringify({ scopes: 'https://mail.google.com/' }));

    expect(sendCredentialsIn({ IMAP_OAUTH_TOKEN_FILE: ` ${send} `, BANK_X: '1' })).toEqual([
      'BANK_X',
      'IMAP_OAUTH_TOKEN_FILE (scopes allow sending: https://outlook.office.com/SMTP.Send https://outlook.office.com/Mail.Send)',
    ]);
    expect(sendScopesOf(send)).toEqual([
      'https://outlook.office.com/SMTP.Send',
      'https://outlook.office.com/Mail.Send',
    ]);
    for (const file of [read, broken, noScopes, join(dir, 'absent.json')]) {
      expect(sendCredentialsIn({ IMAP_OAUTH_TOKEN_FILE: file })).toEqual([]);
      expect(sendScopesOf(file)).toEqual([]);
    }
    expect(sendCredentialsIn({ IMAP_OAUTH_TOKEN_FILE: '  ' })).toEqual([]);
    expect(sendScopesOf('any', () => JSON.stringify({ scopes: ['https://mail.google.com/'] }))).toEqual([
      'https://mail.google.com/',
    ]);
  });
});
