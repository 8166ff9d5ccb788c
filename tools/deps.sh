#!/bin/sh
# Installs the Debian packages twinpipe needs to build, test, fuzz and bench.
# As root it runs apt-get; otherwise it prints the exact command.
set -eu
PKGS="build-essential pkg-config clang libclang-rt-14-dev
libjq-dev libonig-dev jq libcurl4-openssl-dev libzstd-dev zstd libssl-dev
libsqlite3-dev sqlite3 libmicrohttpd-dev librdkafka-dev kafkacat
unixodbc-dev unixodbc libsqliteodbc odbc-postgresql postgresql libcsv-dev
mandoc valgrind hyperfine bc wrk python3 python3-azure-cosmos
openssl curl ca-certificates procps bsdextrautils util-linux bsdutils
libqpid-proton11-dev python3-qpid-proton python3-prometheus-client libxml2-dev
stress-ng"
# Node.js: this image's nodejs (which carries npm) is used when present;
# Debian's npm package conflicts with it.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	PKGS="$PKGS nodejs npm"
fi
PKGS=$(echo $PKGS)
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "deps: all Debian packages are installed"
	exit 0
fi
cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing:$missing"
	echo "deps: run as root: apt-get update && $cmd"
	exit 1
fi
echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
