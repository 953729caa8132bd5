"""No function over 60 lines (scripts/test.sh runs this). Long functions hide several steps; name them instead.

Exempt: migrations (generated), and demo data, which is a script of records, not logic: incidents/demo.py and
the simulate_field_day command's scripted day.
"""

import ast
import pathlib
import sys

MAX_LINES = 60
ROOT = pathlib.Path(__file__).resolve().parent.parent
SKIP_DIRS = {".venv", "node_modules", "migrations", "tests", "bench", "__pycache__"}
EXEMPT = {"incidents/demo.py", "sync/management/commands/simulate_field_day.py"}


def long_functions(root=ROOT, max_lines=MAX_LINES):
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if SKIP_DIRS.intersection(rel.parts) or rel.as_posix() in EXEMPT:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(rel))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > max_lines:
                    found.append((rel.as_posix(), node.lineno, node.name, length))
    return found


def main():
    found = long_functions()
    for path, line, name, length in found:
        print(f"{path}:{line}: {name} is {length} lines (at most {MAX_LINES}); split it into named steps")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
