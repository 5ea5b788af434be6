/**
 * Runs before every test file (vitest setupFiles): after each test, the audit entries its
 * databases gained are scanned for personal data (test/helpers/audit-pii.ts); after the file, the
 * data dirs it used. A leak fails the test (or the file) that made it, naming the entries.
 */
import { afterAll, afterEach } from 'vitest';
import { scanRegisteredDatabases, scanRegisteredDataDirs } from '../helpers/audit-pii.js';

afterEach(async () => {
  const problems = await scanRegisteredDatabases();
  if (problems.length) throw new Error(problems.join('\n'));
});

afterAll(async () => {
  const problems = [...(await scanRegisteredDatabases()), ...(await scanRegisteredDataDirs())];
  if (problems.length) throw new Error(problems.join('\n'));
});
