#!/usr/bin/env python3
"""The C++/PostgreSQL boundary, checked over the sources (test/check lint).

PostgreSQL reports errors with a longjmp, which skips C++ destructors. The rule
(src/pg/README.md): outside src/pg, a call into PostgreSQL that can raise is
made inside pg::guard(...), or in a file that owns no destructible C++ objects
(listed in PLAIN_FILES below and checked to be so), or on a line that says why
it is safe with a `// pg-boundary: <reason>` comment. Nowhere (src/pg included)
is PostgreSQL called from a destructor or a catch block.

What counts as a call into PostgreSQL: a call of a function the server binary
exports (nm -D of `pg_config --bindir`/postgres), or of a macro in RAISING_MACROS,
except the few in NEVER_RAISE. Method calls (a.f(), p->f()) and C++-qualified
calls (ns::f()) are ours. The check is lexical: comments and string literals
are blanked first, and a guard's extent is its parentheses.

Usage: boundary.py [--postgres PATH] [FILES...]   (default: every src/**/*.cpp, *.hpp)
Exit 1 with one line per finding, 0 when clean.
"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Files that are plain PostgreSQL code in C++ syntax: they may call PostgreSQL
# directly because no frame in them owns a destructible object. Checked below:
# such a file may not name std:: types, pg:: or core:: classes.
PLAIN_FILES = {"src/workers/launcher.cpp", "src/workers/shared.cpp"}

RAISING_MACROS = {
    "ereport", "elog", "PG_RE_THROW", "PG_GETARG_TEXT_PP", "PG_GETARG_TEXT_P", "PG_GETARG_JSONB_P",
    "PG_GETARG_ARRAYTYPE_P", "PG_GETARG_INTERVAL_P", "PG_GETARG_NAME", "PG_DETOAST_DATUM",
    "PG_DETOAST_DATUM_PACKED", "DatumGetTextPP", "DatumGetTextP", "DatumGetJsonbP", "DatumGetArrayTypeP",
    "DatumGetArrayTypePCopy", "DatumGetIntervalP", "CHECK_FOR_INTERRUPTS", "SPI_connect", "palloc",
    "palloc0", "repalloc", "psprintf", "pstrdup",
}

# Exported functions that cannot raise (plain reads of process state, latch
# operations, memory context switches and frees of our own allocations).
NEVER_RAISE = {
    "GetCurrentSubTransactionId", "GetUserId", "GetSessionUserId", "GetOuterUserId", "GetCurrentTransactionNestLevel",
    "IsTransactionState", "IsTransactionOrTransactionBlock", "IsSubTransaction", "InSecurityRestrictedOperation",
    "GetUserIdAndSecContext", "SetLatch", "ResetLatch", "MemoryContextSwitchTo", "pfree", "list_length",
    "RecoveryInProgress", "superuser_arg", "GetCurrentTimestamp", "TimestampDifferenceExceeds",
    "errstart_cold", "pg_usleep", "IsBinaryUpgrade", "MyLatch", "proc_exit", "strlcpy", "pqsignal",
    "LWLockRelease", "GetCurrentTransactionId",
    # LWLockAcquire raises only "too many LWLocks taken", a bound our few locks never reach.
    "LWLockAcquire", "BackgroundWorkerUnblockSignals", "TimestampDifferenceMilliseconds",
    "errcode_for_file_access",
}

COMMENT_OK = "pg-boundary:"

# Our own methods that reach PostgreSQL: never in a destructor or a catch block.
PG_METHODS = {"commit", "rollback", "query", "query_cached", "query_plan", "execute", "execute_cached",
              "execute_plan", "finish", "prepare"}

# Parts of an ereport(...) call: counted once, as ereport.
ERREPORT_PARTS = {"errcode", "errmsg", "errmsg_internal", "errdetail", "errdetail_internal", "errhint",
                  "errcontext", "errmsg_plural", "errdetail_log", "errposition", "errhidestmt", "errhidecontext"}


def postgres_symbols(binary):
    out = subprocess.run(["nm", "-D", "--defined-only", binary], capture_output=True, text=True, check=True).stdout
    syms = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in ("T", "W", "t"):
            syms.add(parts[2])
    return syms


def blank(text):
    """Comments and string/char literals replaced by spaces (newlines kept)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == 'R' and text.startswith('R"', i):
            m = re.match(r'R"([^(]*)\(', text[i:])
            end = text.find(")" + m.group(1) + '"', i) if m else -1
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + " " * (j - i - 2) + c if j - i >= 2 else " " * (j - i))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def matching(code, open_pos, open_ch="(", close_ch=")"):
    depth = 0
    for k in range(open_pos, len(code)):
        if code[k] == open_ch:
            depth += 1
        elif code[k] == close_ch:
            depth -= 1
            if depth == 0:
                return k
    return len(code) - 1


def spans(code, pattern, open_ch, close_ch):
    """Extents [start, end] of the bracketed part following each match of pattern."""
    out = []
    for m in re.finditer(pattern, code):
        k = code.find(open_ch, m.end() - 1)
        if k < 0:
            continue
        out.append((m.start(), matching(code, k, open_ch, close_ch)))
    return out


def inside(pos, ranges):
    return any(a <= pos <= b for a, b in ranges)


def check_file(rel, text, pg_syms):
    code = blank(text)
    lines = text.split("\n")
    findings = []
    line_of = lambda pos: code.count("\n", 0, pos) + 1

    guards = spans(code, r"\bguard\s*\(", "(", ")")
    # A destructor's body: ~Name(...) [noexcept] {  ...  }
    dtors = spans(code, r"~\s*\w+\s*\([^)]*\)\s*(?:noexcept\s*)?(?:override\s*)?(?:=\s*default\s*;)?\s*\{", "{", "}")
    catches = spans(code, r"\bcatch\s*\([^)]*\)\s*\{", "{", "}")
    in_pg = rel.startswith("src/pg/")
    plain = rel in PLAIN_FILES

    for m in re.finditer(r"(?<![\w.>:])(\w+)\s*\(", code):
        name = m.group(1)
        before = code[max(0, m.start() - 2):m.start()]
        is_method = before.endswith(".") or before.endswith("->")
        if is_method and name in PG_METHODS:
            pos = m.start()
            if inside(pos, dtors) or inside(pos, catches):
                ln = line_of(pos)
                if COMMENT_OK not in (lines[ln - 1] if ln - 1 < len(lines) else ""):
                    where = "a destructor" if inside(pos, dtors) else "a catch block"
                    findings.append((ln, f".{name}() reaches PostgreSQL and is called in {where}"))
            continue
        if name in NEVER_RAISE or name in ERREPORT_PARTS:
            continue
        if name not in RAISING_MACROS and name not in pg_syms:
            continue
        # ns::name( is C++ (our own or the standard library), a.name( / p->name( a method.
        if before.endswith("::") or is_method:
            continue
        pos = m.start()
        ln = line_of(pos)
        src_line = lines[ln - 1] if ln - 1 < len(lines) else ""
        if COMMENT_OK in src_line:
            continue
        if inside(pos, dtors):
            findings.append((ln, f"{name}() called in a destructor"))
        elif inside(pos, catches):
            findings.append((ln, f"{name}() called in a catch block"))
        elif not in_pg and not plain and not inside(pos, guards):
            findings.append((ln, f"{name}() may raise: call it inside pg::guard, or say why it is safe "
                                 f"with a '// {COMMENT_OK} <reason>' comment"))
    if plain:
        for m in re.finditer(r"\b(std|pg|core|store|ops)::\w+", code):
            findings.append((line_of(m.start()), f"{m.group(0)} in a plain-PostgreSQL file (see PLAIN_FILES)"))
    return findings


def main(argv):
    binary = None
    files = []
    i = 0
    while i < len(argv):
        if argv[i] == "--postgres":
            binary = argv[i + 1]
            i += 2
        else:
            files.append(argv[i])
            i += 1
    if binary is None:
        pg_config = os.environ.get("PG_CONFIG", "pg_config")
        bindir = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True).stdout.strip()
        binary = os.path.join(bindir, "postgres")
    pg_syms = postgres_symbols(binary)
    if not files:
        for d, _, names in os.walk(os.path.join(ROOT, "src")):
            for f in names:
                if f.endswith((".cpp", ".hpp")):
                    files.append(os.path.join(d, f))
    bad = 0
    for f in sorted(files):
        rel = os.path.relpath(os.path.abspath(f), ROOT)
        if rel.startswith("src/core/"):
            continue  # core includes no server header (checked by layers.py)
        if rel.startswith("src/watch/"):
            continue  # batch_ops_watch, a libpq client program: no server code (checked by layers.py)
        with open(f, encoding="utf-8") as fh:
            text = fh.read()
        for ln, msg in check_file(rel, text, pg_syms):
            print(f"{rel}:{ln}: {msg}")
            bad += 1
    print(f"boundary: {len(files)} files, {bad} finding(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
