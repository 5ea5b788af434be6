/** One instance of foundation-pg.ts's three-at-once append: its own process and pool. */
import { AuditLog } from '../../src/audit/log.js';
import { PostgresDatabase } from '../../src/db/postgres.js';
import { PG_MIGRATIONS } from '../../src/db/open.js';
import { benchAppendInputs } from './foundation-pg.js';

const [url, start, count, batch] = process.argv.slice(2) as [string, string, string, string];
const db = await PostgresDatabase.open({ url, migrationsFolder: PG_MIGRATIONS, poolSize: 2 });
const log = new AuditLog(db, Date.now);
await log.open('oubli.bench.example/audit');
process.send!('ready');
process.once('message', async () => {
  const [s, n, b] = [Number(start), Number(count), Number(batch)];
  for (let i = s; i < s + n; i += b) await log.appendMany(db, benchAppendInputs(i, Math.min(b, s + n - i)));
  await db.close();
  process.send!('done', () => process.exit(0));
});
