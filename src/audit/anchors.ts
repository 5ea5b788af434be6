/**
 * Reads what someone kept of the log outside the database — a checkpoint note (from
 * GET /v1/audit/checkpoint or `oubli audit checkpoint`), a tree-head JWS (GET /v1/audit/tree-head,
 * the JSON answer or its `jws` alone) or a request receipt (GET /v1/requests/{id}/receipt) — and
 * turns it into an anchor, a (size, root) the log must still extend. Each is checked first: a
 * signature by this deployment's keys, for this deployment's log.
 */
import type { JSONWebKeySet } from 'jose';
import { parseVerifierKey, verifyCheckpoint, type NoteVerifier } from './note.js';
import { checkReceipt, checkTreeHead, fromHex, RECEIPT_TYP, TREE_HEAD_TYP } from './verify.js';
import type { Anchor } from './verify-log.js';

export interface LogKeys {
  logId: string;
  jwks: JSONWebKeySet;
  /** Note verifier keys (`name+hash+base64`) for the log's keys, retired ones included. */
  verifierKeys: string[];
}

const JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

function typOf(jws: string): unknown {
  try {
    return (JSON.parse(Buffer.from(jws.split('.')[0]!, 'base64url').toString('utf8')) as { typ?: unknown }).typ;
  } catch {
    return undefined;
  }
}

/** Parses and checks a saved checkpoint, head or receipt; `{ error }` says why it is not usable. */
export async function readAnchor(content: string, label: string, keys: LogKeys): Promise<Anchor | { error: string }> {
  // Saved from a mail client or a Windows editor: a byte-order mark, CRLF line ends.
  const text = content.replace(/^\uFEFF/, '').replace(/\r\n/g, '\n');
  if (text.includes('\n\n— ')) {
    const known = keys.verifierKeys.map(parseVerifierKey).filter((k): k is NoteVerifier => k !== null);
    const c = verifyCheckpoint(text, known, keys.logId);
    if ('error' in c) return { error: `${label} is not a valid checkpoint of this log: ${c.error}` };
    return { size: c.size, root: c.root, label };
  }
  let jws = text.trim();
  if (jws.startsWith('{')) {
    try {
      const parsed = JSON.parse(jws) as { jws?: unknown };
      jws = typeof parsed.jws === 'string' ? parsed.jws : '';
    } catch {
      jws = '';
    }
  }
  if (!JWS.test(jws)) return { error: `${label} holds neither a checkpoint note, nor a tree-head or receipt JWS` };
  const typ = typOf(jws);
  if (typ === RECEIPT_TYP) {
    const r = await checkReceipt(jws, keys.jwks, keys.logId);
    if (!r.ok) return { error: `the receipt in ${label} ${r.reason}` };
    return { size: r.head!.size, root: fromHex(r.head!.root)!, label: `the tree head of the receipt in ${label}` };
  }
  const h = await checkTreeHead(jws, keys.jwks, keys.logId);
  if (!h.ok) return { error: `the tree head in ${label} ${typ === TREE_HEAD_TYP ? '' : '(a JWS of no known typ) '}${h.reason}` };
  return { size: h.value.size, root: fromHex(h.value.root)!, label: `the tree head in ${label}` };
}
