#!/usr/bin/env python3
"""Tracks issue [backend]'s rule that ops/ is the only code touching tensor memory: scans the
headers of nn/, models/, losses/, optim/, cam/ and train/ for raw memory access (`.data()`,
except on the std::vectors of layer pointers that the fused chain runner walks).

They may not name the CPU backend (`cpu::`) either: ops/ dispatches to it.

Within ops/, only the CPU backend (ops/cpu/) touches memory: the ops' own headers
(include/fcam/ops/*.hpp) check their contracts and dispatch on the device (ops/dispatch.hpp), so
they may contain no `.data()` and no `require_cpu(` / `check_cpu_operands(` (a CUDA tensor is
refused by the op's CUDA branch, not by a CPU check).

A file listed in PENDING still has such access and is yet to move its loops into ops/; every
other file must have none. The check fails when an unlisted file gains an access (a regression)
and when a listed file has none left (then remove it from PENDING, so the list only shrinks).

Usage: check_memory_access.py [REPO_ROOT]
"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent)
FOLDERS = ["nn", "models", "losses", "optim", "cam", "train"]
# Files whose loops have not moved into ops/ yet (empty since every loop lives in ops/; a
# future file may be listed here while it migrates).
PENDING = set()
ACCESS = re.compile(r"(?<!layers_)(?<!modules_)\.data\(\)")


# ops/*.hpp (not ops/cpu/): contracts and dispatch only.
OPS_FORBIDDEN = re.compile(r"\.data\(\)|\brequire_cpu\(|\bcheck_cpu_operands\(")


def ops_problems(include):
    """Memory accesses and CPU-only checks in the top-level headers of ops/; (problems, files)."""
    headers = sorted((include / "ops").glob("*.hpp"))
    problems = [f"include/fcam/ops/{h.name}:{n}: memory access or CPU check outside ops/cpu/: {l.strip()}"
                for h in headers
                for n, l in enumerate(h.read_text(encoding="utf-8").splitlines(), 1)
                if OPS_FORBIDDEN.search(l) and not l.lstrip().startswith("//")]
    return problems, len(headers)


def main():
    include = root / "include" / "fcam"
    problems, counts = [], {}
    op_problems, op_headers = ops_problems(include)
    problems += op_problems
    for folder in FOLDERS:
        for header in sorted((include / folder).rglob("*.hpp")):
            name = header.relative_to(include).as_posix()
            lines = [(n, l) for n, l in enumerate(header.read_text(encoding="utf-8").splitlines(), 1)
                     if ACCESS.search(l) and not l.lstrip().startswith("//")]
            counts[name] = len(lines)
            problems += [f"include/fcam/{name}:{n}: names the CPU backend outside ops/: {l.strip()}"
                         for n, l in enumerate(header.read_text(encoding="utf-8").splitlines(), 1)
                         if "cpu::" in l and not l.lstrip().startswith("//")]
            if lines and name not in PENDING:
                problems += [f"include/fcam/{name}:{n}: raw tensor memory outside ops/: {l.strip()}" for n, l in lines]
            if not lines and name in PENDING:
                problems.append(f"include/fcam/{name}: no raw access left; remove it from PENDING in {__file__}")
    for p in sorted(set(PENDING) - set(counts)):
        problems.append(f"include/fcam/{p}: listed in PENDING but does not exist")
    for p in problems:
        print(p)
    print(f"ops/*.hpp: {op_headers} headers (contracts and dispatch), {len(op_problems)} line(s) touching memory")
    pending = sum(c for n, c in counts.items() if n in PENDING)
    print(f"raw memory access: {pending} lines in {len(PENDING)} pending files; "
          f"{sum(1 for n in counts if n not in PENDING)} files clean; {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
