#!/usr/bin/env bash
# bench/extract-lob/files.sh: the reference design's layout, one JSON file
# per twin, N files (default 100k), read as one source by extract-lob from
# a directory and from an Azurite container, against
# `find DIR -type f | xargs cat` of the same files (the least any reader
# must do). Records/s, medians of 3 runs (wall time, /usr/bin/time).
#   bench/extract-lob/files.sh [N] [dir|blob|all]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
n=${1:-100000}
what=${2:-all}
w=$top/bench/.work/extract-files
bin=$top/bin/extract-lob
[ -x "$bin" ] || { echo "build first: make" >&2; exit 1; }
mkdir -p "$w"
dir=$w/plants-$n
if [ ! -f "$dir/.done" ]; then
	rm -rf "$dir" && mkdir -p "$dir"
	python3 - "$dir" "$n" <<'PY'
import json, random, sys
d, n = sys.argv[1], int(sys.argv[2])
r = random.Random(42)
divs = ["electgen", "water", "gas & oil", "wind", "solar", "Tromsø grid"]
for i in range(n):
    rec = {"OrgID": f"org{i:06d}", "Name": f"Plant {i}", "Division": r.choice(divs),
           "Location": f"{r.uniform(-90, 90):.5f},{r.uniform(-180, 180):.5f}",
           "Headcount": str(r.randint(1, 5000)), "Certified": r.choice(["True", "False"])}
    with open(f"{d}/org{i:06d}", "w") as f:
        f.write(json.dumps(rec, ensure_ascii=False) + "\n")
PY
	touch "$dir/.done"
fi

med() { sort -n | sed -n 2p; }	# median of 3
timeit() {	# timeit CMD...: wall seconds of 3 runs, median
	local i
	for i in 1 2 3; do
		/usr/bin/time -f %e -o "$w/t" "$@" >/dev/null 2>"$w/err" || { cat "$w/err" >&2; return 1; }
		cat "$w/t"
	done | med
}
row() { printf '| %s | %s s | %.0f |\n' "$1" "$2" "$(echo "$n / $2" | bc -l)"; }

echo "| command | wall (median of 3) | records/s |"
echo "|---|---:|---:|"
if [ "$what" != blob ]; then
	t=$(timeit sh -c "find '$dir' -type f -name 'org*' -print0 | xargs -0 cat")
	row "\`find DIR -type f \\| xargs cat\`" "$t"
	t=$(timeit "$bin" --stats none "json:$dir")
	row "\`extract-lob json:DIR\`" "$t"
	t=$(timeit sh -c "'$bin' --stats none 'json:$dir' | '$top/bin/transform' --stats none -m '$top/tests/fixtures/refdesign/plants-mapping.json'")
	row "\`extract-lob json:DIR \\| transform -m plants-mapping.json\`" "$t"
fi
if [ "$what" != dir ]; then
	# Azurite in memory (its disk store slows down as it grows), started
	# here as tests/e2e/lib-azurite.sh does
	TEST_DIR=$w TP_TOP=$top
	_bg_pids=()
	test_bg() { "$@" & _bg_pids+=($!); }
	. "$top/tests/e2e/lib-azurite.sh"
	az_install >&2
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	"$AZ_BIN" --blobHost 127.0.0.1 --blobPort "$port" --inMemoryPersistence \
		--disableTelemetry --silent >"$w/azurite.log" 2>&1 &
	azpid=$!
	trap 'kill $azpid 2>/dev/null || true' EXIT
	AZ_URL=http://127.0.0.1:$port/$AZ_ACCOUNT
	until curl -s -o /dev/null "http://127.0.0.1:$port/"; do
		kill -0 $azpid || { cat "$w/azurite.log" >&2; exit 1; }
		sleep 0.2
	done
	export AZ_KEY
	python3 "$top/tests/e2e/az-put.py" "$AZ_URL" inputfiles
	# upload: name, path pairs, 8 uploaders (not timed)
	(cd "$dir" && ls | grep '^org' | awk -v d="$dir" '{ print $0; print d "/" $0 }' |
		tr '\n' '\0' | xargs -0 -n 2000 -P 4 python3 "$top/tests/e2e/az-put.py" "$AZ_URL" inputfiles)
	t=$(AZURE_STORAGE_KEY=$AZ_KEY timeit "$bin" --stats none "blob:$AZ_URL/inputfiles")
	row "\`extract-lob blob:AZURITE/inputfiles\` (Azurite on the same 2 cores)" "$t"
	c=$(AZURE_STORAGE_KEY=$AZ_KEY "$bin" --stats none "blob:$AZ_URL/inputfiles" | grep -c OrgID)
	echo "(records read from Azurite: $c of $n)"
fi
