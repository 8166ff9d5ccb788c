#!/usr/bin/python3
# tests/e2e/prom.py FILE|-: parse a Prometheus text page with the official
# parser (python3-prometheus-client) and print one sample a line,
#   name{label="v",...} value    (labels sorted, integral values without .0)
# Exits 1 (with the reason) if the page does not parse, a family has no
# TYPE, a name breaks the conventions (twinpipe_ prefix, counters end in
# _total) or a sample repeats.
import re
import sys

from prometheus_client.parser import text_string_to_metric_families

text = sys.stdin.read() if sys.argv[1] == "-" else open(sys.argv[1]).read()
seen = set()
try:
    for fam in text_string_to_metric_families(text):
        if fam.type == "unknown":
            sys.exit("family %s has no TYPE" % fam.name)
        if not re.fullmatch(r"twinpipe_[a-z0-9_]+", fam.name):
            sys.exit("family %s: not a twinpipe_ name" % fam.name)
        if not fam.documentation:
            sys.exit("family %s has no HELP" % fam.name)
        for s in fam.samples:
            if fam.type == "counter" and not s.name.endswith(("_total", "_created")):
                sys.exit("counter sample %s does not end in _total" % s.name)
            labels = ",".join('%s="%s"' % (k, v.replace("\\", "\\\\").replace('"', '\\"'))
                              for k, v in sorted(s.labels.items()))
            v = s.value
            v = str(int(v)) if v == int(v) else repr(v)
            key = "%s{%s}" % (s.name, labels)
            if key in seen:
                sys.exit("sample %s repeats" % key)
            seen.add(key)
            print("%s %s" % (key, v))
except ValueError as e:
    sys.exit("parse error: %s" % e)
