import { describe, expect, it } from 'vitest';
import { parseMarkdown } from '../../core/frontmatter.js';
import { quickParseMarkdown } from '../../operator/quick-frontmatter.js';

const accepted = [
  '---\ntype: email\nfrom: client@example.com\nsubject: Invoice for January\n---\n\n## Email Content\nHi\n',
  '---\nreceived: 2026-01-07T10:30:00Z\nmessage_id: <abc@mail.example.com>\n---\nbody right after\n',
  "---\nsubject: \"quoted: with colon\"\nname: 'it''s'\ntag: a#b\nlist: Invoice [Jan], {x}\n---\n\n\nextra blank lines\n",
  '---\nsubject: "tab\\tand \\"quote\\" \\\\ slash\\/"\nyes: yes\noff: off\n---\n',
  '---\ntitle: Ünïcödé — “quotes”\n---\n\n',
  '---\na: b\n---',
];

const refused = [
  '---\npriority: 1\n---\n',
  '---\nflag: true\n---\n',
  '---\nnothing: null\n---\n',
  '---\nempty:\n---\n',
  '---\nlist:\n  - a\n---\n',
  '---\n# comment\na: b\n---\n',
  '---\na: b # comment\n---\n',
  '---\na: &anchor b\n---\n',
  '---\na: b\na: c\n---\n',
  '---\na: "\\x41"\n---\n',
  '---\na: x: y\n---\n',
  '---\na: b \n---\n',
  '---\r\na: b\r\n---\r\n',
  '--- \na: b\n---\n',
  '---\na: b\n--- \nbody\n',
  '---\na: 1.5e3\n---\n',
  '---\na: .inf\n---\n',
  '---\na: 0x1F\n---\n',
  '---\n---\nbody\n',
  '---\na: b\n----\n---\n',
  'no frontmatter\n',
  '---\na: b\n---\n\u0000binary',
];

describe('quickParseMarkdown', () => {
  it('agrees with the full parser on every file it accepts', () => {
    for (const text of accepted) {
      const quick = quickParseMarkdown(text);
      expect(quick, JSON.stringify(text)).toBeDefined();
      expect(quick).toEqual(parseMarkdown(text));
    }
  });

  it('leaves anything it is not sure about to the full parser', () => {
    for (const text of refused) expect(quickParseMarkdown(text), JSON.stringify(text)).toBeUndefined();
  });
});
