/*
 * vg-alloc: touch memory until the OOM killer ends the process, for the
 * OOM record.  Run it under a memory limit (docker run -m 32m ...).
 *
 *   vg-alloc [MAX_MIB]      (default 4096: exits 1 if never killed)
 *
 * Allocates and writes 1 MiB at a time, so every page is resident.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the pages escape through here, so the writes cannot be optimised away */
static char *volatile sink;

int main(int argc, char **argv)
{
	long max = argc > 1 ? strtol(argv[1], NULL, 10) : 4096, i;

	for (i = 0; i < max; i++) {
		char *p = malloc(1 << 20);

		if (!p)
			break;
		memset(p, 0x5a, 1 << 20);
		sink = p;
	}
	printf("allocated %ld MiB without being killed\n", i);
	return 1;
}
