/** The mailbox mailer (no SMTP configured, as in the demo): one private .eml file per mail. */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { mailboxMailer } from '../../src/mail/mailer.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const mode = (p: string) => statSync(p).mode & 0o777;

describe('mailbox mailer', () => {
  it('writes each mail to its own 0600 file in a 0700 directory it creates, sends at once included', async () => {
    const root = mkdtempSync(join(tmpdir(), 'oubli-mailbox-'));
    dirs.push(root);
    const dir = join(root, 'mailbox');
    const mailer = mailboxMailer(dir, 'dpo@example.com', () => Date.UTC(2026, 11, 6));
    const mail = (n: number) => ({ to: `person${n}@example.com`, subject: `Votre demande ${n}`, text: `texte ${n}`, html: `<p>texte ${n}</p>`, lang: 'fr' });
    // The same instant for all: the names differ by their random part, and none overwrites another.
    await Promise.all(Array.from({ length: 20 }, (_, n) => mailer.send(mail(n))));
    const files = readdirSync(dir).sort();
    expect(files).toHaveLength(20);
    expect(mode(dir)).toBe(0o700);
    for (const f of files) {
      expect(f).toMatch(/^2026-12-06T00-00-00-000Z-[0-9a-f]{8}\.eml$/);
      expect(mode(join(dir, f))).toBe(0o600);
    }
    const texts = files.map((f) => readFileSync(join(dir, f), 'utf8'));
    for (let n = 0; n < 20; n++) expect(texts.filter((t) => t.includes(`To: person${n}@example.com`))).toHaveLength(1);
    mailer.close();
  });
});
