/**
 * The loop a background worker runs — the request engine, the webhook deliverer: one turn at a
 * time, the next one when something wakes it (a notification on its channel: PostgreSQL NOTIFY
 * reaches every instance, SQLite this process; or `wake()` from inside the process) or when its
 * poll period has passed (for retries that come due and leases that run out). Wake-ups arriving
 * in the same event-loop turn share the next turn. A turn that throws is logged; the loop goes on.
 */
import type { Logger } from 'pino';
import type { Database } from './db/database.js';

export interface BackgroundLoopOptions {
  db: Database;
  channel: string;
  pollMs: number;
  logger: Logger;
  /** Names the worker in log lines. */
  name: string;
  /** One turn. */
  turn: () => Promise<void>;
  /** Called when a turn starts because the poll period passed (nothing woke the loop). */
  onQuiet?: () => void;
}

export class BackgroundLoop {
  private stopped = true;
  private started = false;
  private done: Promise<void> | null = null;
  private kick: (() => void) | null = null;
  private unlisten: Promise<(() => Promise<void>) | null> | null = null;

  constructor(private readonly opts: BackgroundLoopOptions) {}

  /** True once stop() began on a started loop (a worker driven by hand is never stopping). */
  get stopping(): boolean {
    return this.started && this.stopped;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.started = true;
    this.unlisten = this.opts.db.listen(this.opts.channel, () => this.wake()).catch((err: unknown) => {
      // Without notifications the loop still finds the work by polling.
      this.opts.logger.warn({ err }, `${this.opts.name} could not listen for wake-ups`);
      return null;
    });
    this.done = this.run();
  }

  /** Makes the next turn start now (or, during a turn, right after it). */
  wake(): void {
    this.kick?.();
  }

  /** Stops listening, lets `interrupt` cut what is in flight short, and waits for the last turn. */
  async stop(interrupt?: () => void): Promise<void> {
    this.stopped = true;
    const unlisten = await this.unlisten;
    this.unlisten = null;
    await unlisten?.();
    interrupt?.();
    this.kick?.();
    await this.done;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.opts.turn();
      } catch (err) {
        this.opts.logger.error({ err }, `${this.opts.name} loop error`);
      }
      if (this.stopped) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.kick = null;
          this.opts.onQuiet?.();
          resolve();
        }, this.opts.pollMs);
        this.kick = () => {
          clearTimeout(timer);
          this.kick = null;
          setImmediate(resolve);
        };
      });
    }
  }
}
