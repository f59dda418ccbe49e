#!/usr/bin/env python3
"""The layers of src/ (src/README.md), checked over the includes (test/check lint).

Dependencies point down: sql, workers -> ops -> store -> pg -> core. A file
may include its own layer and any layer below it; `sql` may also include
`workers` (for _PG_init, the wake-up at commit and the shared memory
batch_health reads). core includes no PostgreSQL header. PG_VERSION_NUM
appears only in src/pg. The store owns the extension's tables: no statement
of the library outside src/store names one of them (an SQL keyword followed
by batch_ops.<table> in a string literal).
src/watch is batch_ops_watch, a separate client program: it includes only its own
headers and libpq's (no server header, no other layer of the library).
Exit 1 with one line per finding.
"""
import os
import re
import sys

from status_literals import literals

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RANK = {"core": 0, "pg": 1, "store": 2, "ops": 3, "workers": 4, "sql": 4}
DOWN = "sql, workers -> ops -> store -> pg -> core"
# The extension's own state, owned by src/store.
STATE_SQL = re.compile(r"\b(FROM|INTO|UPDATE|JOIN|TABLE|USING)\s+batch_ops\.(batch|batch_item|batch_event|batch_cancel_request|batch_pause_request|submitter_turn|"
                       r"export|sync|sync_run|target|jobs|job_items|batch_id_seq)\b")
ALSO = {("sql", "workers")}
OWN_INCLUDE = re.compile(r'\s*#\s*include\s*"(\w+)/')
SERVER_HEADER = re.compile(r'#\s*include\s*[<"](postgres\.h|fmgr\.h|libpq-fe\.h|pg/|utils/|access/|catalog/|executor/|nodes/|storage/|postmaster/|commands/)')


def main():
    bad = 0
    files = 0
    for d, _, names in os.walk(os.path.join(ROOT, "src")):
        for f in sorted(names):
            if not f.endswith((".cpp", ".hpp")):
                continue
            files += 1
            path = os.path.join(d, f)
            rel = os.path.relpath(path, ROOT)
            layer = rel.split(os.sep)[1]
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
            for n, line in enumerate(text.split("\n"), 1):
                m = re.match(r'\s*#\s*include\s*"(\w+)/', line)
                if m and m.group(1) in RANK and layer in RANK:
                    to = m.group(1)
                    if RANK[to] > RANK[layer] or (RANK[to] == RANK[layer] and to != layer and (layer, to) not in ALSO):
                        print(f"{rel}:{n}: {layer} includes {to} (dependencies point down: {DOWN})")
                        bad += 1
                if layer == "watch":
                    m = OWN_INCLUDE.match(line)
                    if m and m.group(1) != "watch":
                        print(f"{rel}:{n}: watch includes {m.group(1)} (batch_ops_watch is a separate program: libpq only)")
                        bad += 1
                    if SERVER_HEADER.match(line) and "libpq-fe.h" not in line:
                        print(f"{rel}:{n}: watch includes a PostgreSQL server header (libpq only)")
                        bad += 1
                if layer == "core" and SERVER_HEADER.match(line):
                    print(f"{rel}:{n}: core includes a PostgreSQL header")
                    bad += 1
                if layer != "pg" and "PG_VERSION_NUM" in line:
                    print(f"{rel}:{n}: PG_VERSION_NUM outside src/pg (put the difference behind a helper in src/pg)")
                    bad += 1
            if layer in RANK and layer != "store":
                for n, s in literals(text):
                    for m in STATE_SQL.finditer(s):
                        print(f"{rel}:{n}: statement on batch_ops.{m.group(2)} outside src/store "
                              f"(the store owns the extension's tables)")
                        bad += 1
    print(f"layers: {files} files, {bad} finding(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
