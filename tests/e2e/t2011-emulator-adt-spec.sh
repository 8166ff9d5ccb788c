#!/usr/bin/env bash
# twin-emulator against the examples of Microsoft's ADT data-plane
# specification (Azure/azure-rest-api-specs, digitaltwins/data-plane/
# Microsoft.DigitalTwins/stable/2023-10-31): one fixture per example the
# emulator serves, and per status code the specification lists that it
# departed from, in tests/fixtures/adt-spec/ (format: tests/e2e/
# lib-adt-spec.py), each replayed against a fresh state and compared.
. "$(dirname "$0")/../lib.sh"
. "$TP_TOP/tests/e2e/lib-emulator.sh"

test_require python3 "the fixture driver" || { test_done; exit 1; }
emu_start --no-auth
fx_dir=$FIXTURES/adt-spec
mkdir res
python3 "$TP_TOP/tests/e2e/lib-adt-spec.py" "$EMU_URL" res "$fx_dir"/*.json || :
n=0
for f in "$fx_dir"/*.json; do
	n=$((n + 1))
	name=$(basename "$f" .json)
	test_expect_success "$name" '
		if test -f "res/'"$name"'.fail"; then cat "res/'"$name"'.fail" >&2; fi &&
		test -f "res/'"$name"'.ok"
	'
done
test_expect_success 'every example of the operations served has a fixture' '
	test "$n" -ge 36 &&
	for e in ModelAdd ModelGetById ModelGetByIdWithIncludeModelDefinition \
	    ModelsGet ModelsGetWithDependenciesAndIncludeModelDefinition \
	    ModelUpdateDecommissioned DeleteModel PutTwinBasicExample \
	    PutTwinAdvancedExample GetTwin PatchTwinBasicExample \
	    PatchTwinAdvancedExample DeleteTwin GetComponent \
	    PatchComponentBasicExample PatchComponentAdvancedExample \
	    SendTelemetry SendTelemetryFromComponent \
	    CreateRelationshipBasicExample CreateRelationshipAdvancedExample \
	    GetRelationshipById GetRelationship GetRelationshipByRelationshipName \
	    GetIncomingRelationship PatchRelationshipBasicExample \
	    PatchRelationshipAdvancedExample DeleteRelationship QueryFirstPage \
	    QueryNextPage QueryJoin; do
		test -f "$fx_dir/$e.json" || { echo "no fixture for $e" >&2; exit 1; }
	done
'
test_done
