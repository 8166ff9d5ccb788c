#!/usr/bin/env python3
"""Seeded generator for transform's fast-path differential test.

gen-subset.py programs N SEED  -> N jq programs of the fast path's subset
                                  (and some just outside it), one per line
gen-subset.py records N SEED   -> N NDJSON records with the fields they use
"""
import json
import random
import sys

FIELDS = ["a", "b", "s", "n", "neg", "f", "t", "z", "arr", "obj", "u", "e"]


def record(r):
    rec = {
        "a": r.choice(["x", "Y", "hello world", "", "a b c", "\u00e9t\u00e9", "tab\tq\"", "1", "x/y"]),
        "b": r.choice(["1", "2.5", "-3", "1e3", "abc", "", " 4", "007", "0.0001", "1.50"]),
        "s": r.choice(["2019-04-01 08:00:00", "x y z", "yes", "NO", "true"]),
        "n": r.choice([0, 1, -7, 3.25, 1e21, 123456789, 0.1, -0.0]),
        "neg": r.choice([-1, -2.5, 0]),
        "f": r.choice([True, False, None]),
        "t": r.choice([True, False]),
        "arr": r.choice([[], [1, "two", None], [[1], {"k": "v"}], ["a", "b", "c"]]),
        "obj": r.choice([{}, {"k": "v", "n": 2}, {"k": None}, {"deep": {"k": [1, 2]}}]),
        "u": r.choice(["\u007f", "\u2028", "a\\b", "\U0001F600"]),
    }
    if r.random() < 0.3:
        del rec["b"]
    if r.random() < 0.2:
        rec["z"] = r.choice([None, "z", 5])
    if r.random() < 0.1:
        rec["_meta"] = {"src": {"row": r.randint(1, 99)}}
    return rec


def term(r, d):
    c = r.random()
    f = r.choice(FIELDS)
    if d > 2 or c < 0.35:
        return r.choice(["." + f, '."%s"' % f, '.["%s"]' % f, ".obj.k", ".arr[%d]" % r.randint(-2, 3),
                         ".obj.deep.k[1]", "."])
    if c < 0.45:
        return r.choice(['"lit"', "1", "2.5", "-3", "true", "false", "null", '"\\u0041\\n"', "$v", "$w"])
    if c < 0.55:
        return "(" + expr(r, d + 1) + ")"
    if c < 0.65:
        return "{" + ", ".join(r.choice(["%s: %s" % (k, term(r, d + 1)), k, '"%s x": %s' % (k, term(r, d + 1))])
                               for k in r.sample(FIELDS, r.randint(0, 4))) + "}"
    if c < 0.7:
        return "[" + ", ".join(term(r, d + 1) for _ in range(r.randint(0, 3))) + "]"
    if c < 0.78:
        return '"pre \\(%s) post \\(%s)"' % (term(r, d + 1), term(r, d + 1))
    if c < 0.86:
        return "if %s then %s elif %s then %s else %s end" % (
            expr(r, d + 1), expr(r, d + 1), expr(r, d + 1), expr(r, d + 1), expr(r, d + 1))
    return term(r, d + 1) + " | " + r.choice([
        "tonumber", "tostring", "ascii_downcase", "ascii_upcase", "length", "not", "type", "floor",
        'ltrimstr("a")', 'rtrimstr("d")', 'startswith("x")', 'endswith("z")',
        'sub(" "; "T")', 'gsub(" "; "_")', 'sub("x"; "")', "keys", "tojson"])


def expr(r, d=0):
    c = r.random()
    a = term(r, d)
    if c < 0.4:
        return a
    op = r.choice(["//", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "and", "or", "|"])
    return "%s %s %s" % (a, op, term(r, d))


def main():
    kind, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    r = random.Random(seed)
    for _ in range(n):
        if kind == "programs":
            print(expr(r))
        else:
            print(json.dumps(record(r), ensure_ascii=False, separators=(",", ":")))


main()
