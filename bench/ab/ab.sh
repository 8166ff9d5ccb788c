#!/usr/bin/env bash
# bench/ab/ab.sh NAME RUNS CMD_WITH_@BIN@: the same command with two builds,
# BEFORE=DIR and AFTER=DIR (their bin/ directories), run alternately; prints
# the median user+sys CPU seconds and wall of each and the ratio. E.g.
#   git worktree add /tmp/old REV && make -C /tmp/old
#   BEFORE=/tmp/old/bin AFTER=$PWD/bin bench/ab/ab.sh transform 5 \
#       "@BIN@/transform -f pipelines/examples/lob-to-twin.jq lob.ndjson"
: "${BEFORE:?BEFORE=DIR of the old binaries}" "${AFTER:?AFTER=DIR of the new binaries}"
name=$1 runs=$2; shift 2
declare -a ca cb wa wb
for ((i = 0; i < runs; i++)); do
	for side in a b; do
		bin=$BEFORE; [ $side = b ] && bin=$AFTER
		cmd=${*//@BIN@/$bin}
		/usr/bin/time -f "%e %U %S" -o t.$side bash -c "$cmd" >/dev/null 2>&1
		read -r w u s <t.$side
		c=$(echo "$u + $s" | bc)
		if [ $side = a ]; then ca+=("$c"); wa+=("$w"); else cb+=("$c"); wb+=("$w"); fi
	done
done
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ma=$(med "${ca[@]}") mb=$(med "${cb[@]}")
printf '%-28s before cpu %6.2f s wall %6.2f s | after cpu %6.2f s wall %6.2f s | after/before cpu %.3f\n' \
	"$name" "$ma" "$(med "${wa[@]}")" "$mb" "$(med "${wb[@]}")" "$(echo "$mb / $ma" | bc -l)"
