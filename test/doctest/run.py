#!/usr/bin/env python3
"""Runs the SQL examples of the documentation as written (test/check doctest).

Every ```sql block of README.md, docs/*.md and docs/reference/*.md runs, in order, in a fresh database per
file (on the server that PGHOST/PGPORT/PGUSER name), in one psql session per file, so
that \\gset variables and settings carry over from block to block. A block passes when
psql reports no error in it.

Markers, an HTML comment on the line right before a block:
  <!-- doctest: skip (reason) -->   not run (say why: it needs a remote server, ...);
  <!-- doctest: error SQLSTATE -->  must fail with that SQLSTATE (a documented error);
  <!-- doctest: wait -->            first wait (at most 60 s) until no batch is queued
                                    or running.
A hidden setup step that the reader does not need to see:
  <!-- doctest-setup
  SQL ...
  -->
A block (or hidden setup) must end its last statement with `;` or a psql command
(`\\gset`, `\\gx`, ...): an unterminated statement would be run by psql inside the next
block, so it fails the block.
Prints one line per file and `doctest: N passed, M failed`; exit 1 if any failed.
"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FENCE = re.compile(r"^```(\w*)\s*$")
MARK = re.compile(r"^<!--\s*doctest:\s*(skip|error|wait)\b\s*(.*?)\s*-->\s*$")
WAIT_SQL = ("DO $$ DECLARE i int := 0; BEGIN WHILE i < 600 AND EXISTS (SELECT 1 FROM batch_ops.batch "
            "WHERE status IN ('queued', 'running', 'cancelling')) LOOP PERFORM pg_sleep(0.1); i := i + 1; "
            "END LOOP; END $$;")


def blocks(path):
    """(line, kind, sql, marker, arg) for each runnable piece of a markdown file."""
    out = []
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    pending = None
    while i < len(lines):
        line = lines[i]
        if line.strip().startswith("<!-- doctest-setup"):
            j = i + 1
            body = []
            while j < len(lines) and lines[j].strip() != "-->":
                body.append(lines[j])
                j += 1
            out.append((i + 1, "setup", "\n".join(body), None, None))
            i = j + 1
            continue
        m = MARK.match(line.strip())
        if m:
            pending = (m.group(1), m.group(2))
            i += 1
            continue
        f = FENCE.match(line)
        if f:
            j = i + 1
            body = []
            while j < len(lines) and not lines[j].startswith("```"):
                body.append(lines[j])
                j += 1
            if f.group(1) == "sql":
                marker, arg = pending if pending else (None, None)
                out.append((i + 1, "sql", "\n".join(body), marker, arg))
            pending = None
            i = j + 1
            continue
        if line.strip():
            pending = None
        i += 1
    return out


def unterminated(sql):
    """True when the last statement of a block has no closing `;` or psql command."""
    lines = [re.sub(r"--.*$", "", line).rstrip() for line in sql.split("\n")]
    lines = [line for line in lines if line.strip()]
    return bool(lines) and not (lines[-1].endswith(";") or re.search(r"\\[a-z]+", lines[-1]))


def run_file(path):
    rel = os.path.relpath(path, ROOT)
    items = [it for it in blocks(path) if it[3] != "skip"]
    if not items:
        return 0, 0, []
    db = "doctest_" + re.sub(r"[^a-z0-9]+", "_", rel.lower()).strip("_")
    subprocess.run(["psql", "-X", "-q", "-d", "postgres", "-c", f'DROP DATABASE IF EXISTS "{db}"'],
                   capture_output=True)
    subprocess.run(["psql", "-X", "-q", "-d", "postgres", "-c", f'CREATE DATABASE "{db}" TEMPLATE template0'],
                   check=True, capture_output=True)
    script = ["\\set ON_ERROR_STOP 0", "\\set VERBOSITY verbose", "\\pset pager off"]
    for n, (_, _, sql, marker, _) in enumerate(items):
        if marker == "wait":
            script.append(WAIT_SQL)
        # The lone `;` sends whatever an unterminated block left in psql's query buffer
        # here rather than in the next block (an empty query does nothing).
        script += [f"\\echo @@doctest-begin {n}", sql, ";", f"\\echo @@doctest-end {n}"]
    p = subprocess.run(["psql", "-X", "-d", db, "-f", "-"], input="\n".join(script) + "\n",
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900)
    out = p.stdout
    passed = failed = 0
    failures = []
    for n, (line, kind, sql, marker, arg) in enumerate(items):
        what = "hidden setup" if kind == "setup" else "block"
        if unterminated(sql):
            failed += 1
            failures.append(f"{rel}:{line}: the {what} ends inside a statement (no closing ; or psql command)")
            continue
        m = re.search(rf"@@doctest-begin {n}\n(.*?)@@doctest-end {n}\n", out, re.S)
        if not m:
            failed += 1
            failures.append(f"{rel}:{line}: the {what} did not finish (psql stopped)")
            continue
        errors = re.findall(r"(?m)^(?:psql:\S+ )?(?:ERROR|FATAL):\s+(?:(\w{5}): )?(.*)$", m.group(1))
        if marker == "error":
            want = arg.split()[0] if arg else ""
            if errors and (not want or any(code == want for code, _ in errors)):
                passed += 1
            else:
                failed += 1
                got = "; ".join(f"{c} {t}" for c, t in errors) or "no error"
                failures.append(f"{rel}:{line}: {what} should fail with {want or 'an error'}; got: {got}")
        elif errors:
            failed += 1
            failures.append(f"{rel}:{line}: {what} failed: {errors[0][0]} {errors[0][1][:300]}")
        elif kind == "sql":
            passed += 1
    subprocess.run(["psql", "-X", "-q", "-d", "postgres", "-c", f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'],
                   capture_output=True)
    return passed, failed, failures


def main():
    docs = os.path.join(ROOT, "docs")
    files = [os.path.join(ROOT, "README.md")]
    for folder in (docs, os.path.join(docs, "reference")):
        if os.path.isdir(folder):
            files += sorted(os.path.join(folder, n) for n in os.listdir(folder) if n.endswith(".md"))
    total_pass = total_fail = 0
    failures = []
    for f in files:
        p, q, fails = run_file(f)
        print(f"{os.path.relpath(f, ROOT)}: {p} passed, {q} failed")
        total_pass += p
        total_fail += q
        failures += fails
    for f in failures:
        print("FAILED " + f)
    print(f"doctest: {total_pass} passed, {total_fail} failed")
    return 1 if total_fail else 0


if __name__ == "__main__":
    sys.exit(main())
