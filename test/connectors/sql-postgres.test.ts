import { describeSqlConnector } from './sql-suite.js';
import { postgresTarget } from './sql-fixture.js';

describeSqlConnector('PostgreSQL', postgresTarget);
