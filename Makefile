# twinpipe - build, test, bench, install.
#
#   make            build every program into bin/
#   make test       build and run the whole test suite
#   make SAN=1 test the same under AddressSanitizer + UBSan (build/san/)
#   make fuzz       build the libFuzzer targets (clang) and run each briefly
#   make bench      run the benchmarks in bench/ (writes bench/RESULTS.md)
#   make deps       install the Debian packages the project needs
#   make demo       run the main job on the shipped sample

VERSION := 0.1.0
CC ?= cc
PREFIX ?= /usr/local

JQ_VERSION := $(shell dpkg-query -W -f='$${Version}' libjq1 2>/dev/null || echo unknown)

WARN := -Wall -Wextra -Werror -Wstrict-prototypes -Wformat=2 -Wshadow \
	-Wno-unused-parameter -Wno-format-nonliteral
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) \
	-DTP_VERSION='"$(VERSION)"' -DTP_JQ_VERSION='"$(JQ_VERSION)"' \
	-Isrc/common -I/usr/include/libxml2 -MMD -MP
LIBS := -ljq -lonig -lcurl -lzstd -lssl -lcrypto -lsqlite3 -lmicrohttpd -lpthread -lm -lodbc -lcsv -lrdkafka -lqpid-proton -lxml2

ifeq ($(SAN),1)
B := build/san
ALL_CFLAGS += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
LDSAN := -fsanitize=address,undefined
else
B := build/rel
LDSAN :=
endif
BIN := $(if $(filter 1,$(SAN)),$(B)/bin,bin)

COMMON_SRC := $(wildcard src/common/*.c)
COMMON_OBJ := $(COMMON_SRC:%.c=$(B)/%.o)
LIBCOMMON := $(B)/libcommon.a

# program name -> its sources (a program joins PROGRAMS once its sources exist)
transform_SRC := $(wildcard src/transform/*.c)
twin-emulator_SRC := $(wildcard src/emulator/*.c)
push-adt_SRC := $(wildcard src/push/adt*.c)
push-cosmos_SRC := $(wildcard src/push/cosmos*.c)
archive_SRC := $(wildcard src/push/archive*.c)
cdc-filter_SRC := $(wildcard src/cdc/*.c)
extract-lob_SRC := $(wildcard src/ingest/extract*.c)
ingest-eventhub_SRC := $(wildcard src/ingest/eventhub*.c)

ALL_PROGRAMS := transform twin-emulator push-adt push-cosmos archive \
	cdc-filter extract-lob ingest-eventhub
PROGRAMS := $(foreach p,$(ALL_PROGRAMS),$(if $($(p)_SRC),$(p)))
PROG_BINS := $(PROGRAMS:%=$(BIN)/%)

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_REPLAY := $(FUZZ_SRC:tests/fuzz/%.c=$(B)/tests/replay_%)

.PHONY: all test test-valgrind check unit fuzz bench deps demo clean install lint man-check stress
all: $(PROG_BINS)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIBCOMMON): $(COMMON_OBJ)
	@rm -f $@
	ar rcs $@ $^

define PROGRAM_RULE
$(BIN)/$(1): $$($(1)_SRC:%.c=$(B)/%.o) $(LIBCOMMON)
	@mkdir -p $$(dir $$@)
	$$(CC) $(LDSAN) -o $$@ $$(filter %.o,$$^) $(LIBCOMMON) $(LIBS)
endef
$(foreach p,$(PROGRAMS),$(eval $(call PROGRAM_RULE,$(p))))

# unit tests may link a program's own modules (not its main file)
TEST_EXTRA_mapping := src/transform/mapping.c
TEST_EXTRA_emulator_jpatch := src/emulator/jpatch.c
TEST_EXTRA_emulator_eh := src/emulator/eh_store.c
TEST_EXTRA_adt_op := src/push/adt_op.c
TEST_EXTRA_adt_bulk := src/push/adt_bulk.c src/push/adt_op.c
TEST_EXTRA_archive_seg := src/push/archive_seg.c
TEST_EXTRA_blob := src/push/archive_blob.c src/push/archive_seg.c src/push/archive_spool.c
TEST_EXTRA_cosmos_doc := src/push/cosmos_doc.c
TEST_EXTRA_eventhub_amqp := src/ingest/eventhub_amqp.c src/ingest/eventhub_ack.c
TEST_EXTRA_eventhub_conn := src/ingest/eventhub_conn.c
TEST_EXTRA_eventhub_own := src/ingest/eventhub_own.c src/ingest/eventhub_ckpt.c src/ingest/eventhub_ckptblob.c
TEST_EXTRA_extract := src/ingest/extract_types.c src/ingest/extract_json.c src/ingest/extract_emit.c
define UNIT_RULE
$(B)/tests/$(1): tests/unit/$(1).c tests/unit/tap.h $(LIBCOMMON) $$(TEST_EXTRA_$(1:test_%=%):%.c=$(B)/%.o)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(ALL_CFLAGS) -Itests/unit -Isrc/transform $(LDSAN) -o $$@ $$< $$(filter %.o,$$^) $(LIBCOMMON) $(LIBS)
endef
$(foreach t,$(UNIT_SRC:tests/unit/%.c=%),$(eval $(call UNIT_RULE,$(t))))

# fuzz targets replayed over their corpus under gcc (or the SAN build)
$(B)/tests/replay_%: tests/fuzz/%.c tests/fuzz/replay.c $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDSAN) -o $@ $< tests/fuzz/replay.c $(LIBCOMMON) $(LIBS)

test: $(PROG_BINS) $(UNIT_BINS) $(FUZZ_REPLAY)
	@TP_BIN=$(abspath $(BIN)) TP_BUILD=$(abspath $(B)) SAN=$(SAN) \
		tests/run.sh

check: test

# the unit tests and the fuzz corpora replayed, without the e2e tests
unit: $(UNIT_BINS) $(FUZZ_REPLAY)
	@TP_BIN=$(abspath $(BIN)) TP_BUILD=$(abspath $(B)) SAN=$(SAN) \
		TESTS="$(abspath $(UNIT_BINS) $(FUZZ_REPLAY))" tests/run.sh

# the transform and common tests again with every program under valgrind
test-valgrind: $(PROG_BINS)
	@VALGRIND=1 TP_BIN=$(abspath $(BIN)) TP_BUILD=$(abspath $(B)) \
		TESTS="$(wildcard tests/e2e/t100[0-2]-*.sh)" tests/run.sh

# the suite RUNS times while a CPU hog keeps every core busy (timing flakes)
RUNS ?= 5
stress:
	@tests/stress.sh -n $(RUNS) $(if $(filter 1,$(SAN)),-s)

fuzz:
	$(MAKE) -f tests/fuzz/Makefile.fuzz

bench: all
	bench/run

deps:
	@tools/deps.sh

demo: deps all
	@pipelines/demo.sh

man-check: all
	@tests/e2e/t0100-docs.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(PROG_BINS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -d $(DESTDIR)$(PREFIX)/share/twinpipe
	install -m 755 pipelines/lob-to-adt pipelines/devicetwins-to-cosmos \
		pipelines/iothub-backfill-to-cosmos pipelines/iothub-to-cosmos.jq \
		$(DESTDIR)$(PREFIX)/share/twinpipe/

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)
