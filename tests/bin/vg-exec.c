/*
 * vg-exec: one exec with many or long arguments, for the exec record's
 * truncation limits.
 *
 *   vg-exec [-n COUNT] [-l LEN] [PROGRAM]
 *   vg-exec -r SECS PROGRAM [ARG...]
 *
 * Execs PROGRAM (default: this binary, which then just exits 0) with COUNT
 * arguments (default 4) of LEN bytes each (default 8): argument i is the
 * letter 'a' + i % 26 repeated.  Bounded: COUNT <= 4096, LEN <= 65536.
 * With -r, runs SECS seconds (at most 300) and then replaces itself with
 * PROGRAM and its own arguments: a service that turns into something else.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const char *prog = "/proc/self/exe";
	long count = 4, len = 8, i, run = -1;
	char **av;
	int o;

	if (argc > 1 && !strcmp(argv[1], "--exit"))
		return 0;
	while ((o = getopt(argc, argv, "+n:l:r:")) != -1) {
		if (o == 'n')
			count = strtol(optarg, NULL, 10);
		else if (o == 'l')
			len = strtol(optarg, NULL, 10);
		else if (o == 'r')
			run = strtol(optarg, NULL, 10);
		else
			return 2;
	}
	if (run >= 0) {
		if (run > 300 || optind >= argc)
			return 2;
		sleep((unsigned)run);
		execv(argv[optind], argv + optind);
		perror("execv");
		return 1;
	}
	if (optind < argc)
		prog = argv[optind];
	if (count < 0 || count > 4096 || len < 1 || len > 65536)
		return 2;
	av = calloc(count + 3, sizeof(*av));
	if (!av)
		return 1;
	av[0] = (char *)prog;
	av[1] = "--exit";
	for (i = 0; i < count; i++) {
		av[i + 2] = malloc(len + 1);
		if (!av[i + 2])
			return 1;
		memset(av[i + 2], 'a' + i % 26, len);
		av[i + 2][len] = '\0';
	}
	execv(prog, av);
	perror("execv");
	return 1;
}
