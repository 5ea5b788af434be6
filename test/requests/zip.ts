import yauzl from 'yauzl';
import { compactVerify, importJWK, type JWK } from 'jose';

/** Reads every entry of a ZIP held in memory. */
export function unzip(buf: Buffer): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(buf, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err ?? new Error('no zip'));
      const out = new Map<string, Buffer>();
      zip.on('entry', (entry: yauzl.Entry) => {
        zip.openReadStream(entry, (e, stream) => {
          if (e || !stream) return reject(e ?? new Error('no stream'));
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            out.set(entry.fileName, Buffer.concat(chunks));
            zip.readEntry();
          });
        });
      });
      zip.on('end', () => resolve(out));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

/** Verifies a compact JWS against a JWKS; returns the parsed payload. */
export async function verifyJws(jws: string, jwks: { keys: JWK[] }): Promise<any> {
  const kid = JSON.parse(Buffer.from(jws.split('.')[0]!, 'base64url').toString()).kid as string;
  const jwk = jwks.keys.find((k) => k.kid === kid);
  if (!jwk) throw new Error(`unknown kid ${kid}`);
  const { payload } = await compactVerify(jws, await importJWK(jwk, 'EdDSA'));
  return JSON.parse(new TextDecoder().decode(payload));
}
