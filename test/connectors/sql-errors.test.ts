/** Driver errors → ConnectorError: retry what may pass later, stop on what will not; no values leak. */
import { describe, expect, it } from 'vitest';
import { mapDriverError } from '../../connectors/sql/drivers.js';

const e = (code: string, message = 'boom') => Object.assign(new Error(message), { code });

describe('mapDriverError', () => {
  it.each([
    ['postgres', e('ECONNREFUSED', 'connect ECONNREFUSED 10.0.0.1:5432'), 'SILO_UNAVAILABLE', true],
    ['postgres', new Error('timeout exceeded when trying to connect'), 'SILO_UNAVAILABLE', true],
    ['postgres', e('40P01'), 'SILO_CONFLICT', true],
    ['postgres', e('40001'), 'SILO_CONFLICT', true],
    ['postgres', e('57014'), 'SILO_TIMEOUT', true],
    ['postgres', e('57P01'), 'SILO_UNAVAILABLE', true],
    ['postgres', e('42P01', 'relation "x" does not exist'), 'SILO_SCHEMA', false],
    ['postgres', e('42601', 'syntax error'), 'SILO_QUERY_FAILED', false],
    ['postgres', e('28P01'), 'SILO_AUTH', false],
    ['mysql', e('ER_LOCK_DEADLOCK'), 'SILO_CONFLICT', true],
    ['mysql', e('ER_LOCK_WAIT_TIMEOUT'), 'SILO_CONFLICT', true],
    ['mysql', e('PROTOCOL_SEQUENCE_TIMEOUT'), 'SILO_TIMEOUT', true],
    ['mysql', e('PROTOCOL_CONNECTION_LOST'), 'SILO_UNAVAILABLE', true],
    ['mysql', e('ETIMEDOUT'), 'SILO_UNAVAILABLE', true],
    ['mysql', e('ER_NO_SUCH_TABLE'), 'SILO_SCHEMA', false],
    ['mysql', e('ER_PARSE_ERROR'), 'SILO_QUERY_FAILED', false],
    ['sqlite', e('SQLITE_BUSY'), 'SILO_CONFLICT', true],
    ['sqlite', e('SQLITE_ERROR', 'no such table: x'), 'SILO_QUERY_FAILED', false],
  ] as const)('%s %s → %s', (dialect, err, code, retryable) => {
    const mapped = mapDriverError('shop', dialect, err);
    expect(mapped.code).toBe(code);
    expect(mapped.retryable).toBe(retryable);
    expect(mapped.message).toMatch(/^shop: /);
    expect(mapped.cause).toBe(err);
  });

  it('constraint violations keep the code, never the message (it can quote values)', () => {
    const pg = mapDriverError('shop', 'postgres', e('23505', 'Key (email)=(alice@example.com) already exists'));
    expect(pg).toMatchObject({ code: 'SILO_QUERY_FAILED', retryable: false });
    expect(pg.message).not.toContain('alice');
    const my = mapDriverError('shop', 'mysql', e('ER_DUP_ENTRY', "Duplicate entry 'alice@example.com' for key 'email'"));
    expect(my.message).not.toContain('alice');
  });
});
