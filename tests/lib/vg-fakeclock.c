// SPDX-License-Identifier: GPL-2.0
/*
 * An LD_PRELOAD shim for the end-to-end tests: CLOCK_REALTIME plus the
 * seconds written in the file named by $VG_FAKECLOCK (read at every call,
 * so a test can step the wall clock of one process without touching the
 * host's).  Every other clock is the real one.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int clock_gettime(clockid_t id, struct timespec *ts)
{
	static int (*real)(clockid_t, struct timespec *);
	const char *path;
	FILE *f;
	long off = 0;
	int rc;

	if (!real)
		real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
	rc = real(id, ts);
	if (rc || id != CLOCK_REALTIME || !(path = getenv("VG_FAKECLOCK")))
		return rc;
	if ((f = fopen(path, "re"))) {
		if (fscanf(f, "%ld", &off) != 1)
			off = 0;
		fclose(f);
	}
	ts->tv_sec += off;
	return rc;
}
