/** Sign-in by e-mailed code, through the forms, with the code read from a real SMTP receiver. */
import { afterEach, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { Browser, codeOf, portalApp, signIn, type PortalKit } from './helpers.js';
import { CODE_TTL_MS, RESEND_AFTER_MS } from '../../src/portal/codes.js';
import { SESSION_IDLE_MS } from '../../src/portal/sessions.js';
import { call } from '../helpers/http.js';

let kit: PortalKit;
afterEach(async () => kit?.close());

/** Asks for a code; answers the browser (on the code page) and the mailed code. */
async function askCode(email: string, browser = new Browser(kit.app)) {
  await browser.get('/privacy');
  const n = kit.smtp.mails.length;
  const res = await browser.post('/privacy/sign-in', { email });
  expect(res.status).toBe(303);
  await browser.follow(res);
  return { browser, code: codeOf(await kit.smtp.waitFor(n + 1)), mail: kit.smtp.mails[n]! };
}

const wrong = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

describe('sign-in by code', () => {
  it('mails a code in the person’s language and opens a session scoped to them', async () => {
    kit = await portalApp();
    const { browser, code, mail } = await askCode('Alice@Example.com', new Browser(kitApp(), { 'accept-language': 'en-GB,en;q=0.9,fr;q=0.5' }));
    expect(mail.to).toEqual(['alice@example.com']);
    expect(mail.raw).toMatch(/Subject: \d{6} is your oubli sign-in code/);
    expect(mail.raw).toContain('Content-Type: text/html');
    expect(mail.raw).toContain('Content-Type: text/plain');
    const done = await browser.post('/privacy/code', { code: ` ${code.slice(0, 3)} ${code.slice(3)} ` }); // pasted with spaces
    expect(done.status).toBe(303);
    const page = await browser.follow(done);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Your consent choices');
    // The database holds neither the email nor the code in clear.
    const { portalSessions, portalCodes } = kit.deps.db.tables;
    const rows = JSON.stringify([await kit.deps.db.q.select().from(portalSessions), await kit.deps.db.q.select().from(portalCodes)]);
    expect(rows).not.toContain('alice@example.com');
    expect(rows).not.toContain(code);
  });

  it('answers an unknown email exactly as a known one (same status, same page)', async () => {
    kit = await portalApp();
    await call(kit.app, 'POST', '/v1/consents', { headers: kit.auth, body: { subject: { type: 'email', value: 'known@example.com' }, purpose: 'newsletter', decision: 'granted', source: { channel: 'web' } } });
    const strip = (s: string) => s.replace(/value="[^"]+"/g, '');
    const a = await askCode('known@example.com');
    const b = await askCode('nobody@example.com');
    const pa = await a.browser.get('/privacy/code');
    const pb = await b.browser.get('/privacy/code');
    expect(pa.status).toBe(pb.status);
    expect(strip(pa.text)).toBe(strip(pb.text));
    expect(kit.smtp.mails.map((m) => m.to[0])).toEqual(['known@example.com', 'nobody@example.com']);
  });

  it('locks a code after 5 wrong attempts (even the right code then fails)', async () => {
    kit = await portalApp();
    const { browser, code } = await askCode('bob@example.com');
    for (let i = 4; i >= 1; i--) {
      const r = await browser.post('/privacy/code', { code: wrong(code) });
      expect(r.status).toBe(401);
      expect(r.text).toContain(`Essais restants : ${i}`);
      expect(r.text).toMatch(/aria-invalid="true"/);
      expect(r.text).toMatch(/aria-describedby="code-hint code-error"/);
    }
    expect((await browser.post('/privacy/code', { code: wrong(code) })).status).toBe(403);
    const r = await browser.post('/privacy/code', { code });
    expect(r.status).toBe(403);
    expect(r.text).toContain('Trop de codes erronés');
  });

  it('refuses an expired code, a replayed code, and a malformed one without counting it', async () => {
    kit = await portalApp();
    const first = await askCode('carol@example.com');
    expect((await first.browser.post('/privacy/code', { code: 'abc' })).status).toBe(400);
    kit.deps.clock.advance(CODE_TTL_MS + 1);
    expect((await first.browser.post('/privacy/code', { code: first.code })).status).toBe(410);

    const second = await askCode('carol@example.com');
    const token = second.browser.jar.get('oubli_privacy_code')!;
    expect((await second.browser.post('/privacy/code', { code: second.code })).status).toBe(303);
    // Replay: the same challenge and code from another browser.
    const replay = new Browser(kit.app);
    await replay.get('/privacy');
    replay.jar.set('oubli_privacy_code', token);
    expect((await replay.post('/privacy/code', { code: second.code })).status).toBe(410);
  });

  it('never accepts a code mailed for another email', async () => {
    kit = await portalApp();
    const mine = await askCode('mallory@example.com');
    const victim = await askCode('victim@example.com');
    // Mallory's browser (her challenge) with the victim's code: wrong; with his own challenge elsewhere: not hers.
    expect((await mine.browser.post('/privacy/code', { code: victim.code === mine.code ? wrong(mine.code) : victim.code })).status).toBe(401);
  });

  it('throttles resends (60 s) and a resend replaces the code', async () => {
    kit = await portalApp();
    const { browser, code } = await askCode('dan@example.com');
    const soon = await browser.post('/privacy/resend', {});
    expect(soon.status).toBe(429);
    expect(soon.text).toContain('dans 60 secondes');
    expect(kit.smtp.mails).toHaveLength(1);
    kit.deps.clock.advance(RESEND_AFTER_MS);
    const again = await browser.post('/privacy/resend', {});
    expect(again.status).toBe(303);
    const fresh = codeOf(await kit.smtp.waitFor(2));
    if (fresh !== code) expect((await browser.post('/privacy/code', { code })).status).toBe(401);
    expect((await browser.post('/privacy/code', { code: fresh })).status).toBe(303);
  });

  it('limits code requests per email (5 per 15 minutes), whatever the client', async () => {
    kit = await portalApp({ env: { OUBLI_TRUST_PROXY: '1' } });
    for (let i = 0; i < 5; i++) await askCode('eve@example.com', new Browser(kit.app, { 'x-forwarded-for': `198.51.100.${i}` }));
    const b = new Browser(kit.app, { 'x-forwarded-for': '198.51.100.99' });
    await b.get('/privacy');
    const r = await b.post('/privacy/sign-in', { email: 'eve@example.com' });
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toBeTruthy();
    expect(kit.smtp.mails).toHaveLength(5);
  });

  it('limits one address across many emails (requests and guesses), and a spoofed X-Forwarded-For does not reset it', async () => {
    kit = await portalApp(); // OUBLI_TRUST_PROXY off: X-Forwarded-For is not believed
    const b = new Browser(kit.app);
    await b.get('/privacy');
    let limited = 0;
    for (let i = 0; i < 25; i++) {
      const r = await b.post('/privacy/sign-in', { email: `target${i}@example.com` }, { 'x-forwarded-for': `203.0.113.${i}` });
      if (r.status === 429) limited++;
      else expect(r.status).toBe(303);
    }
    expect(kit.smtp.mails).toHaveLength(20);
    expect(limited).toBe(5);
    // Guesses count too: the address is blocked from guessing now.
    const g = await b.post('/privacy/code', { code: '000000' });
    expect(g.status).toBe(429);
  });

  it('sets the session cookie HttpOnly, SameSite=Lax, Path=/privacy, and Secure behind an https public URL', async () => {
    kit = await portalApp({ env: { OUBLI_PUBLIC_URL: 'https://privacy.shop.example' } });
    const b = new Browser(kit.app);
    await b.get('/privacy');
    const n = kit.smtp.mails.length;
    await b.post('/privacy/sign-in', { email: 'frank@example.com' }, { origin: 'https://privacy.shop.example' });
    const code = codeOf(await kit.smtp.waitFor(n + 1));
    const res = await kit.app.request('/privacy/code', {
      method: 'POST',
      headers: { origin: 'https://privacy.shop.example', 'content-type': 'application/x-www-form-urlencoded', cookie: [...b.jar].map(([k, v]) => `${k}=${v}`).join('; ') },
      body: new URLSearchParams({ csrf: b.csrf, code }).toString(),
    });
    expect(res.status).toBe(303);
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('oubli_privacy='))!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    expect(cookie).toMatch(/Secure/);
    expect(cookie).toMatch(/Path=\/privacy/);
  });

  it('refuses forms without the CSRF token, with a wrong one, from a foreign Origin or a cross-site fetch', async () => {
    kit = await portalApp();
    const b = await signIn(kit, 'grace@example.com');
    const good = b.csrf;
    expect((await b.post('/privacy/consents', { csrf: '', purpose: 'newsletter', version: '1', decision: 'granted' })).status).toBe(403);
    expect((await b.post('/privacy/consents', { csrf: 'x'.repeat(43), purpose: 'newsletter', version: '1', decision: 'granted' })).status).toBe(403);
    expect((await b.post('/privacy/consents', { purpose: 'newsletter', version: '1', decision: 'granted' }, { origin: 'https://evil.example' })).status).toBe(403);
    expect((await b.post('/privacy/consents', { purpose: 'newsletter', version: '1', decision: 'granted' }, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    // Another browser's token (pre-sign-in) does not pass for this session.
    const other = new Browser(kit.app);
    await other.get('/privacy');
    expect((await b.post('/privacy/consents', { csrf: other.csrf, purpose: 'newsletter', version: '1', decision: 'granted' })).status).toBe(403);
    expect((await b.post('/privacy/sign-in', { csrf: 'nope', email: 'x@example.com' })).status).toBe(403);
    const { consentEvents } = kit.deps.db.tables;
    expect(await kit.deps.db.q.select().from(consentEvents)).toHaveLength(0);
    b.csrf = good;
    expect((await b.post('/privacy/consents', { purpose: 'newsletter', version: '1', decision: 'granted' })).status).toBe(303);
  });

  it('signs out (the old cookie no longer works) and ends idle sessions after 30 minutes', async () => {
    kit = await portalApp();
    const b = await signIn(kit, 'heidi@example.com');
    const token = b.jar.get('oubli_privacy')!;
    const out = await b.post('/privacy/sign-out', {});
    expect(out.status).toBe(303);
    expect(out.location).toBe('/privacy?m=signedOut');
    const stolen = new Browser(kit.app);
    stolen.jar.set('oubli_privacy', token);
    expect((await stolen.get('/privacy/consents')).location).toBe('/privacy?m=ended');

    const c = await signIn(kit, 'heidi@example.com');
    kit.deps.clock.advance(SESSION_IDLE_MS - 60_000);
    expect((await c.get('/privacy/consents')).status).toBe(200); // activity keeps it alive
    kit.deps.clock.advance(SESSION_IDLE_MS - 60_000);
    expect((await c.get('/privacy/consents')).status).toBe(200);
    kit.deps.clock.advance(SESSION_IDLE_MS + 1);
    expect((await c.get('/privacy/consents')).status).toBe(303);
  });

  it('refuses header injection in the email (CRLF, a second recipient) without sending anything', async () => {
    kit = await portalApp();
    const b = new Browser(kit.app);
    await b.get('/privacy');
    for (const email of ['a@example.com\r\nBcc: victim@example.com', 'a@example.com\nSubject: hi', 'a@example.com, b@example.com', '"x"@example.com', 'a@example.com%0d%0abcc:b@example.com', `${'a'.repeat(400)}@example.com`, 'x'.repeat(100_000)]) {
      const r = await b.post('/privacy/sign-in', { email });
      expect(r.status).toBe(400);
      expect(r.text).toContain('aria-invalid="true"');
      expect(r.text).not.toContain('Bcc:'.toLowerCase() + ' victim'); // the value is escaped and echoed only as text
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(kit.smtp.mails).toHaveLength(0);
  });

  it('shows a clear error page when SMTP is down, and keeps no usable code', async () => {
    kit = await portalApp();
    await kit.smtp.close();
    const b = new Browser(kit.app);
    await b.get('/privacy');
    const r = await b.post('/privacy/sign-in', { email: 'ivan@example.com' });
    expect(r.status).toBe(503);
    expect(r.text).toContain('Nous n’avons pas pu envoyer l’e-mail');
    const { portalCodes } = kit.deps.db.tables;
    expect(await kit.deps.db.q.select().from(portalCodes)).toHaveLength(0);
    kit.smtp.close = async () => {};
  });
});

function kitApp() {
  return kit.app;
}
void eq;
