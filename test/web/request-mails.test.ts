/**
 * The e-mails that tell a person about their request — received, extended, completed with the
 * archive's signed link, refused with the reason and the right to complain — through the
 * durable outbox, to a real SMTP receiver; and the attacks: a row moved onto another request by
 * a DB administrator, tampered, expired or made-up archive links, script in a reason.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SignJWT } from 'jose';
import { Browser, portalWithSilos, signIn, type PortalKit } from './helpers.js';
import { ALICE, BOB } from '../helpers/synthetic-connector.js';
import type { Engine } from '../../src/engine/worker.js';
import { MailSender } from '../../src/mail/sender.js';
import { denyRequest, extendRequest } from '../../src/requests/service.js';
import { MAIL_LINK_TTL_MS } from '../../src/requests/archive-link.js';
import { createMailer } from '../../src/mail/mailer.js';
import { systemCtx } from '../helpers/deps.js';
import { call } from '../helpers/http.js';
import { auditTexts } from '../auth/helpers.js';

let kit: PortalKit;
let engine: Engine;
let sender: MailSender;
afterEach(async () => kit?.close());

async function withSilos(opts: { requireApproval?: string[] } = {}) {
  ({ kit, engine } = await portalWithSilos(opts));
  sender = new MailSender(kit.deps);
}

/** Sends what the outbox holds and answers the mails that arrived since `from` (0-based count), parsed. */
async function mailsSince(from: number): Promise<ParsedMail[]> {
  await sender.runUntilIdle();
  return Promise.all(kit.smtp.mails.slice(from).map((m) => simpleParser(m.raw)));
}

async function ask(b: Browser, type: string, extra: Record<string, string> = {}): Promise<string> {
  const r = await b.post('/privacy/requests', { type, ...extra });
  expect(r.status, r.text.slice(0, 300)).toBe(303);
  return /\/privacy\/requests\/(req_[0-9a-z]+)/.exec(r.location ?? '')![1]!;
}

const linkIn = (mail: ParsedMail) => /http:\/\/[^\s]+\/privacy\/archive\/([A-Za-z0-9._-]+)/.exec(mail.text ?? '');

describe('request e-mails', () => {
  it('tells the person their access request was received, then completed with a one-day link to the archive', async () => {
    await withSilos();
    const b = await signIn(kit, ALICE.email);
    const before = kit.smtp.mails.length;
    const id = await ask(b, 'access');

    const [received, ...rest] = await mailsSince(before);
    expect(rest).toEqual([]);
    expect(kit.smtp.mails[before]!.to).toEqual([ALICE.email]);
    expect(received!.subject).toBe('Nous avons bien reçu votre demande : Accès à mes données');
    expect(received!.headers.get('content-language')).toBe('fr');
    expect(received!.text).toContain(`Nous avons reçu votre demande le 1 mars 2026. Son numéro est ${id}.`);
    expect(received!.text).toContain('Nous vous répondrons au plus tard le 1 avril 2026 (Europe/Paris).');
    expect(received!.text).toContain(`/privacy/requests/${id}`);
    expect(received!.html).toContain('<html lang="fr">');
    expect(received!.messageId).toMatch(/^<mail_[0-9a-z]+@oubli\.invalid>$/);

    // Sent: the row keeps no address.
    const [row] = await kit.deps.db.mails.ofRequest(id);
    expect(row).toMatchObject({ kind: 'received', status: 'sent', recipient: null, attempts: 1 });

    await engine.runUntilIdle();
    const [completed] = await mailsSince(before + 1);
    expect(completed!.subject).toBe('Votre demande est terminée : Accès à mes données');
    expect(completed!.text).toContain('il fonctionne 24 heures, pour cette archive seulement');
    expect(completed!.text).toContain('https://www.cnil.fr/fr/plaintes');
    const token = linkIn(completed!)![1]!;
    expect(completed!.html).toContain(`/privacy/archive/${token}`);

    // The link needs no session, and its download is audited as the link's, naming no one.
    const stranger = new Browser(kit.app);
    const zip = await stranger.get(`/privacy/archive/${token}`);
    expect(zip.status).toBe(200);
    expect(zip.headers.get('content-type')).toBe('application/zip');
    const texts = await auditTexts(kit.deps);
    const download = texts.map((t) => JSON.parse(t)).find((e) => e.type === 'request.export_downloaded' && e.requestId === id);
    expect(download?.actor).toMatchObject({ type: 'subject', id: expect.stringMatching(/^link:[A-Za-z0-9_-]{12}$/) });
    expect(texts.join('\n')).not.toContain(ALICE.email);

    // A day later the link has expired: the person is told to sign in for a new one.
    kit.deps.clock.advance(MAIL_LINK_TTL_MS + 1000);
    const late = await stranger.get(`/privacy/archive/${token}`);
    expect(late.status).toBe(410);
    expect(late.text).toContain('Ce lien de téléchargement a expiré.');
  });

  it('writes in the language of the request, and sends nothing to a request given no email', async () => {
    await withSilos();
    const b = await signIn(kit, BOB.email);
    b.jar.set('lang', 'en');
    const before = kit.smtp.mails.length;
    const id = await ask(b, 'portability');
    const [mail] = await mailsSince(before);
    expect(mail!.subject).toBe('We have received your request: My data in a reusable file (portability)');
    expect(mail!.headers.get('content-language')).toBe('en');
    expect(mail!.text).toContain('We will answer by April 1, 2026 (Europe/Paris) at the latest.');
    expect(mail!.html).toContain('<html lang="en">');
    expect((await kit.deps.db.mails.ofRequest(id)).length).toBe(1);

    const phoneOnly = await call(kit.app, 'POST', '/v1/requests', { body: { type: 'access', identities: [{ type: 'phone', value: ALICE.phone }], verified: true }, headers: kit.auth });
    expect(phoneOnly.status, phoneOnly.text).toBe(201);
    expect(await kit.deps.db.mails.ofRequest((phoneOnly.json as { id: string }).id)).toEqual([]);
  });

  it('tells of an extension with its reason and the new deadline, and of a refusal with the reason, escaped, and the right to complain', async () => {
    await withSilos({ requireApproval: ['erasure'] });
    const b = await signIn(kit, ALICE.email);
    const id = await ask(b, 'erasure', { confirm: 'yes' });
    await sender.runUntilIdle();
    const before = kit.smtp.mails.length;

    await extendRequest(systemCtx(kit.deps), id, 2, 'Nos archives papier\r\nSubject: forged <b>bold</b>');
    const [extended] = await mailsSince(before);
    expect(extended!.subject).toBe(`Votre demande ${id} : nous avons besoin de plus de temps`);
    expect(extended!.text).toContain('Nous avons prolongé le délai de 2 mois');
    expect(extended!.text).toContain('Notre raison : Nos archives papier Subject: forged <b>bold</b>'); // one line
    expect(extended!.text).toContain('Nous vous répondrons au plus tard le 1 juin 2026 (Europe/Paris).');
    expect(extended!.html).toContain('forged &lt;b&gt;bold&lt;/b&gt;');
    expect(extended!.headers.get('subject')).not.toContain('forged');

    await denyRequest(systemCtx(kit.deps), id, 'other', 'Contrat en cours <script>alert(1)</script> "><img src=x onerror=alert(2)>');
    const [denied] = await mailsSince(before + 1);
    expect(denied!.subject).toBe(`Votre demande ${id} a été refusée`);
    expect(denied!.text).toContain('Nous avons refusé cette demande. Notre raison : Contrat en cours <script>alert(1)</script>');
    expect(denied!.text).toContain('adresser une réclamation à la CNIL');
    expect(denied!.html).toContain('Contrat en cours &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(denied!.html).not.toMatch(/<script>|<img src=x/);
    expect(denied!.html).toContain('href="https://www.cnil.fr/fr/plaintes"');
  });

  it('keeps a mail the SMTP server would not take, and sends it on a later attempt', async () => {
    await withSilos();
    const working = kit.deps.mailer;
    const b = await signIn(kit, ALICE.email);
    const before = kit.smtp.mails.length;
    kit.deps.mailer = createMailer({ smtpUrl: 'smtp://127.0.0.1:1', mailFrom: 'privacy@shop.example', dataDir: kit.deps.config.dataDir }, kit.deps.now);
    const id = await ask(b, 'access');
    await sender.runUntilIdle();
    const [pending] = await kit.deps.db.mails.ofRequest(id);
    expect(pending).toMatchObject({ status: 'pending', attempts: 1, lastError: expect.stringMatching(/^ECONNECTION|^ESOCKET/) });
    expect(pending!.recipient).not.toBeNull();
    expect(pending!.nextAttemptAt).toBeGreaterThan(kit.deps.now());
    expect(kit.smtp.mails.length).toBe(before);

    kit.deps.mailer.close();
    kit.deps.mailer = working;
    kit.deps.clock.advance(10_000);
    const [mail] = await mailsSince(before);
    expect(mail!.subject).toContain('Nous avons bien reçu votre demande');
    expect((await kit.deps.db.mails.ofRequest(id))[0]).toMatchObject({ status: 'sent', attempts: 2, recipient: null });
  });

  it('sends nothing from a row a DB administrator moved onto another request or gave another address', async () => {
    await withSilos({ requireApproval: ['erasure'] });
    const alice = await signIn(kit, ALICE.email);
    const aliceId = await ask(alice, 'erasure', { confirm: 'yes' });
    const bobsRequest = await call(kit.app, 'POST', '/v1/requests', { body: { type: 'erasure', identities: [{ type: 'email', value: BOB.email }], verified: true }, headers: kit.auth });
    const bobId = (bobsRequest.json as { id: string }).id;
    const { requestMails: m } = kit.deps.db.tables;
    const [aliceMail] = await kit.deps.db.mails.ofRequest(aliceId);
    const [bobMail] = await kit.deps.db.mails.ofRequest(bobId);
    // Alice's address onto Bob's request: she would learn of his refusal.
    await kit.deps.db.tx((t) => t.q.update(m).set({ requestId: bobId }).where(eq(m.id, aliceMail!.id)));
    // Alice's sealed address copied onto Bob's row.
    await kit.deps.db.tx((t) => t.q.update(m).set({ recipient: aliceMail!.recipient }).where(eq(m.id, bobMail!.id)));
    const before = kit.smtp.mails.length;
    expect(await mailsSince(before)).toEqual([]);
    for (const id of [aliceMail!.id, bobMail!.id]) {
      expect(await kit.deps.db.mails.get(id)).toMatchObject({ status: 'failed', lastError: expect.stringMatching(/^MAIL_TAMPERED/), recipient: null });
    }
  });

  it('opens an archive only through a genuine, unexpired link of this deployment', async () => {
    await withSilos();
    const b = await signIn(kit, ALICE.email);
    const id = await ask(b, 'access');
    await engine.runUntilIdle();
    // The status page's button: a fresh 10-minute link, followed at once.
    const hop = await b.get(`/privacy/requests/${id}/archive`);
    expect(hop.status).toBe(303);
    const token = /^\/privacy\/archive\/([A-Za-z0-9._-]+)$/.exec(hop.location ?? '')![1]!;
    expect((await b.follow(hop)).status).toBe(200);

    const anyone = new Browser(kit.app);
    const [head, payload, sig] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const otherPayload = Buffer.from(JSON.stringify({ ...claims, sub: 'req_00000000000000000000000000' })).toString('base64url');
    const foreignKey = await new SignJWT({ jti: 'x' }).setProtectedHeader({ alg: 'HS256' }).setSubject(id).setAudience('oubli/archive').setExpirationTime('1h').sign(new Uint8Array(32));
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.`;
    for (const bad of [`${head}.${otherPayload}.${sig}`, `${head}.${payload}.${sig.slice(0, -2)}AA`, foreignKey, none, 'x'.repeat(600), 'nope']) {
      const r = await anyone.get(`/privacy/archive/${bad}`);
      expect(r.status, bad.slice(0, 40)).toBe(404);
      expect(r.headers.get('content-type')).toContain('text/html');
    }
    // Ten minutes later the page's link has expired.
    kit.deps.clock.advance(10 * 60_000 + 1000);
    expect((await anyone.get(`/privacy/archive/${token}`)).status).toBe(410);
  });

  it('opens no archive past its retention, even before the sweep deletes the file', async () => {
    await withSilos();
    const b = await signIn(kit, ALICE.email);
    const id = await ask(b, 'access');
    await engine.runUntilIdle();
    const req = await kit.deps.db.requests.get(id);
    // The page's 10-minute link, taken a minute before the export's retention ends.
    kit.deps.clock.advance(req!.exportExpiresAt! - kit.deps.now() - 60_000);
    const again = await signIn(kit, ALICE.email);
    const hop = await again.get(`/privacy/requests/${id}/archive`);
    expect(hop.status).toBe(303);
    // Two minutes later the retention is over; the sweep has not run yet.
    kit.deps.clock.advance(120_000);
    expect((await new Browser(kit.app).get(hop.location!)).status).toBe(404);
    expect((await again.get(`/privacy/requests/${id}/archive`)).status).toBe(404);
    // The API says so too.
    const view = await call(kit.app, 'GET', `/v1/requests/${id}`, { headers: kit.auth });
    expect((view.json as { export: unknown }).export).toMatchObject({ available: false });
    const texts = await auditTexts(kit.deps);
    expect(texts.map((t) => JSON.parse(t)).filter((e) => e.type === 'request.export_downloaded' && e.requestId === id)).toEqual([]);
  });

  it('opens no archive of a person once their erasure is done: the link of the access request stops working', async () => {
    await withSilos();
    const b = await signIn(kit, ALICE.email);
    const access = await ask(b, 'access');
    await engine.runUntilIdle();
    const token = (await mailsSince(0)).map(linkIn).find((m) => m)![1]!;
    expect((await new Browser(kit.app).get(`/privacy/archive/${token}`)).status).toBe(200);
    const erasure = await ask(b, 'erasure', { confirm: 'yes' });
    await engine.runUntilIdle();
    expect((await kit.deps.db.requests.get(erasure))!.status).toBe('completed');
    // The archive holds what the erasure deleted: neither the mail's link nor the portal opens it.
    expect((await new Browser(kit.app).get(`/privacy/archive/${token}`)).status).toBe(404);
    expect((await b.get(`/privacy/requests/${access}/archive`)).status).toBe(404);
    expect((await b.get(`/privacy/requests/${access}`)).text).not.toContain(`/privacy/requests/${access}/archive`);
  });

  it('sends each mail once when two senders run at once', async () => {
    await withSilos();
    const b = await signIn(kit, ALICE.email);
    const before = kit.smtp.mails.length;
    await ask(b, 'access');
    await ask(b, 'erasure', { confirm: 'yes' });
    const other = new MailSender(kit.deps);
    await Promise.all([sender.runUntilIdle(), other.runUntilIdle(), sender.runUntilIdle()]);
    expect(kit.smtp.mails.length - before).toBe(2);
    expect(sender.sent + other.sent).toBe(2);
  });
});
