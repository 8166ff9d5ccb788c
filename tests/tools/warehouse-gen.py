#!/usr/bin/env python3
"""Seeded warehouse LOB data for the crash-safety test, and the twin graph
it should produce, computed independently of twinpipe's programs.

warehouse-gen.py csv SEED ROUND  > assets.csv   the LOB export of ROUND
    (each round changes some values, retires some forklifts, adds some)
warehouse-gen.py expect CSVFILE  > graph.json   the twin graph the CSV means:
    {"twins": {id: {props...}}, "rels": [[source, id, target, name], ...]}
    (the mapping of pipelines/samples/warehouse/warehouse.jq, in Python)
"""
import csv
import json
import random
import sys

FIELDS = ["kind", "id", "name", "parent", "city", "zone_kind", "capacity",
          "battery", "status", "order"]


def rows(seed, rnd):
    r = random.Random(seed)
    out = []
    for s in range(3):
        out.append(dict(kind="site", id="site-%d" % s, name="Site %d" % s,
                        city=r.choice(["Seattle", "Redmond", "Tacoma"])))
        for z in range(4):
            out.append(dict(kind="zone", id="zone-%d-%d" % (s, z),
                            name="Zone %d" % z, parent="site-%d" % s,
                            zone_kind=r.choice(["storage", "loading"]),
                            capacity=str(r.randint(10, 2000))))
    zones = [x["id"] for x in out if x["kind"] == "zone"]
    for f in range(150):
        out.append(dict(kind="forklift", id="fl-%03d" % f,
                        name="Forklift %d" % f, parent=r.choice(zones),
                        battery=str(r.randint(5, 100)),
                        status=r.choice(["idle", "carrying", "charging"]),
                        order=""))
    # later rounds: the business moves on
    for k in range(1, rnd + 1):
        rr = random.Random(seed * 1000 + k)
        fl = [x for x in out if x["kind"] == "forklift"]
        for x in rr.sample(fl, 12):
            x["battery"] = str(rr.randint(5, 100))
            x["status"] = rr.choice(["idle", "carrying", "charging"])
            x["order"] = rr.choice(["", "SO-%d" % rr.randint(1000, 9999)])
        for x in rr.sample(fl, 2):
            x["parent"] = rr.choice(zones)       # moved: new relationship
        for x in rr.sample(fl, 2):
            out.remove(x)                        # retired
        for j in range(2):
            out.append(dict(kind="forklift", id="fl-n%d-%d" % (k, j),
                            name="New %d/%d" % (k, j), parent=rr.choice(zones),
                            battery="100", status="idle", order=""))
    return out


def expect(path):
    twins, rels = {}, []
    with open(path, newline="") as f:
        for x in csv.DictReader(f):
            k = x["kind"]
            if k == "site":
                twins[x["id"]] = {"name": x["name"], "city": x["city"]}
            elif k == "zone":
                twins[x["id"]] = {"name": x["name"], "kind": x["zone_kind"],
                                  "capacity": int(x["capacity"])}
                rels.append([x["parent"], "%s-contains-%s" % (x["parent"], x["id"]),
                             x["id"], "contains"])
            else:
                t = {"name": x["name"], "battery": float(x["battery"]),
                     "status": x["status"]}
                if x["order"]:
                    t["order"] = x["order"]
                twins[x["id"]] = t
                rels.append([x["parent"], "%s-hosts-%s" % (x["parent"], x["id"]),
                             x["id"], "hosts"])
    return {"twins": twins, "rels": sorted(rels)}


def main():
    if sys.argv[1] == "csv":
        w = csv.DictWriter(sys.stdout, fieldnames=FIELDS, lineterminator="\n")
        w.writeheader()
        for x in rows(int(sys.argv[2]), int(sys.argv[3])):
            w.writerow({k: x.get(k, "") for k in FIELDS})
    else:
        print(json.dumps(expect(sys.argv[2]), sort_keys=True))


main()
