/* Helpers for tests that read files from tests/unit/fixtures/. */
#ifndef VIGIL_TEST_FIXTURES_H
#define VIGIL_TEST_FIXTURES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Folder of this header, from __FILE__ ("tests/unit/fixtures.h"). */
static inline const char *fixture_dir(void)
{
	static char dir[512];

	if (!dir[0]) {
		const char *slash = strrchr(__FILE__, '/');
		size_t n = slash ? (size_t)(slash - __FILE__) : 0;

		snprintf(dir, sizeof(dir), "%.*s%sfixtures", (int)n, __FILE__, n ? "/" : "");
	}
	return dir;
}

/* Whole fixture file into a malloc'd NUL-terminated buffer, or NULL. */
static inline char *fixture_load(const char *name, size_t *len)
{
	char path[768];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", fixture_dir(), name);
	f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf) {
		buf[n] = '\0';
		*len = (size_t)n;
	}
	return buf;
}

#endif
