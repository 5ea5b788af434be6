/**
 * Column types of the pg-core mirror that give the same JavaScript values as their SQLite
 * counterparts: epoch-millisecond integers as `bigint` read as numbers, bytes as `bytea` read as
 * Buffers (drizzle's pg-core has no bytea builder), booleans as `boolean`, JSON as `jsonb`.
 */
import { bigint, customType } from 'drizzle-orm/pg-core';

export const bytea = customType<{ data: Buffer; driverData: Buffer }>({
  dataType: () => 'bytea',
});

/** An integer that may exceed 2^31 (epoch ms, audit indices): bigint, read as a JS number. */
export const int = (name: string) => bigint(name, { mode: 'number' });
