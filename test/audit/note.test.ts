/**
 * src/audit/note.ts against Go's golang.org/x/mod/sumdb/note (the test vectors of note_test.go
 * and a checkpoint signed by note.Sign), so any tool that verifies Go sumdb notes verifies
 * oubli's checkpoints — not only against itself.
 */
import { createPrivateKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  formatCheckpoint,
  formatVerifierKey,
  openNote,
  parseCheckpoint,
  parseVerifierKey,
  signNote,
  verifyCheckpoint,
  type NoteVerifier,
} from '../../src/audit/note.js';
import { readJsonFixture } from '../helpers/fixtures.js';

interface Vectors {
  peter: { verifierKey: string; signerKey: string; name: string; hash: string; sigLine: string };
  enoch: { verifierKey: string; sigLine: string };
  text: string;
  badVerifierKeys: string[];
  goCheckpoint: { origin: string; size: number; rootBase64: string; seedBase64: string; signerKey: string; verifierKey: string; checkpoint: string };
  c2spCheckpointText: string;
}
const V = readJsonFixture<Vectors>('conformance/signed-note.json');

/** An Ed25519 KeyObject from a Go signer key `PRIVATE+KEY+name+hash+base64(0x01 ‖ seed)`. */
function keyFromSignerKey(skey: string) {
  const seed = Buffer.from(skey.split('+').slice(4).join('+'), 'base64').subarray(1);
  expect(seed).toHaveLength(32);
  return createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
}
const verifier = (vkey: string): NoteVerifier => parseVerifierKey(vkey)!;

describe('verifier keys (Go TestNewVerifier)', () => {
  it('parses the PeterNeumann key and formats it back byte for byte', () => {
    const v = parseVerifierKey(V.peter.verifierKey)!;
    expect(v).toMatchObject({ name: 'PeterNeumann', hash: 0xc74f20a3 });
    expect(formatVerifierKey(v.name, v.publicKey)).toBe(V.peter.verifierKey);
    expect(formatVerifierKey(V.goCheckpoint.origin, verifier(V.goCheckpoint.verifierKey).publicKey)).toBe(V.goCheckpoint.verifierKey);
  });

  it('rejects every substring and every one-byte mangling, as Go does', () => {
    const b = Buffer.from(V.peter.verifierKey);
    let rejected = 0;
    for (let i = 0; i <= b.length; i++) {
      for (let j = i + 1; j <= b.length; j++) {
        if (i === 0 && j === b.length) continue;
        expect(parseVerifierKey(b.subarray(i, j).toString()), `${i}:${j}`).toBeNull();
        rejected++;
      }
    }
    for (let i = 0; i < b.length; i++) {
      const m = Buffer.from(b);
      m[i]! += 1;
      expect(parseVerifierKey(m.toString('latin1')), `byte ${i}`).toBeNull();
    }
    for (const k of V.badVerifierKeys) expect(parseVerifierKey(k), k).toBeNull(); // wrong length; unknown algorithm
    expect(rejected).toBeGreaterThan(2000);
  });
});

describe('signing (Go TestSign)', () => {
  it('the PeterNeumann signer key signs the Go test text into exactly the note Go produces', () => {
    const note = signNote(V.text, V.peter.name, keyFromSignerKey(V.peter.signerKey));
    expect(note).toBe(`${V.text}\n${V.peter.sigLine}`);
  });

  it('a checkpoint signed from the same seed is byte-identical to the one Go note.Sign made', () => {
    const g = V.goCheckpoint;
    const text = formatCheckpoint({ origin: g.origin, size: g.size, root: new Uint8Array(Buffer.from(g.rootBase64, 'base64')) });
    expect(signNote(text, g.origin, keyFromSignerKey(g.signerKey))).toBe(g.checkpoint);
  });

  it('refuses malformed text and key names', () => {
    const key = keyFromSignerKey(V.peter.signerKey);
    expect(() => signNote('abc', 'PeterNeumann', key)).toThrow(/malformed/);
    expect(() => signNote(V.text, 'a+b', key)).toThrow(/malformed/);
    expect(() => signNote(V.text, 'a b', key)).toThrow(/malformed/);
    expect(() => signNote('x\u0001y\n', 'PeterNeumann', key)).toThrow(/malformed/);
  });
});

describe('opening notes (Go TestOpen)', () => {
  const peter = verifier(V.peter.verifierKey);
  const enoch = verifier(V.enoch.verifierKey);
  const both = `${V.text}\n${V.peter.sigLine}${V.enoch.sigLine}`;
  const sig = (line: string) => {
    const [name, base64] = line.slice(2, -1).split(' ') as [string, string];
    return { name, hash: Buffer.from(base64, 'base64').readUInt32BE(0), base64 };
  };

  it('one known key verified, the unknown one kept aside; both known; none known', () => {
    const one = openNote(both, [peter]);
    expect(one).toEqual({ text: V.text, sigs: [sig(V.peter.sigLine)], unverified: [sig(V.enoch.sigLine)] });
    expect(openNote(both, [peter, enoch])).toEqual({ text: V.text, sigs: [sig(V.peter.sigLine), sig(V.enoch.sigLine)], unverified: [] });
    expect(openNote(both, [])).toEqual({ error: 'note has no verifiable signatures' });
  });

  it('ambiguous keys, too many signatures, a bad signature, duplicates', () => {
    expect(openNote(`${V.text}\n${V.enoch.sigLine}`, [enoch, peter, enoch])).toEqual({ error: 'ambiguous key EnochRoot+af0cfe78' });
    expect('error' in openNote(`${V.text}\n${V.peter.sigLine}`, [enoch, peter, enoch])).toBe(false);
    expect(openNote(`${V.text}\n${V.peter.sigLine.repeat(101)}`, [peter])).toEqual({ error: 'malformed note' });
    expect(openNote(`${V.text}\n${V.peter.sigLine.repeat(101)}`, [])).toEqual({ error: 'malformed note' });
    const bad = `${V.peter.sigLine.slice(0, 60)}ABCD${V.peter.sigLine.slice(60)}`;
    expect(openNote(`${V.text}\n${bad}`, [peter])).toEqual({ error: 'invalid signature for key PeterNeumann+c74f20a3' });
    const enochBad = `${V.enoch.sigLine.slice(0, 60)}ABCD${V.enoch.sigLine.slice(60)}`;
    const dup = openNote(`${V.text}\n${V.peter.sigLine}${V.peter.sigLine}${V.enoch.sigLine}${V.enoch.sigLine}${enochBad}`, [peter]);
    expect(dup).toMatchObject({ sigs: [sig(V.peter.sigLine)], unverified: [sig(V.enoch.sigLine), sig(enochBad)] });
  });

  it('malformed messages', () => {
    const p = V.peter.sigLine;
    for (const msg of [
      V.text,
      `${V.text}\n`,
      `${V.text}\n${p.slice(0, -1)}`,
      `\u0001${V.text}\n${p}`,
      `${V.text}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=`,
      `${V.text}\n${p}Unexpected line.\n`,
    ]) {
      expect(openNote(msg, [peter]), JSON.stringify(msg)).toEqual({ error: 'malformed note' });
    }
    // invalid UTF-8 cannot reach a JS string; a lone surrogate is its equivalent
    expect(openNote(`\ud800${V.text}\n${p}`, [peter])).toEqual({ error: 'malformed note' });
    // a signature whose name or hash differ from the key's is not that key's
    expect(openNote(`${V.text}\n${p.replace('PeterNeumann', 'CarmenSandiego')}`, [peter])).toEqual({ error: 'note has no verifiable signatures' });
  });
});

describe('tlog-checkpoints', () => {
  it('parses the C2SP example and the Go-signed checkpoint; verifies the latter with its origin', () => {
    expect(parseCheckpoint(V.c2spCheckpointText)).toEqual({
      origin: 'example.com/behind-the-sofa',
      size: 20852163,
      root: new Uint8Array(Buffer.from('CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=', 'base64')),
    });
    const g = V.goCheckpoint;
    const c = verifyCheckpoint(g.checkpoint, [verifier(g.verifierKey)], g.origin);
    expect(c).toEqual({ origin: g.origin, size: 1234, root: new Uint8Array(Buffer.from(g.rootBase64, 'base64')) });
    expect(verifyCheckpoint(g.checkpoint, [verifier(g.verifierKey)], 'oubli.other.example/audit')).toMatchObject({ error: expect.stringMatching(/not of this log/) });
    expect(verifyCheckpoint(g.checkpoint, [verifier(V.peter.verifierKey)], g.origin)).toEqual({ error: 'note has no verifiable signatures' });
    expect(verifyCheckpoint(g.checkpoint.replace('\n1234\n', '\n1235\n'), [verifier(g.verifierKey)], g.origin)).toMatchObject({ error: expect.stringMatching(/invalid signature/) });
  });

  it('rejects sizes with leading zeros or signs, short or padded-wrong roots, empty lines', () => {
    const root = Buffer.alloc(32, 7).toString('base64');
    const ok = `o.example/log\n5\n${root}\n`;
    expect(parseCheckpoint(ok)).not.toBeNull();
    expect(parseCheckpoint(`o.example/log\n0\n${root}\n`)).toMatchObject({ size: 0 });
    expect(parseCheckpoint(`o.example/log\n5\n${root}\next\n`)).toMatchObject({ size: 5 }); // extension line
    for (const bad of [`o.example/log\n05\n${root}\n`, `o.example/log\n-5\n${root}\n`, `o.example/log\n+5\n${root}\n`, `o.example/log\n5\n${Buffer.alloc(31).toString('base64')}\n`,
      `o.example/log\n5\n${root.replace(/=$/, '')}\n`, `o.example/log\n5\n${root}`, `\n5\n${root}\n`, `o.example/log\n5\n${root}\n\n`, 'o.example/log\n5\n', `o.example/log\n99999999999999999999\n${root}\n`]) {
      expect(parseCheckpoint(bad), JSON.stringify(bad)).toBeNull();
    }
  });
});
