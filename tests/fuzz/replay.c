/*
 * replay.c - run a fuzz target over every file of a corpus directory
 * (zstd's regression_driver.c) and print TAP: one "ok" per file. A missing
 * or empty directory is a failure.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
read_file(const char *path, uint8_t **data, size_t *size)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p = NULL;
	size_t n = 0, cap = 0, k;

	if (f == NULL)
		return -1;
	for (;;) {
		if (cap - n < 4096) {
			cap = cap ? cap * 2 : 8192;
			if ((p = realloc(p, cap)) == NULL)
				abort();
		}
		k = fread(p + n, 1, cap - n, f);
		if (k == 0)
			break;
		n += k;
	}
	if (ferror(f)) {
		fclose(f);
		free(p);
		return -1;
	}
	fclose(f);
	*data = p;
	*size = n;
	return 0;
}

int
main(int argc, char **argv)
{
	DIR *dir;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	int t = 0, failed = 0;

	if (argc != 2) {
		printf("not ok 1 - usage: %s CORPUS_DIR\n1..1\n", argv[0]);
		return 1;
	}
	if ((dir = opendir(argv[1])) == NULL) {
		printf("not ok 1 - corpus %s: %s\n1..1\n", argv[1],
		    strerror(errno));
		return 1;
	}
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((names = realloc(names, cap * sizeof(*names))) == NULL)
				abort();
		}
		if ((names[n++] = strdup(de->d_name)) == NULL)
			abort();
	}
	closedir(dir);
	if (n == 0) {
		printf("not ok 1 - corpus %s is empty\n1..1\n", argv[1]);
		return 1;
	}
	qsort(names, n, sizeof(*names), cmp);
	for (i = 0; i < n; i++) {
		char path[4096];
		struct stat st;
		uint8_t *data;
		size_t size;

		snprintf(path, sizeof(path), "%s/%s", argv[1], names[i]);
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
			free(names[i]);
			continue;
		}
		if (read_file(path, &data, &size) != 0) {
			printf("not ok %d - %s: cannot read\n", ++t, names[i]);
			failed++;
		} else {
			/* a crash or abort() ends the run with no "ok" */
			LLVMFuzzerTestOneInput(data, size);
			printf("ok %d - %s (%zu bytes)\n", ++t, names[i], size);
			free(data);
		}
		fflush(stdout);
		free(names[i]);
	}
	free(names);
	if (t == 0) {
		printf("not ok 1 - corpus %s has no regular file\n", argv[1]);
		t = failed = 1;
	}
	printf("1..%d\n", t);
	return failed ? 1 : 0;
}
