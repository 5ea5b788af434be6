/**
 * The dashboard's in-page proof check of a request's receipt, in the browser, with the same
 * verifier a regulator runs offline (src/audit/verify.ts):
 *   1. the receipt's signature and its tree head's, under the deployment's published keys;
 *   2. every entry's inclusion proof against that tree head;
 *   3. that head's consistency with the log's current signed tree head (the log was only ever
 *      appended to since the receipt was signed).
 * Served by oubli (src/web/admin/assets.ts), no CDN; the page works without it (the receipt can
 * be downloaded and checked with `oubli audit verify`).
 */
import type { JSONWebKeySet } from 'jose';
import { checkReceipt, checkTreeHead, fromHex, verifyConsistency } from '../../../audit/verify.js';

async function json<T>(url: string): Promise<T> {
  const res = await fetch(url, { credentials: 'same-origin', headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

async function check(box: HTMLElement, out: HTMLElement): Promise<void> {
  const { request, log, okText, badText } = box.dataset as Record<string, string>;
  const failed = (detail: string) => {
    out.textContent = `${badText} ${detail}`;
    out.className = 'notice error';
  };
  try {
    out.textContent = '…';
    const res = await fetch(`/admin/requests/${encodeURIComponent(request!)}/receipt`, { credentials: 'same-origin' });
    if (!res.ok) throw new Error(`receipt: HTTP ${res.status}`);
    const jws = await res.text();
    const jwks = await json<JSONWebKeySet>('/.well-known/jwks.json');
    const receipt = await checkReceipt(jws, jwks, log!);
    if (!receipt.ok || !receipt.head) return failed(`The receipt ${receipt.ok ? 'carries no head' : receipt.reason}.`);
    const current = await json<{ size: number; root: string; jws: string }>('/v1/audit/tree-head');
    const head = await checkTreeHead(current.jws, jwks, log!);
    if (!head.ok) return failed(`The current tree head ${head.reason}.`);
    const from = receipt.head.size;
    const to = head.value.size;
    if (to < from) return failed('The current tree head is smaller than the receipt’s.');
    const { proof } = await json<{ proof: string[] }>(`/v1/audit/proofs/consistency?from=${from}&to=${to}`);
    const consistent = verifyConsistency(from, to, fromHex(receipt.head.root)!, fromHex(head.value.root)!, proof.map((p) => fromHex(p) ?? new Uint8Array()));
    if (!consistent) return failed(`The log of ${to} entries is not an extension of the one the receipt was signed in (${from}).`);
    const filled: Record<string, string> = { entries: String(receipt.value.entries.length), from: String(from), root: receipt.head.root.slice(0, 16), to: String(to) };
    out.textContent = okText!.replace(/\{(entries|from|root|to)\}/g, (_, k: string) => filled[k]!);
    out.className = 'notice ok';
  } catch (err) {
    failed(String((err as Error).message ?? err));
  }
}

for (const box of document.querySelectorAll<HTMLElement>('[data-receipt-check]')) {
  const button = box.querySelector('button');
  const out = box.querySelector<HTMLElement>('[role=status]');
  if (!button || !out) continue;
  button.hidden = false;
  button.addEventListener('click', () => void check(box, out));
}
