/**
 * The exact rule: secrets this machine holds (the approval key, …) never enter the vault in any usual
 * spelling. Each secret becomes byte needles: its raw bytes, lower- and upper-case hex, and base64 and
 * base64url at the three byte alignments it can have inside a longer base64 text (the edge characters
 * that mix in neighbouring bytes are dropped). Needles are searched in the file's bytes, so no decoding
 * can hide them.
 */
export type KnownSecrets = { needles: Buffer[]; longest: number };

/** Needles shorter than this would match ordinary text. */
const MIN_NEEDLE = 8;

function base64Forms(secret: Buffer): string[] {
  const forms: string[] = [];
  for (let shift = 0; shift < 3; shift++) {
    const encoded = Buffer.concat([Buffer.alloc(shift), secret]).toString('base64');
    // Characters touched by the shift's zero bytes (first group) or by what follows (last group) vary.
    const core = encoded.slice(shift === 0 ? 0 : 4, (secret.length + shift) % 3 === 0 ? undefined : -4);
    const unpadded = core.replace(/=+$/, '');
    forms.push(unpadded, unpadded.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return forms;
}

export function knownSecrets(secrets: readonly Buffer[]): KnownSecrets {
  const needles = new Map<string, Buffer>();
  for (const secret of secrets) {
    if (secret.length === 0) continue;
    const forms = [
      secret,
      Buffer.from(secret.toString('hex')),
      Buffer.from(secret.toString('hex').toUpperCase()),
      ...base64Forms(secret).map((form) => Buffer.from(form)),
    ];
    for (const form of forms) if (form.length >= MIN_NEEDLE) needles.set(form.toString('latin1'), form);
  }
  const list = [...needles.values()];
  return { needles: list, longest: Math.max(0, ...list.map((n) => n.length)) };
}

export function containsKnownSecret(bytes: Buffer, known: KnownSecrets): boolean {
  return known.needles.some((needle) => bytes.includes(needle));
}
