#!/usr/bin/env python3
"""Every object of the extension and every setting has a reference entry (test/check lint).

The objects are those the extension scripts create (sql/batch_ops--*.sql): functions,
tables, views and types of schema batch_ops, as `\\dx+ batch_ops` lists them; the
settings are those src/pg/settings.cpp defines. Each must be named, in backquotes, in
the reference: docs/reference.md (the index) or a page of docs/reference/ (a function as
`name(` or `batch_ops.name`). Exit 1 listing the missing ones.
"""
import glob
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    ref = ""
    for ref_path in [os.path.join(ROOT, "docs", "reference.md")] + sorted(
            glob.glob(os.path.join(ROOT, "docs", "reference", "*.md"))):
        with open(ref_path, encoding="utf-8") as fh:
            ref += fh.read() + "\n"
    names = set()
    for script in glob.glob(os.path.join(ROOT, "sql", "batch_ops--*.sql")):
        with open(script, encoding="utf-8") as fh:
            text = fh.read()
        for kind, name in re.findall(
                r"CREATE\s+(?:OR\s+REPLACE\s+)?(FUNCTION|TABLE|VIEW|TYPE)\s+batch_ops\.(\w+)", text, re.I):
            names.add((kind.lower(), name))
        for kind, name in re.findall(r"DROP\s+(FUNCTION|TABLE|VIEW|TYPE)\s+(?:IF\s+EXISTS\s+)?batch_ops\.(\w+)",
                                     text, re.I):
            pass  # a dropped object may be re-created; the live set is checked by sql/13_comments.sql
    settings = set()
    for src in glob.glob(os.path.join(ROOT, "src", "pg", "settings.cpp")):
        with open(src, encoding="utf-8") as fh:
            settings.update(re.findall(r'"(batch_ops\.\w+)"', fh.read()))
    missing = []
    for kind, name in sorted(names):
        if name.startswith("_"):
            continue  # internal helpers
        patterns = [f"`{name}(", f"`batch_ops.{name}`", f"`batch_ops.{name}(", f"`{name}`"]
        if not any(p in ref for p in patterns):
            missing.append(f"{kind} batch_ops.{name}")
    for s in sorted(settings):
        if f"`{s}`" not in ref:
            missing.append(f"setting {s}")
    for m in missing:
        print(f"docs/reference.md, docs/reference/*.md: no entry for {m}")
    print(f"reference: {len(names)} objects, {len(settings)} settings, {len(missing)} missing")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
