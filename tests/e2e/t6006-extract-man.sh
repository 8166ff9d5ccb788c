#!/usr/bin/env bash
# man/extract-lob.1 is clean mdoc, documents every option of --help, shows
# the usage lines as its SYNOPSIS and the state table the program creates.
. "$(dirname "$0")/../lib.sh"
page=$TP_TOP/man/extract-lob.1

if test_require mandoc "the man page is checked with mandoc -Tlint"; then
	test_expect_success 'mandoc -Tlint -W warning finds nothing' '
		mandoc -Tlint -W warning "$page" >lint 2>&1; test ! -s lint || { cat lint; false; }
	'
	test_expect_success 'every option of --help is in the page' '
		extract-lob --help | grep -o -e "--[a-z][a-z-]*" | sort -u >help &&
		mandoc -Tascii "$page" | col -b | grep -o -e "--[a-z][a-z-]*" | sort -u >man &&
		comm -23 help man >missing && test ! -s missing ||
			{ echo "not in the page:"; cat missing; false; }
	'
	test_expect_success 'the SYNOPSIS matches the usage lines' '
		extract-lob --help | head -n 2 | sed "s/^Usage: extract-lob //; s/^ *extract-lob //" >usage &&
		mandoc -Tascii "$page" | col -b | sed -n "/^SYNOPSIS/,/^DESCRIPTION/p" | tr -s " \t\n" "   " >syn &&
		while read -r u; do grep -qF -- "$u" syn || { echo "not in SYNOPSIS: $u"; cat syn; exit 1; }; done <usage
	'
	test_expect_success 'the watermark table in FILES is the one the program creates' '
		printf "{\"_meta\":{\"control\":\"watermark\",\"source\":\"n\"}}\n" |
			extract-lob --ack --state s.db --name n --watermark c >/dev/null 2>&1 &&
		for col in source value updated_at; do
			sqlite3 s.db "SELECT $col FROM extract_watermark" >/dev/null &&
			mandoc -Tascii "$page" | col -b | sed -n "/^FILES/,/^EXIT/p" | grep -q "  $col " || exit 1
		done
	'
	test_expect_success 'the snapshot control record is the form cdc-filter documents' '
		printf "a\n1\n" | extract-lob --run-id r csv:- | tail -n 1 >ctl &&
		jq -e "(._meta | keys) == [\"control\",\"records\",\"run\",\"source\"] and ._meta.control == \"snapshot-complete\"" ctl &&
		grep -q "snapshot-complete" "$TP_TOP/man/cdc-filter.1"
	'
fi
test_done
