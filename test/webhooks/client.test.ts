/**
 * A signed webhook, end to end on loopback: signed by oubli, sent by the webhook client, verified
 * by the receiver with the official standardwebhooks package. And the deployment switch that
 * lets receivers sit on private networks (off by default).
 */
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboundError } from '../../connectors/net/index.js';
import { loadConfig } from '../../src/config.js';
import { createWebhookClient } from '../../src/webhooks/client.js';
import { generateSecret, signerFromSecret, signWebhook } from '../../src/webhooks/signing.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

const secret = generateSecret();
let rx: Receiver;
const verified: unknown[] = [];

beforeAll(async () => {
  rx = await startReceiver((req, res) => {
    try {
      verified.push(new Webhook(secret).verify(req.body, req.headers as Record<string, string>));
      res.writeHead(204);
    } catch {
      res.writeHead(400);
    }
    res.end();
  });
});
afterAll(() => rx.close());

describe('webhook client', () => {
  it('OUBLI_WEBHOOK_ALLOW_PRIVATE is off unless set to 1/true; other values are refused', () => {
    expect(loadConfig({}).webhookAllowPrivate).toBe(false);
    expect(loadConfig({ OUBLI_WEBHOOK_ALLOW_PRIVATE: '1' }).webhookAllowPrivate).toBe(true);
    expect(loadConfig({ OUBLI_WEBHOOK_ALLOW_PRIVATE: 'true' }).webhookAllowPrivate).toBe(true);
    expect(loadConfig({ OUBLI_WEBHOOK_ALLOW_PRIVATE: '0' }).webhookAllowPrivate).toBe(false);
    expect(() => loadConfig({ OUBLI_WEBHOOK_ALLOW_PRIVATE: 'yes' })).toThrow(/OUBLI_WEBHOOK_ALLOW_PRIVATE: must be 1 or 0/);
  });

  it('by default a receiver on loopback is refused before anything is sent', async () => {
    const client = createWebhookClient({ allowPrivate: loadConfig({}).webhookAllowPrivate });
    try {
      const err = await client.request({ url: `${rx.url}/hook`, method: 'POST', body: '{}' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OutboundError);
      expect((err as OutboundError).code).toBe('ADDRESS_FORBIDDEN');
      expect(rx.received).toHaveLength(0);
    } finally {
      await client.close();
    }
  });

  it('allowed, a signed delivery is verified by the receiver with the standardwebhooks package', async () => {
    const client = createWebhookClient({ allowPrivate: loadConfig({ OUBLI_WEBHOOK_ALLOW_PRIVATE: '1' }).webhookAllowPrivate });
    try {
      const body = JSON.stringify({ type: 'request.completed', timestamp: new Date().toISOString(), data: { requestId: 'req_1', status: 'completed' } });
      const headers = signWebhook({ id: 'msg_e2e', timestamp: Math.floor(Date.now() / 1000), body }, [signerFromSecret(secret)]);
      const r = await client.request({ url: `${rx.url}/hook`, method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
      expect(r.status).toBe(204);
      expect(verified).toEqual([JSON.parse(body)]);
      const forged = await client.request({ url: `${rx.url}/hook`, method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: body.replace('req_1', 'req_2') });
      expect(forged.status).toBe(400);
    } finally {
      await client.close();
    }
  });
});
