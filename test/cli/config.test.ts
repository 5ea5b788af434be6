/** Config from env, parsed once: defaults, and a clear error naming each bad variable. */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ port: 8080, host: '127.0.0.1', dataDir: resolve('./data'), trustProxy: { mode: 'off' }, bodyLimit: 1024 * 1024, logLevel: 'info' });
    expect(c.configFile).toBeUndefined();
  });

  it('reads values; empty strings mean unset', () => {
    const c = loadConfig({ PORT: '0', HOST: '0.0.0.0', OUBLI_DATA_DIR: '/tmp/x', OUBLI_TRUST_PROXY: '1', OUBLI_CONFIG: '', OUBLI_LOG_LEVEL: 'silent' });
    expect(c).toMatchObject({ port: 0, host: '0.0.0.0', dataDir: '/tmp/x', trustProxy: { mode: 'hops', hops: 1 }, logLevel: 'silent' });
    expect(c.configFile).toBeUndefined();
  });

  it('OUBLI_TRUST_PROXY: off, a number of proxy hops, or a list of proxy addresses and CIDRs', () => {
    expect(loadConfig({ OUBLI_TRUST_PROXY: 'false' }).trustProxy).toEqual({ mode: 'off' });
    expect(loadConfig({ OUBLI_TRUST_PROXY: '0' }).trustProxy).toEqual({ mode: 'off' });
    expect(loadConfig({ OUBLI_TRUST_PROXY: 'true' }).trustProxy).toEqual({ mode: 'hops', hops: 1 });
    expect(loadConfig({ OUBLI_TRUST_PROXY: '2' }).trustProxy).toEqual({ mode: 'hops', hops: 2 });
    expect(loadConfig({ OUBLI_TRUST_PROXY: '10.0.0.0/8, 192.168.1.2,fd00::/8 ,::1' }).trustProxy).toEqual({
      mode: 'proxies',
      proxies: ['10.0.0.0/8', '192.168.1.2', 'fd00::/8', '::1'],
    });
  });

  it('OUBLI_MASTER_KEY: 32 bytes in base64 (standard or URL-safe), or a clear error', () => {
    const key = Buffer.alloc(32, 7);
    expect(loadConfig({ OUBLI_MASTER_KEY: key.toString('base64') }).masterKey).toEqual(key);
    expect(loadConfig({ OUBLI_MASTER_KEY: key.toString('base64url') }).masterKey).toEqual(key);
    expect(loadConfig({}).masterKey).toBeUndefined();
    for (const bad of ['short', Buffer.alloc(16).toString('base64'), Buffer.alloc(33).toString('base64'), `${'!'.repeat(43)}=`]) {
      expect(() => loadConfig({ OUBLI_MASTER_KEY: bad }), bad).toThrow(/OUBLI_MASTER_KEY: must be 32 bytes in base64/);
    }
  });

  it('names every bad variable at once', () => {
    let err: unknown;
    try {
      loadConfig({ PORT: 'abc', OUBLI_LOG_LEVEL: 'loud', OUBLI_TRUST_PROXY: 'yes', OUBLI_BODY_LIMIT: '12', OUBLI_PUBLIC_URL: 'nope' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/^invalid configuration:/);
    for (const v of ['PORT: must be a port number', 'OUBLI_LOG_LEVEL', 'OUBLI_TRUST_PROXY', 'OUBLI_BODY_LIMIT', 'OUBLI_PUBLIC_URL']) expect(msg).toContain(v);
    for (const bad of ['yes', '-1', '0.5', '10.0.0.0/33', '10.0.0.1,', 'proxy.example.com', '99']) {
      expect(() => loadConfig({ OUBLI_TRUST_PROXY: bad }), bad).toThrow(/OUBLI_TRUST_PROXY: must be/);
    }
    for (const port of ['70000', '80.5', '-1', '1e3x']) expect(() => loadConfig({ PORT: port })).toThrow(/PORT: must be a port number/);
  });
});
