/**
 * Runs async jobs one at a time, in arrival order: SQLite has one writer, and a transaction
 * whose body awaits must not let another transaction begin on the same connection meanwhile.
 */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();
  private depth = 0;

  /** True while a job runs or waits. */
  get busy(): boolean {
    return this.depth > 0;
  }

  run<T>(job: () => Promise<T>): Promise<T> {
    this.depth++;
    const result = this.tail.then(job, job);
    this.tail = result.then(
      () => this.depth--,
      () => this.depth--,
    );
    return result;
  }
}
