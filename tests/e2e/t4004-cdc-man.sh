#!/usr/bin/env bash
# man/cdc-filter.1 is clean mdoc and documents every option of --help.
. "$(dirname "$0")/../lib.sh"
page=$TP_TOP/man/cdc-filter.1

if test_require mandoc "the man page is checked with mandoc -Tlint"; then
	test_expect_success 'mandoc -Tlint finds nothing' '
		mandoc -Tlint "$page" >lint 2>&1; test ! -s lint || { cat lint; false; }
	'
	test_expect_success 'every option of --help is in the page, and back' '
		cdc-filter --help | grep -o -e "--[a-z][a-z-]*" | sort -u >help &&
		mandoc -Tascii "$page" | col -b | grep -o -e "--[a-z][a-z-]*" | sort -u >man &&
		comm -23 help man >missing && test ! -s missing ||
			{ echo "not in the page:"; cat missing; false; }
	'
	test_expect_success 'the SYNOPSIS matches the usage lines' '
		cdc-filter --help | head -n 2 | sed "s/^Usage: //; s/^ *//" >usage &&
		mandoc -Tascii "$page" | col -b | sed -n "/^SYNOPSIS/,/^DESCRIPTION/p" | tr -s " \t\n" "   " >syn &&
		while read -r u; do grep -qF -- "$u" syn || { echo "not in SYNOPSIS: $u"; cat syn; exit 1; }; done <usage
	'
	test_expect_success 'the state schema in FILES is the one the program creates' '
		cdc-filter --state s.db </dev/null 2>/dev/null &&
		for col in key hash ident doc updated_at; do
			sqlite3 s.db "SELECT $col FROM cdc_state" >/dev/null &&
			mandoc -Tascii "$page" | col -b | sed -n "/^FILES/,/^EXIT/p" | grep -q "  $col " || exit 1
		done
	'
fi
test_done
