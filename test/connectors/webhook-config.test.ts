/**
 * The webhook connector's declaration: built from oubli.config.ts (`driver: 'webhook'`), its
 * errors name the connector and the field and never quote a secret; private addresses only
 * when allowed; and the erasure preview sends nothing.
 */
import { describe, expect, it } from 'vitest';
import { webhookConnector, presentIdentity } from '../../connectors/webhook/index.js';
import { conformanceContext } from '../../connectors/conformance.js';
import { buildDeployment } from '../../src/deployment/config.js';
import { generateSecret } from '../../src/webhooks/signing.js';
import { engineHarness } from '../engine/helpers.js';
import { startInternalSystem } from '../helpers/internal-system.js';

const secret = generateSecret();
const base = { driver: 'webhook' as const, id: 'helpdesk', title: 'Helpdesk', url: 'https://helpdesk.internal.example/oubli', secret, lookupBy: ['email'] };

describe('webhook connector config', () => {
  it('is built from a deployment config, with its defaults', () => {
    const d = buildDeployment({ connectors: [base] });
    const c = d.connectors[0]! as ReturnType<typeof webhookConnector>;
    expect(c.capabilities).toEqual({ access: false, erasure: true, callback: true });
    expect(c.config).toMatchObject({ identities: 'hashed', answerWithin: 7 * 86_400_000, remindEvery: 86_400_000, timeoutMs: 15_000 });
  });

  it('names the connector and the field, never the secret', () => {
    const bad = 'whsec_' + 'A'.repeat(8);
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ secret: bad }, /connector "helpdesk": secret: must be a Standard Webhooks secret/],
      [{ secret: undefined }, /connector "helpdesk": secret: required \(is its environment variable set\?\)/],
      [{ url: 'ftp://helpdesk/x' }, /url: only http and https/],
      [{ url: 'https://user:pw@helpdesk/x' }, /url: no credentials/],
      [{ lookupBy: [] }, /lookupBy/],
      [{ answerWithin: '10s' }, /answerWithin: at least a minute/],
      [{ remindEvery: 'daily' }, /remindEvery/],
      [{ capabilities: { access: false, erasure: false } }, /enable access, erasure or both/],
      [{ identities: 'plain' }, /identities/],
      [{ extra: 1 }, /Unrecognized key/],
    ];
    for (const [patch, msg] of cases) {
      let err: unknown;
      try {
        buildDeployment({ connectors: [{ ...base, ...patch }] });
      } catch (e) {
        err = e;
      }
      expect(String((err as Error)?.message), JSON.stringify(patch)).toMatch(msg);
      expect(String((err as Error).message)).not.toContain(bad);
    }
  });

  it('hashes identities (SHA-256 hex, or HMAC with hashKey) unless told to send them in clear', () => {
    const i = { type: 'email', value: 'alice@example.com' };
    expect(presentIdentity({ identities: 'hashed' }, i)).toEqual({ type: 'email', hash: 'ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976' });
    expect((presentIdentity({ identities: 'hashed', hashKey: 'k' }, i) as { hash: string }).hash).toMatch(/^[0-9a-f]{64}$/);
    expect(presentIdentity({ identities: 'hashed', hashKey: 'k' }, i)).not.toEqual(presentIdentity({ identities: 'hashed' }, i));
    expect(presentIdentity({ identities: 'clear' }, i)).toEqual(i);
  });

  it('reaches a loopback receiver only when allowed (OUBLI_WEBHOOK_ALLOW_PRIVATE or allowPrivateNetwork)', async () => {
    const sys = await startInternalSystem(secret, 'sync');
    try {
      const who = [{ type: 'email', value: 'nobody@example.com' }];
      const refused = webhookConnector({ ...base, url: sys.url });
      await expect(refused.erase(who, conformanceContext())).rejects.toMatchObject({ code: 'SILO_ADDRESS_FORBIDDEN', retryable: false });
      expect(sys.messages).toHaveLength(0);
      const allowed = buildDeployment({ connectors: [{ ...base, url: sys.url }] }, null, { webhookAllowPrivate: true }).connectors[0]!;
      expect((await allowed.erase(who, conformanceContext())) as object).toHaveProperty('collections');
      expect(sys.messages).toHaveLength(1);
      const own = webhookConnector({ ...base, url: sys.url, allowPrivateNetwork: ['127.0.0.0/8'] });
      expect((await own.erase(who, conformanceContext())) as object).toHaveProperty('collections');
      expect(sys.messages).toHaveLength(2);
      await Promise.all([refused.close?.(), allowed.close?.(), own.close()]);
    } finally {
      await sys.close();
    }
  });

  it('the erasure preview sends nothing and shows the silo as not previewable', async () => {
    const sys = await startInternalSystem(secret, 'sync');
    try {
      const c = webhookConnector({ ...base, url: sys.url, capabilities: { access: true, erasure: true } }, { allowPrivate: true });
      const h = await engineHarness([c]);
      const res = await h.dpo('POST', '/v1/requests/preview', { type: 'erasure', identities: [{ type: 'email', value: 'alice@example.com' }] });
      expect(res.status, res.text).toBe(200);
      expect(res.json.connectors).toEqual([{ connector: 'helpdesk', collections: [], error: { code: 'NOT_PREVIEWABLE', message: expect.stringMatching(/preview does not ask it/) } }]);
      expect(sys.messages).toHaveLength(0);
      await c.close();
    } finally {
      await sys.close();
    }
  });
});
