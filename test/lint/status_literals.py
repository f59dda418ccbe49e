#!/usr/bin/env python3
"""No status names as string literals outside core and the store (test/check lint).

The batch and item statuses are core::BatchStatus and core::ItemStatus, named
by core::to_string (src/core/status.*); the store (src/store) is the one
place that writes them into SQL. (src/watch, a separate client program,
reads them as text and is not checked.) Elsewhere a C++ string literal that is a
status name ("queued"), or an SQL literal of one inside a string ('failed'),
is a finding: compare the enums, and name a status with core::to_string.
A literal that happens to spell a status but is none (a message) is allowed
on a line that says so: `// status-literal: <reason>`.

Usage: status_literals.py [FILES...]   (default: every src/**/*.cpp, *.hpp)
Exit 1 with one line per finding, 0 when clean.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

STATUSES = ("queued", "running", "cancelling", "succeeded", "failed", "cancelled", "created", "pending",
            "skipped")
# Where status names belong; and src/watch, batch_ops_watch, a client program
# outside the library's layers (it may not include core) that reads the
# statuses as any client does, as text.
OWNERS = ("src/core/status.hpp", "src/core/status.cpp", "src/store/", "src/watch/")
COMMENT_OK = "status-literal:"

SQL_STATUS = re.compile(r"'(" + "|".join(STATUSES) + r")'")


def literals(text):
    """(line, content) of each C++ string literal (comments and char literals skipped)."""
    out = []
    i, n, line = 0, len(text), 1
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            line += text.count("\n", i, j)
            i = j
        elif text.startswith('R"', i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'R"([^(]*)\(', text[i:])
            end = text.find(")" + m.group(1) + '"', i) if m else -1
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.append((line, text[i + len(m.group(0)) if m else i:end if end >= 0 else n]))
            line += text.count("\n", i, j)
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            if c == '"':
                out.append((line, text[i + 1:j]))
            i = min(j + 1, n)
        else:
            if c == "\n":
                line += 1
            i += 1
    return out


def sources(argv):
    if argv:
        return [os.path.relpath(os.path.abspath(f), ROOT) for f in argv]
    out = []
    for d, _, names in os.walk(os.path.join(ROOT, "src")):
        for f in sorted(names):
            if f.endswith((".cpp", ".hpp")):
                out.append(os.path.relpath(os.path.join(d, f), ROOT))
    return sorted(out)


def check(rel, text):
    findings = []
    lines = text.split("\n")
    for ln, s in literals(text):
        if COMMENT_OK in lines[ln - 1]:
            continue
        if s in STATUSES:
            findings.append((ln, f'"{s}" is a status name: use core::BatchStatus / core::ItemStatus and core::to_string'))
        for m in SQL_STATUS.finditer(s):
            findings.append((ln, f"SQL literal '{m.group(1)}' is a status name: statements on the batch tables "
                                 f"belong in src/store"))
    return findings


def main(argv):
    bad = 0
    files = sources(argv)
    for rel in files:
        if rel.startswith(OWNERS):
            continue
        with open(os.path.join(ROOT, rel), encoding="utf-8") as fh:
            text = fh.read()
        for ln, msg in check(rel, text):
            print(f"{rel}:{ln}: {msg}")
            bad += 1
    print(f"status literals: {len(files)} files, {bad} finding(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
