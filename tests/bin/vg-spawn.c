/*
 * vg-spawn: a container's main process that is not a shell and starts one,
 * the way an exploited service would.
 *
 *   vg-spawn [-d DELAY] [-w WAIT] PROGRAM [ARG...]
 *
 * Sleeps DELAY seconds (default 2), forks and execs PROGRAM with its
 * arguments, waits for it, then sleeps WAIT seconds (default 30) before
 * exiting with the child's status.  Bounded: DELAY and WAIT <= 600.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static unsigned seconds(const char *s)
{
	long v = strtol(s, NULL, 10);

	return v < 0 ? 0 : v > 600 ? 600 : (unsigned)v;
}

int main(int argc, char **argv)
{
	unsigned delay = 2, wait_s = 30;
	int o, st = 0;
	pid_t pid;

	while ((o = getopt(argc, argv, "+d:w:")) != -1) {
		if (o == 'd')
			delay = seconds(optarg);
		else if (o == 'w')
			wait_s = seconds(optarg);
		else
			return 2;
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: vg-spawn [-d DELAY] [-w WAIT] PROGRAM [ARG...]\n");
		return 2;
	}
	sleep(delay);
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		execv(argv[optind], argv + optind);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0)
		return 1;
	sleep(wait_s);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
