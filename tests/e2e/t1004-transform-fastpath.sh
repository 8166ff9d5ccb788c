#!/usr/bin/env bash
# transform's fast path against libjq (--no-fast-path) and the jq 1.6 CLI,
# over seeded random programs of its subset and random records.
. "$(dirname "$0")/../lib.sh"
test_require jq "the reference" || { test_done; exit 1; }
test_require python3 "the seeded generator" || { test_done; exit 1; }
gen=$TP_TOP/tests/tools/gen-subset.py
# libjq 1.6 leaks the error value inside ltrimstr/rtrimstr on non-strings:
# under the sanitizer build that would turn the libjq run's exit code into
# LeakSanitizer's. Leaks are checked by the other tests.
export ASAN_OPTIONS=detect_leaks=0

python3 "$gen" records 60 11 >rec.ndjson
python3 "$gen" programs 200 12 >progs.txt

test_expect_success 'fast path = libjq, output and exit code, for 200 programs' '
	n=0 fast=0 bad=0
	while IFS= read -r p; do
		n=$((n + 1))
		rc1=0; rc2=0
		transform -vv --stats none --arg v "V" --argjson w 2 "$p" rec.ndjson >f.out 2>f.err || rc1=$?
		transform --no-fast-path --stats none --arg v "V" --argjson w 2 "$p" rec.ndjson >s.out 2>s.err || rc2=$?
		grep -q "fast path: on" f.err && fast=$((fast + 1))
		if [ $rc1 != $rc2 ] || ! cmp -s f.out s.out; then
			bad=$((bad + 1)); echo "DIFF for program: $p (exit $rc1 vs $rc2)"
			diff f.out s.out | head -5
		fi
	done <progs.txt
	echo "programs=$n on-fast-path=$fast differing=$bad"
	test $bad = 0 && test $fast -gt 80
'

test_expect_success 'libjq path = jq 1.6 CLI where numbers are canonical' '
	jq -c "del(._meta)" rec.ndjson >rec2.ndjson
	head -80 progs.txt | while IFS= read -r p; do
		rc1=0; rc2=0
		transform --stats none --arg v "V" --argjson w 2 "$p" rec2.ndjson >t.out 2>/dev/null || rc1=$?
		jq -c --arg v "V" --argjson w 2 "$p" rec2.ndjson >j.out 2>/dev/null || rc2=$?
		# jq stops at the first error; compare what both printed before it
		if [ $rc2 = 0 ] && ! cmp -s t.out j.out; then
			# records with -0.0 / 1e21 literals print their text in transform
			if ! diff <(sed "s/-0\b/0/g" t.out) <(sed "s/-0\b/0/g" j.out) >/dev/null; then
				echo "DIFF vs jq: $p"; diff t.out j.out | head -4; exit 1
			fi
		fi
	done
'
test_done
