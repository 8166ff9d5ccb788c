#!/usr/bin/env python3
"""Seeded generator of LOB-like rows (as a CSV export turned into NDJSON:
every value a string). Usage: gen-lob.py N [SEED] > rows.ndjson"""
import json
import random
import sys

n = int(sys.argv[1])
rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 42)
types = ["plant", "warehouse", "office", "depot"]
regions = ["west", "east", "north", "south", "central"]
out = sys.stdout
for i in range(n):
    row = {
        "OrgId": "org-%07d" % i,
        "Name": "Contoso %s %d" % (rng.choice(types).title(), i),
        "Type": rng.choice(types),
        "Region": rng.choice(regions),
        "Capacity": str(rng.randint(10, 100000)),
        "Active": rng.choice(["true", "false"]),
        "Opened": "20%02d-%02d-%02d 08:%02d:00" % (
            rng.randint(0, 25), rng.randint(1, 12), rng.randint(1, 28),
            rng.randint(0, 59)),
        "Lat": "%.4f" % rng.uniform(-60, 60),
        "Lon": "%.4f" % rng.uniform(-180, 180),
        "ParentId": "org-%07d" % (i // 10),
        "Notes": "" if rng.random() < 0.5 else "note \"%d\" é" % i,
    }
    out.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")))
    out.write("\n")
