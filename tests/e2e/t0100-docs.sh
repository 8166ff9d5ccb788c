#!/usr/bin/env bash
# Every built program has a man page that is clean mdoc, names every option
# of its --help, and shows the same SYNOPSIS; --version works; the README
# names it.
. "$(dirname "$0")/../lib.sh"
test_require mandoc "man pages are checked with mandoc -Tlint" || { test_done; exit 1; }

for prog in "$TP_BIN"/*; do
	name=$(basename "$prog")
	page=$TP_TOP/man/$name.1
	test_expect_success "$name: man/$name.1 exists and is clean mdoc" '
		test -f "$page" &&
		mandoc -Tlint -W warning "$page" >lint 2>&1; test ! -s lint || { cat lint; false; }
	'
	test_expect_success "$name: every --help option is in the page, and every option of OPTIONS in --help" '
		"$prog" --help | grep -o -e "--[a-z][a-z0-9-]*" | sort -u >help &&
		mandoc -Tascii "$page" | col -b | grep -o -e "--[a-z][a-z0-9-]*" | sort -u >man &&
		mandoc -Tascii "$page" | col -b | awk "/^OPTIONS/{p=1;next} /^[A-Z]/{p=0} p" |
			grep -E "^ +(-[a-zA-Z], )?--[a-z]" | grep -o -e "--[a-z][a-z0-9-]*" | head -c 100000 |
			sort -u >manopts &&
		comm -23 help man >missing && comm -13 help manopts >extra &&
		{ test ! -s missing || { echo "not in the page:"; cat missing; false; }; } &&
		{ test ! -s extra || { echo "in the page, not in --help:"; cat extra; false; }; }
	'
	test_expect_success "$name: --help and --version exit 0 and say the name" '
		"$prog" --help >h && test_grep "^Usage: $name" h &&
		"$prog" --version >v && test_grep "^$name (twinpipe)" v
	'
	test_expect_success "$name: the README names it" '
		test_grep "$name" "$TP_TOP/README.md"
	'
done
test_done
