#!/usr/bin/env bash
# man/push-adt.1 is clean mdoc and documents every option of --help.
. "$(dirname "$0")/../lib.sh"
page=$TP_TOP/man/push-adt.1

if test_require mandoc "the man page is checked with mandoc -Tlint"; then
	test_expect_success 'mandoc -Tlint finds nothing' '
		mandoc -Tlint "$page" >lint 2>&1; test ! -s lint || { cat lint; false; }
	'
	test_expect_success 'every option of --help is in the page' '
		push-adt --help | grep -o -e "--[a-z][a-z0-9-]*" | sort -u >help &&
		mandoc -Tascii "$page" | col -b | grep -o -e "--[a-z][a-z0-9-]*" | sort -u >man &&
		comm -23 help man >missing && test ! -s missing ||
			{ echo "not in the page:"; cat missing; false; }
	'
	test_expect_success 'the SYNOPSIS matches the usage line' '
		push-adt --help | head -n 1 >usage &&
		test_grep "^Usage: push-adt \[OPTION\]\.\.\. --endpoint URL \[FILE\]$" usage &&
		mandoc -Tascii "$page" | col -b | grep -A2 "^SYNOPSIS" | tr -s " \t\n" "   " >syn &&
		test_grep "push-adt \[OPTION \.\.\.\] --endpoint URL \[FILE\]" syn
	'
	test_expect_success 'every environment variable of --help is in the page' '
		push-adt --help | grep -o "env [A-Z_]*" | cut -d" " -f2 | sort -u >envs &&
		mandoc -Tascii "$page" | col -b >page.txt &&
		while read -r v; do grep -q "$v" page.txt || { echo "missing $v"; exit 1; }; done <envs
	'
fi
test_done
