#!/usr/bin/env python3
"""Checks the layering of include/fcam: every `#include "fcam/<folder>/..."` of a header must be
allowed by the table under "## Allowed include graph" in docs/design.md (a header may always
include its own folder). Prints each violation with its file and line; exit 1 if any.

Usage: check_includes.py [REPO_ROOT]
"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent)
design = root / "docs" / "design.md"
include_dir = root / "include" / "fcam"


def allowed_graph(text):
    """{folder: set of folders it may include, or {'*'}} from the table of the section."""
    section = text.split("## Allowed include graph", 1)
    if len(section) < 2:
        sys.exit(f"{design}: no '## Allowed include graph' section")
    graph = {}
    for line in section[1].split("\n## ", 1)[0].splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) != 2 or not line.lstrip().startswith("|") or cells[0] in ("folder", "") or set(cells[0]) <= set("-:"):
            continue
        targets = {t.strip().strip("`") for t in cells[1].split(",") if t.strip() and t.strip() != "—"}
        graph[cells[0]] = targets
    if not graph:
        sys.exit(f"{design}: the include graph table is empty")
    return graph


def folder_of(path):
    """'ops' for include/fcam/ops/cpu/gemm.hpp; the file name for top-level headers."""
    parts = path.relative_to(include_dir).parts
    return parts[0]


def main():
    graph = allowed_graph(design.read_text(encoding="utf-8"))
    violations = []
    for header in sorted(include_dir.rglob("*.hpp")):
        source = folder_of(header)
        if source not in graph:
            violations.append(f"{header.relative_to(root)}: folder '{source}' is not in the table of {design.name}")
            continue
        allowed = graph[source]
        for number, line in enumerate(header.read_text(encoding="utf-8").splitlines(), 1):
            m = re.match(r'\s*#\s*include\s+"fcam/([^"]+)"', line)
            if not m:
                continue
            target = m.group(1).split("/")[0]
            if target != source and "*" not in allowed and target not in allowed:
                violations.append(f"{header.relative_to(root)}:{number}: {source}/ may not include {m.group(1)}")
    for v in violations:
        print(v)
    print(f"include graph: {len(violations)} violation(s) in {len(list(include_dir.rglob('*.hpp')))} headers")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
