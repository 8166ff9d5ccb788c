#!/usr/bin/env python3
"""tools/funclen.py FILE...: the lengths of the C functions in the files
(OpenBSD style: the name starts a line, the body ends at a '}' in column 0),
longest first; TOP=N (default 15) rows. E.g. tools/funclen.py src/*/*.c"""
import os, re, signal, sys
signal.signal(signal.SIGPIPE, signal.SIG_DFL)
rows = []
for f in sys.argv[1:]:
    lines = open(f, errors='replace').read().split('\n')
    start = name = None
    for i, l in enumerate(lines):
        m = re.match(r'^([A-Za-z_][A-Za-z0-9_]*)\(', l)
        if m and start is None:
            name, start = m.group(1), i
        elif l.startswith('}') and start is not None:
            rows.append((i - start + 1, f, name))
            start = None
        elif l.startswith(';') or (start is not None and l.endswith(');') and i == start):
            start = None
rows.sort(reverse=True)
for n, f, name in rows[:int(os.environ.get('TOP', '15'))]:
    print(f'{n:5d} {f}:{name}')
