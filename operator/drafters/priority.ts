import { PRIORITIES } from '../../core/schemas.js';

export type Priority = (typeof PRIORITIES)[number];
export { PRIORITIES };

const URGENT = /\b(urgent|asap|immediately|emergency|right away|today)\b/i;
const HIGH = /\b(invoice|payment|overdue|refund|contract|deadline|complaint|cancel(?:lation)?|legal)\b/i;

/** A keyword guess at priority (the template drafter's triage; Claude decides for itself). */
export function keywordPriority(subject: string, body: string, declared?: Priority): Priority {
  const text = `${subject}\n${body.slice(0, 4000)}`;
  if (URGENT.test(text)) return 'urgent';
  if (HIGH.test(text)) return declared === 'urgent' ? 'urgent' : 'high';
  return declared ?? 'normal';
}
