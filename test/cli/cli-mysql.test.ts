import { runSqlCliSuite } from "./sql-cli.case.js";

runSqlCliSuite("mysql");
