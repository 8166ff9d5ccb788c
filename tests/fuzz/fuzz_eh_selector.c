/*
 * fuzz_eh_selector.c - twin-emulator's Event Hubs selector filter parser
 * (src/emulator/eh_selector.c, compiled in here). Any input: no crash, a
 * failure says why, a success is one of the three kinds.
 */
#include <stdint.h>
#include <stdlib.h>

#include "../../src/emulator/eh_selector.c"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct eh_selector sel;
	char msg[200];

	msg[0] = '\0';
	if (eh_selector_parse((const char *)data, size, &sel, msg,
	    sizeof(msg)) != 0) {
		if (msg[0] == '\0')
			abort();
	} else if (sel.kind < 0 || sel.kind > 2 || sel.inclusive > 1)
		abort();
	return 0;
}
