#!/usr/bin/env python3
"""Writes the fuzzer's seed corpus, test/fuzz/corpus/, from the regression tests.

Every JSON object or array written as an SQL string literal in sql/*.sql (the
requests of batch_execute, the options of create_sync, the status_transitions of
register_target, ...) is read with Python's json module, as jsonb would read it,
and encoded in the fuzzer's input format (test/fuzz/decoder.hpp): a flags byte of
0, then the value. The word list is read from decoder.hpp.

    test/fuzz/make_seeds.py                      # rewrite test/fuzz/corpus/
    test/fuzz/make_seeds.py --check build/fuzz/core_fuzzer
        # also run the fuzzer on every seed (BATCH_OPS_FUZZ_PRINT=1) and check that
        # it decodes each one into the JSON that was encoded

The seeds are committed; run this again after adding requests to sql/*.sql.
"""
import argparse
import decimal
import glob
import hashlib
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FUZZ = os.path.join(ROOT, "test", "fuzz")
MAX_DEPTH = 10  # kMaxDepth


def read_words():
    text = open(os.path.join(FUZZ, "decoder.hpp"), encoding="utf-8").read()
    body = text.split("// words-begin", 1)[1].split("// words-end", 1)[0]
    body = body.split("{", 1)[1].rsplit("}", 1)[0]
    body = re.sub(r"//[^\n]*", "", body)
    words = []
    for m in re.finditer(r'"((?:[^"\\]|\\.)*)"', body):
        words.append(m.group(1).encode("latin-1").decode("unicode_escape"))
    if not 0 < len(words) <= 256:
        sys.exit(f"make_seeds: {len(words)} words in decoder.hpp (1 to 256 expected)")
    return words


WORDS = read_words()
WORD_INDEX = {w.encode("utf-8"): i for i, w in reversed(list(enumerate(WORDS)))}


# ------------------------------------------------------------------------------
# SQL string literals

def sql_literals(text):
    """The contents of the '...' literals of an SQL script ('' unescaped). Dollar
    quotes are looked through (their bodies are SQL here); comments are skipped."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("--", i):
            j = text.find("\n", i)
            i = n if j < 0 else j + 1
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == "'":
            j, buf = i + 1, []
            while j < n:
                if text[j] == "'":
                    if j + 1 < n and text[j + 1] == "'":
                        buf.append("'")
                        j += 2
                        continue
                    break
                buf.append(text[j])
                j += 1
            out.append("".join(buf))
            i = j + 1
        elif c == '"':  # a quoted identifier
            j = text.find('"', i + 1)
            i = n if j < 0 else j + 1
        else:
            i += 1
    return out


def no_constants(name):
    raise ValueError(name)


def read_json(text):
    text = text.strip()
    if not text or text[0] not in "[{":
        return None
    try:
        v = json.loads(text, parse_float=decimal.Decimal, parse_int=decimal.Decimal,
                       parse_constant=no_constants)
    except (ValueError, RecursionError):
        return None
    try:
        check_jsonb(v)
    except ValueError:
        return None
    return v


def check_jsonb(v):
    """What jsonb_in would refuse: \\u0000 and unpaired surrogates in strings."""
    if isinstance(v, str):
        if "\0" in v:
            raise ValueError("NUL")
        v.encode("utf-8")  # UnicodeEncodeError (a ValueError) for a lone surrogate
    elif isinstance(v, list):
        for e in v:
            check_jsonb(e)
    elif isinstance(v, dict):
        for k, e in v.items():
            check_jsonb(k)
            check_jsonb(e)


# ------------------------------------------------------------------------------
# The fuzzer's format

def canonical_number(raw):
    """decoder.hpp's canonical_number, on bytes."""
    negative, int_part, frac_part, in_frac = False, [], [], False
    for i, b in enumerate(raw):
        if i == 0 and b == ord("-"):
            negative = True
            continue
        if b == ord(".") and not in_frac:
            in_frac = True
            continue
        d = chr(b) if ord("0") <= b <= ord("9") else chr(ord("0") + b % 10)
        (frac_part if in_frac else int_part).append(d)
    ip = "".join(int_part).lstrip("0") or "0"
    fp = "".join(frac_part)
    zero = ip == "0" and fp.strip("0") == ""
    out = ("-" if negative and not zero else "") + ip
    if fp:
        out += "." + fp
    return out


def numeric_out(d):
    """The text numeric_out prints for a number jsonb read from JSON text."""
    s = format(d, "f")
    if d.is_zero():
        s = s.lstrip("-")
    return s


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def encode_bytes(b):
    return varint(len(b)) + b


def jsonb_key(k):
    b = k.encode("utf-8")
    return (len(b), b)


def encode(v, depth=0):
    if v is None:
        return b"\x00"
    if v is False:
        return b"\x01"
    if v is True:
        return b"\x02"
    if isinstance(v, decimal.Decimal):
        text = numeric_out(v).encode("ascii")
        assert canonical_number(text) == text.decode(), text
        return b"\x03" + encode_bytes(text)
    if isinstance(v, str):
        b = v.encode("utf-8")
        if b in WORD_INDEX:
            return bytes([5, WORD_INDEX[b]])
        return b"\x04" + encode_bytes(b)
    if depth >= MAX_DEPTH:
        raise ValueError("too deep")
    if isinstance(v, list):
        return b"\x06" + varint(len(v)) + b"".join(encode(e, depth + 1) for e in v)
    if isinstance(v, dict):
        out = bytearray(b"\x07" + varint(len(v)))
        for k in sorted(v, key=jsonb_key):
            kb = k.encode("utf-8")
            out += bytes([0, WORD_INDEX[kb]]) if kb in WORD_INDEX else b"\x01" + encode_bytes(kb)
            out += encode(v[k], depth + 1)
        return bytes(out)
    raise TypeError(type(v))


# core::Json::dump, to check what the fuzzer decodes.
def dump(v):
    if v is None:
        return b"null"
    if v is True:
        return b"true"
    if v is False:
        return b"false"
    if isinstance(v, decimal.Decimal):
        return numeric_out(v).encode()
    if isinstance(v, str):
        return dump_string(v)
    if isinstance(v, list):
        return b"[" + b", ".join(dump(e) for e in v) + b"]"
    return b"{" + b", ".join(dump_string(k) + b": " + dump(v[k]) for k in sorted(v, key=jsonb_key)) + b"}"


def dump_string(s):
    esc = {0x22: b'\\"', 0x5C: b"\\\\", 0x08: b"\\b", 0x0C: b"\\f", 0x0A: b"\\n", 0x0D: b"\\r", 0x09: b"\\t"}
    out = bytearray(b'"')
    for b in s.encode("utf-8"):
        if b in esc:
            out += esc[b]
        elif b < 0x20:
            out += b"\\u00%02x" % b
        else:
            out.append(b)
    return bytes(out + b'"')


# ------------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(FUZZ, "corpus"))
    ap.add_argument("--check", metavar="FUZZER", help="decode every seed with this fuzzer binary and compare")
    args = ap.parse_args()

    seeds = {}  # encoded bytes -> (dump, source)
    files = sorted(f for f in glob.glob(os.path.join(ROOT, "sql", "*.sql"))
                   if not os.path.basename(f).startswith("batch_ops--"))
    for f in files:
        for lit in sql_literals(open(f, encoding="utf-8").read()):
            v = read_json(lit)
            if v is None:
                continue
            try:
                data = b"\x00" + encode(v)
            except ValueError:
                continue
            seeds.setdefault(data, (dump(v), os.path.basename(f)))

    os.makedirs(args.out, exist_ok=True)
    for old in glob.glob(os.path.join(args.out, "*")):
        os.remove(old)
    names = {}
    for data, (text, _) in seeds.items():
        name = hashlib.sha1(data).hexdigest()
        with open(os.path.join(args.out, name), "wb") as fh:
            fh.write(data)
        names[name] = text
    per_file = {}
    for _, src in seeds.values():
        per_file[src] = per_file.get(src, 0) + 1
    print(f"make_seeds: {len(seeds)} seeds in {os.path.relpath(args.out, ROOT)} "
          f"({', '.join(f'{k}: {v}' for k, v in sorted(per_file.items()))})")

    if args.check:
        bad = 0
        for name, text in sorted(names.items()):
            r = subprocess.run([args.check, os.path.join(args.out, name)], capture_output=True,
                               env=dict(os.environ, BATCH_OPS_FUZZ_PRINT="1"))
            got = [l for l in r.stdout.split(b"\n") if l.startswith(b"0 ")]
            # libFuzzer may run a file more than once; each run must decode it alike.
            want = b"0 " + text
            if r.returncode != 0 or not got or set(got) != {want}:
                bad += 1
                print(f"make_seeds: {name}: decoded as {got!r}, expected {want!r} (exit {r.returncode})")
                sys.stdout.write(r.stderr.decode(errors="replace")[-2000:])
        print(f"make_seeds: {len(names) - bad} of {len(names)} seeds decode as encoded")
        return 1 if bad else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
