/*
 * fnv.h - FNV-1a, 64 and 32 bits: the one cheap string hash for in-memory
 * tables and shard numbers (not for anything an attacker chooses to
 * collide). Both are fixed by the algorithm, the same on every platform and
 * run: numbers derived from them (twin-emulator's Event Hubs partition of a
 * partition key) must not change.
 *
 *	slot = fnv1a64(id, strlen(id)) & (nslot - 1);
 */
#ifndef TP_FNV_H
#define TP_FNV_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t
fnv1a64(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = UINT64_C(14695981039346656037);

	while (n-- > 0)
		h = (h ^ *s++) * UINT64_C(1099511628211);
	return h;
}

static inline uint32_t
fnv1a32(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint32_t h = UINT32_C(2166136261);

	while (n-- > 0)
		h = (h ^ *s++) * UINT32_C(16777619);
	return h;
}

#endif
