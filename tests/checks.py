"""The pass/fail bookkeeping of the command-line tests: check() prints one line per check and
remembers the failures; finish() prints their count and exits with status 1 if there was one."""
import sys

FAILURES = []


def check(condition, what):
    print(("ok   " if condition else "FAIL ") + what)
    if not condition:
        FAILURES.append(what)


def finish():
    print(f"{len(FAILURES)} failure(s)")
    sys.exit(1 if FAILURES else 0)
