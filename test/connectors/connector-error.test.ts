import { describe, expect, it } from 'vitest';
import { ConnectorError } from '../../connectors/types.js';

describe('ConnectorError', () => {
  it('is recognised across module copies by its brand (a config loaded apart from the bundle)', async () => {
    // A second, independent copy of the module, as tsx gives a deployment's oubli.config.ts.
    const other = (await import("../../connectors/types.ts?copy" as string)) as typeof import('../../connectors/types.js');
    expect(other.ConnectorError).not.toBe(ConnectorError);
    const err = new other.ConnectorError('SILO_DOWN', 'down', true);
    expect(err instanceof ConnectorError).toBe(true);
    expect(new Error('plain') instanceof ConnectorError).toBe(false);
    expect((null as unknown) instanceof ConnectorError).toBe(false);
    expect({ code: 'X', retryable: true } instanceof ConnectorError).toBe(false);
  });
});
