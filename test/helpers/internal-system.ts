/**
 * An internal system that erases (and exports) its own data when oubli's webhook connector
 * tells it to: a real HTTP server on 127.0.0.1 that verifies every message with the official
 * `standardwebhooks` package (v1) or node:crypto's Ed25519 (v1a), holds people in memory (by
 * email and customer id), and answers at once (`sync`) or accepts and answers later (`async`:
 * the test posts to the callback it was given). `override` scripts faults (slow, 503, 10 MB).
 */
import { createHash, createPublicKey, verify as verifyEd25519 } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { publicKeyOf } from '../../src/webhooks/signing.js';
import { startReceiver, type Received, type Receiver } from './receiver.js';

export interface Person {
  email: string;
  customerId: string;
  accounts: Record<string, unknown>[];
  tickets: Record<string, unknown>[];
  invoices: Record<string, unknown>[];
}

export interface Message {
  id: string;
  timestamp: string;
  verified: boolean;
  body: { type: string; timestamp: string; data: { requestId: string; connector: string; identities: { type: string; value?: string; hash?: string }[]; callbackUrl?: string; callbackToken?: string; answerBy?: string } };
}

export interface InternalSystem {
  url: string;
  receiver: Receiver;
  people: Person[];
  messages: Message[];
  mode: 'sync' | 'async';
  /** Answers instead of the system (return true when it answered). */
  override: ((r: Received, res: ServerResponse, raw: IncomingMessage) => boolean | Promise<boolean>) | null;
  /** What the system would answer to this message now (the body of a callback, or of a sync answer). */
  answerOf(m: Message): Record<string, unknown>;
  close(): Promise<void>;
}

const sha256 = (v: string) => createHash('sha256').update(v, 'utf8').digest('hex');

/** Verifies a v1a (Ed25519) signature header as a receiver holding the `whpk_` public key would. */
function verifyV1a(publicKey: string, r: Received): boolean {
  const raw = Buffer.from(publicKey.slice('whpk_'.length), 'base64');
  const key = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]), format: 'der', type: 'spki' });
  const content = Buffer.from(`${r.headers['webhook-id']}.${r.headers['webhook-timestamp']}.${r.body}`);
  return String(r.headers['webhook-signature'])
    .split(' ')
    .some((s) => s.startsWith('v1a,') && verifyEd25519(null, content, key, Buffer.from(s.slice(4), 'base64')));
}

export async function startInternalSystem(secret: string, mode: 'sync' | 'async' = 'sync'): Promise<InternalSystem> {
  const people: Person[] = [];
  const messages: Message[] = [];
  const v1 = secret.startsWith('whsec_') ? new Webhook(secret) : null;
  const pub = v1 ? null : publicKeyOf(secret);

  const matches = (p: Person, i: { type: string; value?: string; hash?: string }) => {
    const mine = i.type === 'email' ? p.email : i.type === 'customer_id' ? p.customerId : null;
    if (mine === null) return false;
    return i.value !== undefined ? i.value === mine : i.hash === sha256(mine);
  };

  const sys: InternalSystem = {
    url: '',
    receiver: undefined as unknown as Receiver,
    people,
    messages,
    mode,
    override: null,
    answerOf(m) {
      const found = people.filter((p) => m.body.data.identities.some((i) => matches(p, i)));
      if (m.body.type === 'access.requested') {
        const col = (name: 'accounts' | 'tickets' | 'invoices', portable: boolean) => {
          const records = found.flatMap((p) => p[name]);
          return { name, portable, records, matchedBy: [{ identity: 'email', column: 'email', normalization: 'casefold', records: records.length }] };
        };
        return {
          status: 'completed',
          collections: [col('accounts', true), col('tickets', true), col('invoices', false)],
          discovered: found.map((p) => ({ type: 'customer_id', value: p.customerId, reason: `customer of ${p.email}` })),
        };
      }
      const counts = { accounts: 0, tickets: 0, invoices: 0 };
      for (const p of found) {
        counts.accounts += p.accounts.length;
        counts.tickets += p.tickets.length;
        counts.invoices += p.invoices.length;
        p.accounts = [];
        p.tickets = [];
      }
      return {
        status: 'completed',
        counts: {
          collections: [
            { name: 'accounts', deleted: counts.accounts },
            { name: 'tickets', deleted: counts.tickets },
            { name: 'invoices', retained: counts.invoices, ...(counts.invoices ? { retainedBecause: 'legal obligation: accounting records kept ten years' } : {}) },
          ],
        },
      };
    },
    close: () => sys.receiver.close(),
  };

  sys.receiver = await startReceiver(async (r, res, raw) => {
    let verified = false;
    try {
      if (v1) {
        v1.verify(r.body, r.headers as Record<string, string>);
        verified = true;
      } else verified = verifyV1a(pub!, r);
    } catch {
      verified = false;
    }
    if (r.method === 'POST') {
      try {
        messages.push({ id: String(r.headers['webhook-id']), timestamp: String(r.headers['webhook-timestamp']), verified, body: JSON.parse(r.body) as Message['body'] });
      } catch {
        // not JSON: kept out of `messages`
      }
    }
    if (sys.override && (await sys.override(r, res, raw))) return;
    if (r.method === 'GET') return res.end('ok');
    if (!verified) {
      res.statusCode = 401;
      return res.end();
    }
    const m = messages.at(-1)!;
    res.setHeader('content-type', 'application/json');
    if (sys.mode === 'async' && m.body.data.callbackUrl) {
      res.statusCode = 202;
      return res.end(JSON.stringify({ status: 'accepted' }));
    }
    res.end(JSON.stringify(sys.answerOf(m)));
  });
  sys.url = `${sys.receiver.url}/oubli-events`;
  return sys;
}
