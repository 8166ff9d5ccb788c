# tests/e2e/lib-emulator.sh - start twin-emulator for a test (sourced after
# lib.sh, outside test bodies):
#
#   emu_start [OPTION]...   sets EMU_URL and EMU_PID; returns 1 (and prints
#                           its stderr) when no URL showed up within 60 s
#   emu_curl ARGS...        curl with the emulator's TLS certificate, if any
#   emu_node SCRIPT ARGS... node with the fidelity packages (tests/.node)
EMU_URL= EMU_PID=
emu_n=0
emu_start() {
	local i
	emu_n=$((emu_n + 1))
	test_bg twin-emulator "$@" >"$TEST_DIR/emu$emu_n.out" 2>"$TEST_DIR/emu$emu_n.err"
	EMU_PID=$!
	for i in $(seq 1 600); do	# up to 60s: a busy machine
		EMU_URL=$(head -n 1 "$TEST_DIR/emu$emu_n.out" 2>/dev/null)
		[ -n "$EMU_URL" ] && return 0
		kill -0 "$EMU_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "twin-emulator did not start:" >&2
	cat "$TEST_DIR/emu$emu_n.err" >&2
	return 1
}
emu_curl() {
	if [ -f "$TEST_DIR/cert.pem" ]; then
		curl -sS --cacert "$TEST_DIR/cert.pem" "$@"
	else
		curl -sS "$@"
	fi
}
# install Microsoft's node clients; prints why and returns 1 on failure
emu_node_install() {
	"$TP_TOP/tests/fidelity/install.sh"
}
emu_node() {
	TP_NODE_MODULES=$TP_TOP/tests/.node/node_modules node "$@"
}
# emu_date [DATE-ARG]: an RFC 7231 date (now, or `date -d` DATE-ARG)
emu_date() { LC_ALL=C TZ=GMT date ${1:+-d "$1"} '+%a, %d %b %Y %H:%M:%S GMT'; }
# emu_sign VERB TYPE LINK DATE [KEY]: print the Cosmos master-key
# Authorization header value (URL-encoded) for a request.
EMU_KEY='C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=='
emu_sign() {
	local verb=$1 type=$2 link=$3 EMU_DATE=$4 key=${5:-$EMU_KEY} hex sig
	hex=$(printf '%s' "$key" | base64 -d | od -An -v -tx1 | tr -d ' \n')
	sig=$(printf '%s\n%s\n%s\n%s\n\n' "$verb" "$type" "$link" \
		"$(printf '%s' "$EMU_DATE" | tr 'A-Z' 'a-z')" |
		openssl dgst -sha256 -mac HMAC -macopt "hexkey:$hex" -binary | base64)
	jq -rn --arg s "type=master&ver=1.0&sig=$sig" '$s|@uri'
}
# emu_assertion KEY [JQ-FILTER] [ALG]: a federated client assertion (JWT)
# signed with the RSA private key file KEY (RS256) or, with ALG HS256, the
# secret in file KEY; its claims (aud api://AzureADTokenExchange, iss
# https://oidc.twinpipe.test/, sub system:serviceaccount:ns:sa, exp in 10
# minutes) passed through JQ-FILTER (e.g. '.exp = 1').
emu_b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
emu_assertion() {
	local key=$1 f=${2:-.} alg=${3:-RS256} h p
	h=$(jq -nc --arg a "$alg" '{alg:$a,typ:"JWT"}' | emu_b64url)
	p=$(jq -nc --argjson now "$(date +%s)" '{aud:"api://AzureADTokenExchange",
		iss:"https://oidc.twinpipe.test/",sub:"system:serviceaccount:ns:sa",
		iat:$now,nbf:$now,exp:($now + 600)}' | jq -c "$f" | emu_b64url)
	if [ "$alg" = HS256 ]; then
		printf '%s.%s.%s\n' "$h" "$p" "$(printf '%s.%s' "$h" "$p" |
			openssl dgst -sha256 -hmac "$(cat "$key")" -binary | emu_b64url)"
	else
		printf '%s.%s.%s\n' "$h" "$p" "$(printf '%s.%s' "$h" "$p" |
			openssl dgst -sha256 -sign "$key" -binary | emu_b64url)"
	fi
}
# emu_fed_keys: fed.key (RSA private) and fed.pub (public) in $TEST_DIR
emu_fed_keys() {
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$TEST_DIR/fed.key" 2>/dev/null &&
	openssl pkey -in "$TEST_DIR/fed.key" -pubout -out "$TEST_DIR/fed.pub"
}
