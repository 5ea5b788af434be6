import { defineConfig } from 'drizzle-kit';

/** The PostgreSQL store's migrations, from the pg-core mirror of the schema (see drizzle.config.ts). */
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/pg-schema/index.ts',
  out: './src/db/pg-migrations',
  strict: true,
  verbose: true,
});
