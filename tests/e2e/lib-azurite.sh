# tests/e2e/lib-azurite.sh - Azurite (Microsoft's Blob Storage emulator)
# for the archive tests; sourced after lib.sh, outside test bodies.
#
#   az_install          install npm azurite 3.x into tests/.node/azurite once;
#                       prints why and returns 1 when node/npm/the install fail
#   az_start [ARG]...   start azurite-blob (with ARGs) on a free loopback port; sets
#                       AZ_PORT, AZ_URL (http://127.0.0.1:PORT/devstoreaccount1)
#                       and AZ_CS (a connection string with the account key)
#   az_begin [ARG]...   the two first tests of a file that needs Azurite: it is
#                       installed (az_install), it starts (az_start ARG...);
#                       returns 1 when either failed (the caller ends the file)
#   az_sas CONTAINER PERM [SECONDS]
#                       print a service SAS for the container, signed here
#                       with openssl (independently of the code under test)
AZ_ACCOUNT=devstoreaccount1
AZ_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
AZ_DIR=$TP_TOP/tests/.node/azurite
AZ_BIN=$AZ_DIR/node_modules/.bin/azurite-blob
az_install() {
	[ -x "$AZ_BIN" ] && return 0
	command -v node >/dev/null 2>&1 || { echo "node is missing (apt-get install nodejs)" >&2; return 1; }
	command -v npm >/dev/null 2>&1 || { echo "npm is missing (apt-get install npm)" >&2; return 1; }
	mkdir -p "$AZ_DIR"
	(
		flock 9
		[ -x "$AZ_BIN" ] ||
		npm install --prefix "$AZ_DIR" --no-audit --no-fund --loglevel=error 'azurite@3' >&2
	) 9>"$AZ_DIR/.lock"
	[ -x "$AZ_BIN" ] || { echo "npm install azurite failed" >&2; return 1; }
}
az_start() {
	local i
	AZ_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	mkdir -p "$TEST_DIR/azurite"
	test_bg "$AZ_BIN" --blobHost 127.0.0.1 --blobPort "$AZ_PORT" \
		--location "$TEST_DIR/azurite" --disableTelemetry --silent "$@" \
		>"$TEST_DIR/azurite.log" 2>&1
	AZ_URL=http://127.0.0.1:$AZ_PORT/$AZ_ACCOUNT
	AZ_CS="DefaultEndpointsProtocol=http;AccountName=$AZ_ACCOUNT;AccountKey=$AZ_KEY;BlobEndpoint=$AZ_URL;"
	for i in $(seq 1 600); do	# up to 60s: node starts slowly on a busy machine
		kill -0 "${_bg_pids[-1]}" 2>/dev/null || break
		curl -s -o /dev/null "http://127.0.0.1:$AZ_PORT/" && return 0
		sleep 0.1
	done
	echo "azurite did not start:" >&2
	cat "$TEST_DIR/azurite.log" >&2
	return 1
}
az_sas() {
	local c=$1 sp=$2 st se sv=2021-08-06 hex sig
	st=$(date -u -d '-5 min' +%Y-%m-%dT%H:%M:%SZ)
	se=$(date -u -d "+${3:-3600} sec" +%Y-%m-%dT%H:%M:%SZ)
	hex=$(printf '%s' "$AZ_KEY" | base64 -d | od -An -v -tx1 | tr -d ' \n')
	sig=$(printf '%s\n%s\n%s\n/blob/%s/%s\n\n\n\n%s\nc\n\n\n\n\n\n\n' \
		"$sp" "$st" "$se" "$AZ_ACCOUNT" "$c" "$sv" |
		openssl dgst -sha256 -mac HMAC -macopt "hexkey:$hex" -binary | base64)
	printf 'sv=%s&sr=c&sp=%s&st=%s&se=%s&sig=%s\n' "$sv" "$sp" \
		"$(jq -rn --arg s "$st" '$s|@uri')" "$(jq -rn --arg s "$se" '$s|@uri')" \
		"$(jq -rn --arg s "$sig" '$s|@uri')"
}
az_begin() {
	local ok=0
	test_expect_success 'azurite (npm azurite 3.x) is installed' 'az_install'
	az_start "$@" 2>azstart.err && ok=1
	test_expect_success 'azurite starts' "test $ok = 1 || { cat azstart.err; false; }"
	[ $ok = 1 ]
}
