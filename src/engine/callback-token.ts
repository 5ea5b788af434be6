/**
 * Callback tokens: the one credential of a silo's later answer (POST /v1/callbacks/{token}).
 *
 *   cbk_<taskId>.<base64url HMAC-SHA256(key, "oubli/callback/v1\0" taskId \0 requestId \0 connectorId \0 phase)>
 *
 * with `key` derived (HKDF-SHA256) from the deployment's master key. Why derived, not stored:
 * - deterministic per task: a retry or a reminder sends the same token, and every instance
 *   checks it with nothing but the master key it already holds;
 * - nothing secret in the database: a copy of it forges no token, and a DB administrator who
 *   moves a waiting task onto another request, connector or phase breaks its token (those
 *   fields are under the MAC);
 * - compared in constant time.
 * "Single use" and "expired" are the task's state, not the token's: an answer is taken only
 * while the task waits (src/engine/waiting.ts).
 *
 * A token is a secret: it never goes into a log or an audit entry (the task id may).
 */
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { Task } from '../db/schema/tasks.js';

const PREFIX = 'cbk_';
const LABEL = 'oubli/callback/v1\0';
/** `cbk_` + a task id (`tsk_` + 26 base32) + `.` + 43 base64url characters. */
const TOKEN = /^cbk_(tsk_[0-9a-z]{1,64})\.([A-Za-z0-9_-]{43})$/;

export type CallbackKey = Buffer & { readonly __callbackKey: unique symbol };

/** The token key, derived once from the master key (never the master key itself). */
export function callbackKey(masterKey: Buffer): CallbackKey {
  return Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'oubli/callback-token-key/v1', 32)) as CallbackKey;
}

type Bound = Pick<Task, 'id' | 'requestId' | 'connectorId' | 'phase'>;

function mac(key: CallbackKey, task: Bound): Buffer {
  return createHmac('sha256', key).update(`${LABEL}${task.id}\0${task.requestId}\0${task.connectorId}\0${task.phase}`).digest();
}

export function callbackToken(key: CallbackKey, task: Bound): string {
  return `${PREFIX}${task.id}.${mac(key, task).toString('base64url')}`;
}

/** The task id a token names, if it has a token's form (its MAC is not checked yet). */
export function taskIdOfToken(token: string): string | null {
  return TOKEN.exec(token)?.[1] ?? null;
}

/** True when `token` is this task's (as the row now stands). */
export function tokenMatches(key: CallbackKey, token: string, task: Bound): boolean {
  const m = TOKEN.exec(token);
  if (!m || m[1] !== task.id) return false;
  const given = Buffer.from(m[2]!, 'base64url');
  const want = mac(key, task);
  return given.length === want.length && timingSafeEqual(given, want);
}

/**
 * The message id (Standard Webhooks `webhook-id`) of every attempt and reminder of one series
 * of a task's calls (`since`: when it began). A task the DPO retries after a failure asks anew:
 * another id, which a receiver that deduplicates does not drop.
 */
export function callbackMessageId(taskId: string, since: number): string {
  return `msg_${taskId}_${since.toString(36)}`;
}
