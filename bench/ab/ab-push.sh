#!/usr/bin/env bash
# bench/ab/ab-push.sh RUNS N: push-adt (upserts of N new twins) and
# push-cosmos (versioned merges of N new documents) of two builds, BEFORE=DIR
# and AFTER=DIR (their bin/), alternately, against one twin-emulator of the
# AFTER build (--no-auth); the median user+sys CPU seconds of the push
# program itself, and the ratio.
set -u
: "${BEFORE:?BEFORE=DIR of the old binaries}" "${AFTER:?AFTER=DIR of the new binaries}"
runs=${1:-5} n=${2:-20000}
emu=$AFTER/twin-emulator
work=$(mktemp -d)
$emu --no-auth >$work/url 2>$work/emu.err & pid=$!
trap 'kill $pid; wait; rm -rf $work' EXIT
for _ in $(seq 1 100); do [ -s $work/url ] && break; sleep 0.1; done
url=$(head -1 $work/url)
echo tok >$work/tok
curl -s -H "Content-Type: application/json" -d '[{"@id":"dtmi:bench:Thing;1","@type":"Interface","@context":"dtmi:dtdl:context;2","contents":[{"@type":"Property","name":"name","schema":"string"},{"@type":"Property","name":"temp","schema":"double"}]}]' "$url/models?api-version=2023-10-31" >/dev/null
export COSMOS_KEY=C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A C
for ((r = 0; r < runs; r++)); do
	for side in old new; do
		bin=$BEFORE; [ $side = new ] && bin=$AFTER
		awk -v n=$n -v p="$side$r" 'BEGIN{for(i=0;i<n;i++) printf "{\"$dtId\":\"%s-%d\",\"$metadata\":{\"$model\":\"dtmi:bench:Thing;1\"},\"name\":\"t %d\",\"temp\":%d.5}\n",p,i,i,i%40}' >$work/adt.ndjson
		/usr/bin/time -f "%U %S" -o $work/t $bin/push-adt --endpoint "$url" --token-file $work/tok --concurrency 64 --rate 0 --create-rate 0 --twin-rate 0 $work/adt.ndjson >/dev/null 2>$work/err || tail -2 $work/err
		read -r u s <$work/t; C[adt.$side]+="$(echo "$u + $s" | bc) "
		awk -v n=$n -v p="$side$r" 'BEGIN{for(i=0;i<n;i++) printf "{\"$op\":\"merge\",\"id\":\"%s-%d\",\"deviceId\":\"%s-%d\",\"$version\":1,\"temp\":%d.5}\n",p,i,p,i,i%40}' >$work/cos.ndjson
		/usr/bin/time -f "%U %S" -o $work/t $bin/push-cosmos --endpoint "$url" -d db --container c -p /deviceId --create-container --concurrency 64 $work/cos.ndjson >/dev/null 2>$work/err || tail -2 $work/err
		read -r u s <$work/t; C[cos.$side]+="$(echo "$u + $s" | bc) "
	done
done
for k in adt cos; do
	a=$(med ${C[$k.old]}) b=$(med ${C[$k.new]})
	printf '%-12s %d ops x %d runs: before cpu %.2f s, after cpu %.2f s, after/before %.3f\n' "push-$k" $n $runs $a $b $(echo "$b / $a" | bc -l)
done
