/*
 * eh_selector.h - the Event Hubs start-position filter of a receiver
 * link: "amqp.annotation.x-opt-offset > '123'" and its sequence-number
 * and enqueued-time forms (PROTOCOLS.md "Event Hubs over AMQP 1.0").
 */
#ifndef TP_EMU_EH_SELECTOR_H
#define TP_EMU_EH_SELECTOR_H

#include <stddef.h>
#include <stdint.h>

struct eh_selector {
	int kind;		/* 0 offset, 1 sequence number, 2 enqueued time */
	int inclusive;		/* >= */
	int latest;		/* '@latest' */
	int64_t value;		/* '-1' for the start of the partition */
};

/*
 * Parse s (len bytes, not NUL-terminated). Accepts the three annotation
 * names, '>' or '>=' (and '=' as inclusive), a quoted or bare decimal,
 * '@latest' for offsets; blanks anywhere between. Returns 0, or -1 with
 * msg filled. Can't crash on any input.
 */
int eh_selector_parse(const char *s, size_t len, struct eh_selector *out,
    char *msg, size_t msgsz);

#endif
