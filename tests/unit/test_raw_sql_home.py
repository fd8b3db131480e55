"""Hand-written SQL lives in loyalty/db/ only (and migrations/), where each statement is
wrapped with its tenant (tests/integration/test_db_statements.py): a statement of SQL
text, an unnest() batch, a DB-API cursor or an autocommit connection anywhere else in
the app would escape that review."""

import re
from pathlib import Path

LOYALTY = Path(__file__).resolve().parents[2] / "loyalty"
RAW_SQL = re.compile(r"\bsa\.text\(|\bsqlalchemy import [^\n]*\btext\b|\bunnest\s*\("
                     r"|\.cursor\(|\bdriver_connection\b|\braw_connection\(|AUTOCOMMIT"
                     r"|\bexec_driver_sql\(")


def test_raw_sql_appears_only_under_loyalty_db():
    found = [f"{path.relative_to(LOYALTY.parent)}:{number}: {line.strip()}"
             for path in sorted(LOYALTY.rglob("*.py")) if path.relative_to(LOYALTY).parts[0] != "db"
             for number, line in enumerate(path.read_text().splitlines(), 1)
             if RAW_SQL.search(line)]
    assert found == []


def test_the_check_would_see_each_kind_of_raw_sql():
    for line in ('db.session.execute(sa.text("SELECT 1"))', "from sqlalchemy import select, text",
                 "FROM unnest(CAST(:id AS integer[]))", "with connection.cursor() as c:",
                 "engine.raw_connection()", 'isolation_level="AUTOCOMMIT"'):
        assert RAW_SQL.search(line), line
    assert not RAW_SQL.search('cursor = request.args.get("cursor", type=int)')
