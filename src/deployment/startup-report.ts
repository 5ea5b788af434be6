/**
 * The start-up report of how each connector finds people: one log line per matched column,
 * saying whether an index serves the lookup — and, when none does, a warning with the index to
 * create (each search would otherwise scan the whole table). Names and rules only, no values.
 */
import type { Connector, ConnectorLogger } from '../../connectors/types.js';

export function reportMatching(log: Pick<ConnectorLogger, 'info' | 'warn'>, connectors: Connector[]): void {
  for (const c of connectors) {
    for (const l of c.matching?.() ?? []) {
      const what = {
        connector: c.id,
        collection: l.collection,
        ...(l.identity ? { identity: l.identity } : { via: l.via }),
        column: l.column,
        normalization: l.normalization,
        ...(l.format ? { format: l.format } : {}),
        compares: l.compares,
      };
      if (l.index.served) log.info({ ...what, index: l.index.name }, 'lookup served by an index');
      else log.warn({ ...what, recommendation: l.recommendation }, 'lookup not served by any index: each search scans the table');
    }
  }
}
