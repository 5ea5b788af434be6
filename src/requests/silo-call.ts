/**
 * Calling a silo's connector, for the engine's tasks and the erasure preview alike: within a
 * time limit, and given up on as soon as its signal aborts — even by a connector that ignores
 * the signal (its promise is left to settle on its own).
 */
import { ConnectorError } from '../../connectors/types.js';

/** Rejects as soon as `signal` aborts, even if the connector ignores it. */
export function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e as Error);
      },
    );
  });
}

/** Aborts `ac` with a retryable TIMEOUT after `ms`; returns the timer's cancel. */
export function timeLimit(ac: AbortController, ms: number): () => void {
  const timer = setTimeout(() => ac.abort(new ConnectorError('TIMEOUT', `no answer within ${ms} ms`, true)), ms);
  return () => clearTimeout(timer);
}
