/**
 * better-sqlite3 in the build that runs on this Node.js: release 13 (Node-API, prebuilt, shipped
 * as the `better-sqlite3-napi` alias) from Node 22 on — release 12 aborts the process on Node 24
 * when a statement is garbage-collected outside a JavaScript context (nodejs/node#65446) — and
 * release 12 (compiled at install) on Node 20, where 13 crashes. Both have the same API. Every
 * module that opens a SQLite file imports it from here (a check in .ci/run keeps it so).
 */
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

const require = createRequire(import.meta.url);
const major = Number(process.versions.node.split('.')[0]);

/** The resolved module of that build, for code that loads it elsewhere (a worker thread). */
export const bindingModule: string = require.resolve(major >= 22 ? 'better-sqlite3-napi' : 'better-sqlite3');

const Database: typeof BetterSqlite3 = require(bindingModule);
export default Database;

/** An open SQLite connection. */
export type SqliteConnection = BetterSqlite3.Database;

/** A statement prepared on such a connection. */
export type SqliteStatement = BetterSqlite3.Statement;
