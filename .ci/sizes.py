"""The house rules no linter checks: no module over 300 lines, no function over 50 lines (src/txpipe, flows).

Prints every breach with its size and exits 1 when there is one. Run by `make lint` (and so by `make test`).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 50
ROOTS = ("src/txpipe", "flows")


def breaches(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines > MAX_MODULE_LINES:
            found.append(f"{path}: module of {lines} lines (at most {MAX_MODULE_LINES})")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                if size > MAX_FUNCTION_LINES:
                    limit = f"(at most {MAX_FUNCTION_LINES})"
                    found.append(f"{path}:{node.lineno}: function {node.name} of {size} lines {limit}")
    return found


def main() -> int:
    found = [line for root in ROOTS for line in breaches(Path(root))]
    print("\n".join(found) if found else "sizes: every module and function within the limits")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
