/** The deployment loader recognises a REST connector declaration (`driver: 'http'`). */
import { describe, expect, it } from 'vitest';
import { buildDeployment, closeConnectors } from '../../src/deployment/config.js';

const newsletter = (over: Record<string, unknown> = {}) => ({
  id: 'newsletter',
  title: 'Newsletter',
  driver: 'http',
  baseUrl: 'https://api.newsletter.example/v3/',
  auth: { type: 'bearer', token: 'tok_example' },
  collections: { contacts: { search: { email: { url: 'contacts/{email}' } }, erase: { action: 'delete', request: { method: 'DELETE', url: 'contacts/{record.id}' } } } },
  ...over,
});

describe('deployment config: REST connectors', () => {
  it('builds an http declaration beside the others', async () => {
    const d = buildDeployment({ connectors: [newsletter()] });
    expect(d.connectors.map((c) => [c.id, c.lookupBy])).toEqual([['newsletter', ['email']]]);
    await closeConnectors(d.connectors);
  });

  it('a bad http declaration stops loading, naming the connector and the field', () => {
    expect(() => buildDeployment({ connectors: [newsletter({ auth: { type: 'bearer', token: undefined } })] })).toThrow('connector "newsletter": auth.token: required');
    expect(() => buildDeployment({ connectors: [newsletter({ baseUrl: 'file:///etc/' })] })).toThrow('connector "newsletter": baseUrl: only http and https');
  });

  it('two connectors with one id are refused, whatever their drivers', () => {
    expect(() => buildDeployment({ connectors: [newsletter(), newsletter()] })).toThrow('connector "newsletter": id: declared more than once');
  });
});
