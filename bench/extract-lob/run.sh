#!/usr/bin/env bash
# bench/extract-lob: CSV -> NDJSON for N rows (default 1M), extract-lob vs
# python3's csv + json modules, in the same run; peak RSS at N/10 and N
# shows whether memory stays flat. Medians of 3 runs.
#   bench/extract-lob/run.sh [ROWS]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
n=${1:-1000000}
w=$top/bench/.work/extract-lob
mkdir -p "$w"
bin=$top/bin/extract-lob
[ -x "$bin" ] || { echo "build first: make" >&2; exit 1; }

gen() {	# seeded LOB rows as a CSV export (quotes, commas, UTF-8, empties)
	python3 "$top/bench/gen-lob.py" "$1" 42 | python3 -c '
import csv, json, sys
rows = (json.loads(l) for l in sys.stdin)
first = next(rows)
w = csv.DictWriter(sys.stdout, fieldnames=list(first), lineterminator="\r\n")
w.writeheader(); w.writerow(first)
for r in rows: w.writerow(r)'
}
[ -s "$w/rows-$n.csv" ] || gen "$n" >"$w/rows-$n.csv"
small=$((n / 10))
[ -s "$w/rows-$small.csv" ] || gen "$small" >"$w/rows-$small.csv"

py='import csv, json, sys
w = sys.stdout.write
for row in csv.DictReader(sys.stdin):
    w(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")'

# run NAME CMD...: 3 runs, prints the median seconds and its peak RSS (KiB)
run() {
	local name=$1; shift
	for i in 1 2 3; do
		/usr/bin/time -f "%e %M" -o "$w/t.$i" "$@" >/dev/null 2>"$w/err"
	done
	sort -n "$w/t.1" "$w/t.2" "$w/t.3" | sed -n 2p | {
		read -r s rss; printf '%-34s %8.2f s %10d KiB\n' "$name" "$s" "$rss"
		echo "$s" >"$w/$name.s"; }
}

echo "rows: $n ($(du -h "$w/rows-$n.csv" | cut -f1)), $(nproc) CPUs"
run extract-lob "$bin" --stats none csv:"$w/rows-$n.csv"
run extract-lob-typed "$bin" --stats none -t Capacity=int,Active=bool,Opened=datetime,Lat=number,Lon=number csv:"$w/rows-$n.csv"
run python3-csv-json sh -c "python3 -c '$py' <'$w/rows-$n.csv'"
run "extract-lob ($small rows)" "$bin" --stats none csv:"$w/rows-$small.csv"
# the outputs agree (python has no _meta and no control line)
"$bin" --stats none --no-snapshot csv:"$w/rows-$small.csv" | sed 's/,"_meta":{"src":{[^}]*}}}$/}/' >"$w/ours"
python3 -c "$py" <"$w/rows-$small.csv" >"$w/theirs"
if cmp -s "$w/ours" "$w/theirs"; then echo "outputs identical ($small rows)"; else echo "OUTPUTS DIFFER"; exit 1; fi
awk -v a="$(cat "$w/python3-csv-json.s")" -v b="$(cat "$w/extract-lob.s")" \
	'BEGIN { printf "speed-up vs python3: %.1fx\n", a / b }'
