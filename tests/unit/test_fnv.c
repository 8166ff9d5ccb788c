/* fnv.h: FNV-1a 32 and 64 against the published test vectors. */
#include <stdint.h>
#include <string.h>

#include "fnv.h"
#include "tap.h"

int
main(void)
{
	ok(fnv1a32("", 0) == UINT32_C(0x811c9dc5), "fnv1a32 of nothing");
	ok(fnv1a32("a", 1) == UINT32_C(0xe40c292c), "fnv1a32 a");
	ok(fnv1a32("foobar", 6) == UINT32_C(0xbf9cf968), "fnv1a32 foobar");
	ok(fnv1a32("dev-a", 5) == UINT32_C(0xc81c1086), "fnv1a32 dev-a");
	ok(fnv1a32("\xff\x80", 2) == UINT32_C(0xee1eea4a),
	    "fnv1a32 bytes over 127 are unsigned");
	ok(fnv1a64("", 0) == UINT64_C(0xcbf29ce484222325), "fnv1a64 of nothing");
	ok(fnv1a64("a", 1) == UINT64_C(0xaf63dc4c8601ec8c), "fnv1a64 a");
	ok(fnv1a64("foobar", 6) == UINT64_C(0x85944171f73967e8),
	    "fnv1a64 foobar");
	return tap_done();
}
