/*
 * vg-threads: processes whose threads leave together, for end-to-end tests
 * of the exit record (one per process, when its last thread leaves).
 *
 *   vg-threads [-n PROCS] [-t THREADS]
 *     PROCS children (default 200, at most 10000), one after the other,
 *     each with THREADS threads (default 8, at most 64, the main one
 *     included) released together by a spin barrier, every one of them
 *     leaving through exit(2) (the thread's, not the group's)
 *   vg-threads --leader-first
 *     one child whose main thread leaves first; its other thread leaves
 *     0.5 s later
 *
 * Prints "children: N" and exits 0 once every child has been waited for.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int go;

static void *leave_together(void *arg)
{
	(void)arg;
	while (!go)
		__asm__ volatile("" ::: "memory");
	syscall(SYS_exit, 0);
	return NULL;
}

static void *leave_later(void *arg)
{
	(void)arg;
	usleep(500000);
	syscall(SYS_exit, 0);
	return NULL;
}

static int child(int threads, int leader_first)
{
	pthread_t th;

	if (leader_first) {
		if (pthread_create(&th, NULL, leave_later, NULL))
			return 1;
	} else {
		for (int k = 0; k < threads - 1; k++)
			if (pthread_create(&th, NULL, leave_together, NULL))
				return 1;
		usleep(1000);
		go = 1;
	}
	syscall(SYS_exit, 0);
	return 0;
}

static long bounded(const char *s, long max)
{
	long v = strtol(s, NULL, 10);

	return v < 1 ? 1 : v > max ? max : v;
}

int main(int argc, char **argv)
{
	long procs = 200, threads = 8;
	int leader_first = 0, i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc)
			procs = bounded(argv[++i], 10000);
		else if (!strcmp(argv[i], "-t") && i + 1 < argc)
			threads = bounded(argv[++i], 64);
		else if (!strcmp(argv[i], "--leader-first"))
			leader_first = 1, procs = 1;
		else {
			fprintf(stderr,
				"usage: vg-threads [-n PROCS] [-t THREADS] | --leader-first\n");
			return 2;
		}
	}
	for (long n = 0; n < procs; n++) {
		pid_t p = fork();

		if (p < 0)
			return 1;
		if (p == 0)
			_exit(child((int)threads, leader_first));
		if (waitpid(p, NULL, 0) != p)
			return 1;
	}
	printf("children: %ld\n", procs);
	return 0;
}
