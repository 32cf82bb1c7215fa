"""Completion of Spark SQL text, as pure functions of the text, the cursor and a catalog
snapshot: table and view names (with database prefixes), columns of the tables the
statement names (also after ``alias.``), nested struct fields (``col.field``), functions,
keywords and ``{python_var}`` names for ``%%sql``'s interpolation."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .catalog import CatalogSnapshot, Column

_KEYWORD_TEXT = """
    SELECT FROM WHERE GROUP BY ORDER HAVING LIMIT OFFSET JOIN LEFT RIGHT FULL OUTER INNER
    CROSS SEMI ANTI ON USING AS AND OR NOT IN IS NULL LIKE ILIKE RLIKE BETWEEN EXISTS CASE
    WHEN THEN ELSE END DISTINCT UNION ALL EXCEPT INTERSECT WITH CREATE OR REPLACE TEMP
    TEMPORARY VIEW TABLE INSERT INTO OVERWRITE VALUES UPDATE SET DELETE MERGE MATCHED DROP
    IF ALTER ADD COLUMN SHOW DESCRIBE EXPLAIN CACHE UNCACHE LATERAL WINDOW PARTITION OVER
    ROWS RANGE PRECEDING FOLLOWING UNBOUNDED CURRENT ROW ASC DESC NULLS FIRST LAST TRUE
    FALSE INTERVAL CAST DATABASE SCHEMA DATABASES TABLES VIEWS FUNCTIONS COLUMNS PIVOT
    UNPIVOT QUALIFY TABLESAMPLE CLUSTER DISTRIBUTE SORT"""
KEYWORDS = tuple(dict.fromkeys(_KEYWORD_TEXT.split()))
# After these, a table or view name comes next.
_TABLE_CONTEXT = {"FROM", "JOIN", "INTO", "TABLE", "UPDATE", "DESCRIBE", "DESC", "VIEW"}
_IDENT = r"(?:`(?:[^`]|``)*`|[A-Za-z_$][\w$]*)"
_NAME = re.compile(rf"{_IDENT}(?:\.{_IDENT})*")
_TOKEN = re.compile(rf"{_NAME.pattern}|'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\S")
_WORD_CHARS = re.compile(r"[\w$.`]")
_SQL_CALL = re.compile(r"\.sql\(\s*(?:[rRbBfFuU]{0,2})(\"\"\"|'''|\"|')")


@dataclass
class Completion:
    """Replacement candidates for ``text[start:end]``, each with its kind (``table``,
    ``view``, ``database``, ``column``, ``field``, ``function``, ``keyword``, ``variable``)."""

    start: int
    end: int
    matches: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)

    def add(self, names: Iterable[str], kind: str, prefix: str) -> None:
        low = prefix.lower()
        for name in names:
            if name.lower().startswith(low) and name not in self.matches:
                self.matches.append(name)
                self.kinds.append(kind)


def sql_region(code: str, cursor: int) -> tuple[int, int] | None:
    """Where the SQL around `cursor` is in `code`: the body of a ``%%sql`` cell, or the
    string literal passed to ``spark.sql(...)`` that the cursor is in. None elsewhere."""
    if code.startswith("%%sql"):
        body = code.find("\n")
        return (body + 1, len(code)) if 0 <= body < cursor else None
    found = None
    for match in _SQL_CALL.finditer(code, 0, cursor):
        found = match
    if found is None:
        return None
    start, quote = found.end(), found.group(1)
    closing = code.find(quote, start)
    if 0 <= closing < cursor:
        return None  # the string ended before the cursor
    return start, closing if closing >= 0 else len(code)


def complete(
    sql: str,
    cursor: int,
    snapshot: CatalogSnapshot | None,
    columns: Callable[[str], tuple[Column, ...]],
    variables: Iterable[str] = (),
) -> Completion:
    """Candidates for the word before `cursor` in `sql`."""
    start = cursor
    while start > 0 and _WORD_CHARS.match(sql[start - 1]):
        start -= 1
    word = sql[start:cursor]
    if start > 0 and sql[start - 1] == "{" and "." not in word:
        result = Completion(start, cursor)
        result.add(sorted(v for v in variables if not v.startswith("_")), "variable", word)
        return result
    statement = _statement(sql, cursor)
    tables = _table_references(statement)
    if "." in word:
        head, _, part = word.rpartition(".")
        result = Completion(cursor - len(part), cursor)
        _complete_after_dot(result, head, part, tables, snapshot, columns)
        return result
    result = Completion(start, cursor)
    snap = snapshot or CatalogSnapshot()
    if _previous_word(sql, start).upper() in _TABLE_CONTEXT:
        result.add(snap.temp_views, "view", word)
        result.add(snap.tables.get(snap.current_database, ()), "table", word)
        result.add([f"{db}." for db in (*snap.databases, snap.global_database)], "database", word)
        return result
    for name, _alias in tables:
        result.add([c.name for c in columns(name)], "column", word)
    result.add(snap.functions, "function", word)
    result.add(_cased(KEYWORDS, word), "keyword", word)
    result.add(snap.table_names(), "table", word)
    return result


def _complete_after_dot(
    result: Completion,
    head: str,
    part: str,
    tables: list[tuple[str, str | None]],
    snapshot: CatalogSnapshot | None,
    columns: Callable[[str], tuple[Column, ...]],
) -> None:
    names = [_unquote(p) for p in _NAME.findall(head)[0].split(".")] if _NAME.match(head) else []
    if not names:
        return
    low = [n.lower() for n in names]
    # alias. / table. -> that table's columns (and deeper: struct fields)
    for table, alias in tables:
        keys = {table.lower(), table.lower().rsplit(".", 1)[-1], (alias or table).lower()}
        if low[0] in keys or ".".join(low) == table.lower():
            path = [] if ".".join(low) == table.lower() else names[1:]
            fields = _descend(columns(table), path)
            if fields:
                result.add([c.name for c in fields], "field" if path else "column", part)
                return
    # column.field -> struct fields of a column of a table the statement names
    for table, _alias in tables:
        fields = _descend(columns(table), names)
        if fields:
            result.add([c.name for c in fields], "field", part)
            return
    # database. -> its tables (global_temp. -> global temporary views)
    snap = snapshot or CatalogSnapshot()
    if len(names) == 1:
        if low[0] == snap.global_database.lower():
            result.add(snap.global_views, "view", part)
        for db, db_tables in snap.tables.items():
            if db.lower() == low[0]:
                result.add(db_tables, "table", part)


def name_at(sql: str, cursor: int) -> str | None:
    """The (maybe qualified) name the cursor is on or right after, unquoted."""
    for match in _NAME.finditer(sql):
        if match.start() <= cursor <= match.end():
            return ".".join(_unquote(p) for p in re.findall(_IDENT, match.group(0)))
    return None


def _descend(columns: tuple[Column, ...], path: list[str]) -> tuple[Column, ...]:
    """The fields under `path` (column, field, ...) of `columns`; () if it leads nowhere."""
    current = columns
    for step in path:
        found = next((c for c in current if c.name.lower() == step.lower()), None)
        if found is None:
            return ()
        current = found.fields
    return current


def _statement(sql: str, cursor: int) -> str:
    """The statement (between semicolons) the cursor is in."""
    begin = sql.rfind(";", 0, cursor) + 1
    end = sql.find(";", cursor)
    return sql[begin : end if end >= 0 else len(sql)]


def _table_references(statement: str) -> list[tuple[str, str | None]]:
    """``(table, alias)`` for each table after FROM / JOIN (comma lists included)."""
    tokens = _TOKEN.findall(statement)
    found: list[tuple[str, str | None]] = []
    i = 0
    while i < len(tokens):
        if tokens[i].upper() not in {"FROM", "JOIN"}:
            i += 1
            continue
        i += 1
        while i < len(tokens) and _NAME.fullmatch(tokens[i]) and tokens[i].upper() not in KEYWORDS:
            table = ".".join(_unquote(p) for p in re.findall(_IDENT, tokens[i]))
            i += 1
            alias = None
            if i < len(tokens) and tokens[i].upper() == "AS":
                i += 1
            if i < len(tokens) and _NAME.fullmatch(tokens[i]) and tokens[i].upper() not in KEYWORDS:
                alias = _unquote(tokens[i])
                i += 1
            found.append((table, alias))
            if i < len(tokens) and tokens[i] == ",":
                i += 1
                continue
            break
    return found


def _previous_word(sql: str, position: int) -> str:
    match = re.search(r"([A-Za-z_]+)\s+$", sql[:position])
    return match.group(1) if match else ""


def _cased(keywords: Iterable[str], typed: str) -> list[str]:
    """Keywords in the case the user types them in (lower when the word is lower case)."""
    lower = typed != "" and typed == typed.lower() and typed != typed.upper()
    return [k.lower() for k in keywords] if lower else list(keywords)


def _unquote(name: str) -> str:
    if len(name) >= 2 and name[0] == name[-1] == "`":
        return name[1:-1].replace("``", "`")
    return name
