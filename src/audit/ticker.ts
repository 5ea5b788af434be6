/**
 * The server's tree-head ticker: every second, the instance holding the signer lease signs a head
 * when the log grew (src/audit/tree-heads.ts); the others follow. Stopping it waits for the tick
 * in flight and gives the lease up, so another instance signs from its next tick on.
 */
import type { Logger } from 'pino';
import type { TreeHeads } from './tree-heads.js';

export interface Ticker {
  stop(): Promise<void>;
}

export function startTreeHeadTicker(treeHeads: TreeHeads, logger: Logger, everyMs = 1000): Ticker {
  let running: Promise<void> | null = null;
  const timer = setInterval(() => {
    // A slow tick (a large consistency proof, a busy database) is not stacked on by the next one.
    if (running) return;
    running = treeHeads
      .tick()
      .then((head) => {
        if (head) logger.debug({ size: head.size, signer: treeHeads.signerId }, 'tree head signed');
      })
      .catch((err: unknown) => logger.error({ err }, 'tree head signing failed'))
      .finally(() => (running = null));
  }, everyMs);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      await running;
      await treeHeads.releaseLease().catch((err: unknown) => logger.warn({ err }, 'could not release the tree-head signer lease'));
    },
  };
}
