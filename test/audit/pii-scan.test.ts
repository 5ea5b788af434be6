/**
 * The suite-wide audit-log personal-data scan (test/setup/audit-pii.ts) can fail: an email, a
 * phone number or a test person's name written through the real append path is caught and named;
 * what entries legitimately hold (ids, hashes, timestamps, key ids, counts) is not.
 */
import { describe, expect, it } from 'vitest';
import { createTestDeps, systemCtx } from '../helpers/deps.js';
import { findPii, scanDataDir, scanRegisteredDatabases, scanRegisteredDataDirs, unregisterAuditDb, unregisterDataDir } from '../helpers/audit-pii.js';
import { demoCustomer } from '../../connectors/demo/people.js';
import { ALICE } from '../helpers/synthetic-connector.js';
import { tempDir } from '../cli/helpers.js';
import { inProcess } from '../cli/tamper.js';

const actor = { type: 'system' as const, id: 'test' };

describe('audit personal-data scan', () => {
  it('catches an email, phones (E.164 and national) and a demo name appended through the real path, naming the entries', async () => {
    const deps = await createTestDeps();
    const person = demoCustomer(7);
    await deps.audit.append(deps.db, { type: 'request.denied', actor, data: { reason: `asked by ${ALICE.email}` } });
    await deps.audit.append(deps.db, { type: 'request.extended', actor, data: { reason: `call back on ${ALICE.phone} or 06 12 34 56 78 or 06.98.76.54.32` } });
    await deps.audit.append(deps.db, { type: 'note', actor, data: { text: `${person.firstName} ${person.lastName} complained` } });
    await deps.treeHeads.sign();
    const problems = await scanRegisteredDatabases();
    unregisterAuditDb(deps.db); // leaked on purpose: keep it out of the after-test scan
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/entry 0: email "alice@example\.com"/);
    expect(problems[0]).toMatch(/entry 1: phone "\+33612345678"/);
    expect(problems[0]).toMatch(/entry 1: phone "06 12 34 56 78"/);
    expect(problems[0]).toMatch(/entry 1: phone "06\.98\.76\.54\.32"/);
    expect(problems[0]).toMatch(new RegExp(`entry 2: name "${person.firstName.toLowerCase()} ${person.lastName.toLowerCase().split(/\s+/)[0]}"`));
  });

  it("scans a data dir's store (its oubli.db, or its PostgreSQL database), as the CLI and server suites leave them", async () => {
    const dir = tempDir('pii');
    const { deps, close } = await inProcess(dir);
    await deps.audit.append(deps.db, { type: 'note', actor: systemCtx(deps).actor, data: { to: 'dpo@example.org' } });
    await close();
    expect(await scanDataDir(dir)).toEqual([{ index: 0, kind: 'email', value: 'dpo@example.org' }]);
    expect((await scanRegisteredDataDirs()).join()).toMatch(/dpo@example\.org/);
    unregisterDataDir(dir);
  });

  it('ids, hashes, timestamps, key ids and counts are not personal data', async () => {
    const deps = await createTestDeps();
    await deps.audit.append(deps.db, {
      type: 'request.completed',
      actor: { type: 'api_key', id: 'key_01j9z3x8k2m4n6p8r0s2t4v6w8' },
      requestId: 'req_0612345678abcdefghjkmnpqrs',
      subjectRef: 'sref_0612345678abcdefghjkmnpq',
      data: { root: '0612345678' + 'ab'.repeat(27), kid: '3eeGF3WrC5-AP1Mn66POzJ5VGolwh3_ua_PziQ', at: '2026-03-01T09:00:00.000Z', deleted: 1234567890, phoneFields: 2 },
    });
    const [row] = await deps.audit.entries(0, 10);
    expect(findPii(0, row!.entry)).toEqual([]);
    expect(await scanRegisteredDatabases()).toEqual([]);
  });
});
