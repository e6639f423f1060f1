"""The layers hold: the renderers (dashboard, reports) reach the store only through the library."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RENDERERS = [ROOT / "dashboard", ROOT / "qualitylib" / "reports"]
# Running SQL, or building it: a connection's execute, a SQL keyword opening a query, or the
# library's SQL builders (filters' WHERE fragments, the counts module's subqueries).
SQL = re.compile(
    r"\.execute\(|\.sql\(|\bSELECT\s|\bFROM\s+(annotations|scored|votes|pairs|contested)\b"
    r"|\.where\(\s*\"|_sql\("
)


def test_no_sql_in_the_dashboard_or_the_reports() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for folder in RENDERERS
        for path in sorted(folder.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if SQL.search(line)
    ]
    assert found == []


def test_the_pattern_catches_sql() -> None:
    lines = [
        'con.execute("SELECT 1")',
        'where, params = filters.where("x")',
        "source, params = filtered_sql(week)",
        "SELECT count(*) FROM annotations",
    ]
    assert all(SQL.search(line) for line in lines)
    assert not SQL.search("review = review_queue(con, filters)")
