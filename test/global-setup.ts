/**
 * Once per test run: when the suite runs on PostgreSQL (OUBLI_TEST_DATABASE_URL), a template
 * database with the migrations applied, from which every test file's database is copied
 * (test/helpers/db.ts); dropped with every copy at the end of the run.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { PostgresDatabase } from '../src/db/postgres.js';
import { PG_MIGRATIONS } from '../src/db/open.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgTemplate: string;
  }
}

async function admin(url: string, sql: string): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await c.query(sql);
  } finally {
    await c.end();
  }
}

export default async function setup(project: TestProject) {
  const url = process.env.OUBLI_TEST_DATABASE_URL;
  if (!url) {
    project.provide('pgTemplate', '');
    return;
  }
  const run = `oubli_t${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const template = `${run}_tpl`;
  await admin(url, `create database ${template}`);
  const u = new URL(url);
  u.pathname = `/${template}`;
  const db = await PostgresDatabase.open({ url: u.toString(), migrationsFolder: PG_MIGRATIONS, poolSize: 1 });
  await db.close();
  project.provide('pgTemplate', template);
  return async () => {
    const { rows } = await admin(url, `select datname from pg_database where datname like '${run}%' order by datname desc`);
    for (const { datname } of rows as { datname: string }[]) {
      await admin(url, `drop database if exists ${datname} with (force)`);
    }
  };
}
