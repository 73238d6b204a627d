import { existsSync, realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../config.js';
import { writeFileAtomic } from '../fsutil.js';

/**
 * The token file: one JSON object, mode 0600, outside the vault (the vault is shared with the cloud and
 * pushed to a git remote; a token there would leak). Written by `fte mail login`, rewritten by a refresh
 * when it is writable (a mounted Kubernetes Secret is not: the new access token then lives in memory).
 * The client secret of the owner's own app registration is kept beside the refresh token because a refresh
 * needs it (Google's desktop-app "secret" is not confidential; Microsoft public clients have none).
 */
export const TokenFile = z.object({
  version: z.literal(1),
  provider: z.string().min(1),
  /** The mailbox address the token is for (the IMAP/SMTP user). */
  user: z.string().min(1),
  token_endpoint: z.url(),
  client_id: z.string().min(1),
  client_secret: z.string().min(1).optional(),
  /** The scopes the server granted (else the ones asked for). */
  scopes: z.array(z.string()),
  access_token: z.string().min(1),
  /** ISO time the access token stops working. */
  expires_at: z.string(),
  refresh_token: z.string().min(1).optional(),
  obtained_at: z.string(),
});
export type TokenFile = z.infer<typeof TokenFile>;

export class TokenFileError extends ConfigError {}

export async function readTokenFile(path: string): Promise<TokenFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new TokenFileError(`the OAuth token file ${path} cannot be read (${code}); run \`fte mail login\``);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new TokenFileError(`the OAuth token file ${path} is not JSON; run \`fte mail login\` again`);
  }
  const parsed = TokenFile.safeParse(json);
  if (!parsed.success) {
    // Only the field names: values may be tokens.
    const fields = [...new Set(parsed.error.issues.map((i) => i.path.join('.') || '(file)'))].join(', ');
    throw new TokenFileError(
      `the OAuth token file ${path} is not valid (${fields}); run \`fte mail login\` again`,
    );
  }
  return parsed.data;
}

export async function writeTokenFile(path: string, token: TokenFile): Promise<void> {
  assertOutsideVault(path);
  await writeFileAtomic(path, `${JSON.stringify(TokenFile.parse(token), null, 2)}\n`, 0o600);
}

function real(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

/**
 * Refuses a token path inside a vault: one of `vaults`, or any folder above the file that looks like one
 * (a git work tree with `Needs_Action/` or `Dashboard.md`).
 */
export function assertOutsideVault(path: string, vaults: string[] = []): void {
  const file = join(real(dirname(resolve(path))), '');
  for (const vault of vaults) {
    const root = join(real(vault), '');
    if (file === root || file.startsWith(root.endsWith(sep) ? root : root + sep)) {
      throw new TokenFileError(`${path} is inside the vault ${vault}: keep tokens outside the vault`);
    }
  }
  let dir = file;
  for (;;) {
    if (
      existsSync(join(dir, '.git')) &&
      (existsSync(join(dir, 'Needs_Action')) || existsSync(join(dir, 'Dashboard.md')))
    ) {
      throw new TokenFileError(`${path} is inside the vault ${dir}: keep tokens outside the vault`);
    }
    const up = dirname(dir);
    if (up === dir) return;
    dir = up;
  }
}
