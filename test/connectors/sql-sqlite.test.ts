import { describeSqlConnector } from './sql-suite.js';
import { sqliteTarget } from './sql-fixture.js';

describeSqlConnector('SQLite', sqliteTarget);
