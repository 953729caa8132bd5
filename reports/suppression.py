"""Small-cell suppression for public tables.

Rule (domain.md: "no cell below 11, and no cell that lets one be derived from totals"):

1. Primary: every cell and every total from 1 to 10 is suppressed. Zeros are published.
2. Complementary: a published row (or column) total must not sit beside exactly one suppressed cell in
   that row (or column), or the cell could be derived by subtraction. While some line has exactly one
   suppressed cell and a published total, the smallest other published cell of that line is suppressed
   too (or, if the line has no other cell, its total). Repeat until no line has exactly one.

Limits: this protects against derivation from a single row or column. It does not solve the full
linear-programming audit over several lines at once, which is rare for tables this small; the published
tables have a handful of rows and columns.
"""

SUPPRESSED = None


def suppress(table, threshold=10):
    """table: {row: {col: count}} -> {"cells": {row: {col: count|None}}, "row_totals": {...}, "col_totals": {...},
    "total": count|None}. None means suppressed."""
    rows = list(table)
    cols = sorted({c for r in rows for c in table[r]})
    cells = {r: {c: int(table[r].get(c, 0)) for c in cols} for r in rows}
    row_totals = {r: sum(cells[r].values()) for r in rows}
    col_totals = {c: sum(cells[r][c] for r in rows) for c in cols}
    total = sum(row_totals.values())

    hidden = {(r, c) for r in rows for c in cols if 1 <= cells[r][c] <= threshold}
    hidden_rows = {r for r in rows if 1 <= row_totals[r] <= threshold}
    hidden_cols = {c for c in cols if 1 <= col_totals[c] <= threshold}

    changed = True
    while changed:
        changed = False
        for r in rows:
            if r in hidden_rows:
                continue
            line = [(r, c) for c in cols]
            if sum(1 for k in line if k in hidden) == 1:
                if not _hide_smallest(line, hidden, cells):
                    hidden_rows.add(r)
                changed = True
        for c in cols:
            if c in hidden_cols:
                continue
            line = [(r, c) for r in rows]
            if sum(1 for k in line if k in hidden) == 1:
                if not _hide_smallest(line, hidden, cells):
                    hidden_cols.add(c)
                changed = True
        # A hidden total beside exactly one other hidden total would be derivable from the grand total.
        if len(hidden_rows) == 1 and len(rows) > 1:
            rest = [r for r in rows if r not in hidden_rows]
            hidden_rows.add(min(rest, key=lambda r: row_totals[r]))
            changed = True
        if len(hidden_cols) == 1 and len(cols) > 1:
            rest = [c for c in cols if c not in hidden_cols]
            hidden_cols.add(min(rest, key=lambda c: col_totals[c]))
            changed = True

    return {
        "cells": {r: {c: SUPPRESSED if (r, c) in hidden else cells[r][c] for c in cols} for r in rows},
        "row_totals": {r: SUPPRESSED if r in hidden_rows else row_totals[r] for r in rows},
        "col_totals": {c: SUPPRESSED if c in hidden_cols else col_totals[c] for c in cols},
        "total": SUPPRESSED if 1 <= total <= threshold else total,
    }


def _hide_smallest(line, hidden, cells):
    candidates = [k for k in line if k not in hidden]
    if not candidates:
        return False
    hidden.add(min(candidates, key=lambda k: (cells[k[0]][k[1]], str(k))))
    return True
