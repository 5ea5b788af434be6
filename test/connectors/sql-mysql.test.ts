import { describeSqlConnector } from './sql-suite.js';
import { mysqlTarget } from './sql-fixture.js';

describeSqlConnector('MariaDB/MySQL', mysqlTarget);
