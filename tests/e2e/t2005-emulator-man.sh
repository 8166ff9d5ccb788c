#!/usr/bin/env bash
# man/twin-emulator.1 is clean mdoc and documents every option of --help.
. "$(dirname "$0")/../lib.sh"
page=$TP_TOP/man/twin-emulator.1

if test_require mandoc "the man page is checked with mandoc -Tlint"; then
	test_expect_success 'mandoc -Tlint finds nothing' '
		mandoc -Tlint "$page" >lint 2>&1; test ! -s lint || { cat lint; false; }
	'
	test_expect_success 'every option of --help is in the page, and back' '
		twin-emulator --help | grep -o -e "--[a-z][a-z-]*" | sort -u >help &&
		mandoc -Tascii "$page" | col -b | grep -o -e "--[a-z][a-z-]*" | sort -u >man &&
		comm -23 help man >missing && test ! -s missing ||
			{ echo "not in the page:"; cat missing; false; }
	'
	test_expect_success 'the SYNOPSIS matches the usage line' '
		twin-emulator --help | head -n 1 >usage &&
		test_grep "\[--port N\] \[--host ADDR\] \[--db FILE\] \[--tls \[--cert FILE --key FILE\]\] \[--pid-file FILE\]" usage &&
		mandoc -Tascii "$page" | col -b | grep -A3 "^SYNOPSIS" | tr -s " \t\n" "   " >syn &&
		test_grep "twin-emulator \[--port N\] \[--host ADDR\] \[--db FILE\] \[--tls \[--cert FILE --key FILE\]\] \[--pid-file FILE\]" syn
	'
fi
test_done
