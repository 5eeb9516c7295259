/*
 * W2 exec storm: each worker forks, the child execs --exe with 8 arguments
 * (the first is the run's token, so the harness can count exactly this
 * run's exec records), the parent waits.  One op = fork + exec + exit +
 * wait of one child that exited 0.
 */
#include "bench.h"

static void worker(const struct bench_opts *o, unsigned idx, struct bench_slot *s,
		   int64_t deadline, uint64_t cap)
{
	/*
	 * The argument strings live on this stack, not in .rodata: a child
	 * fresh from fork has this page mapped, while file-backed pages may
	 * not be, and syscall-entry tracers (execsnoop, bpftrace) cannot fault
	 * them in.  That keeps the peers' output complete and comparable.
	 */
	char strs[9][64];
	char *args[10];
	char env0[] = "PATH=/usr/bin:/bin";
	char *envp[] = {env0, NULL};
	static const char *const fixed[] = {"alpha", "bravo", "charlie", "delta", "echo",
					    "foxtrot"};

	snprintf(strs[0], sizeof(strs[0]), "%s", o->exe);
	snprintf(strs[1], sizeof(strs[1]), "%s", o->token);
	snprintf(strs[2], sizeof(strs[2]), "w%u", idx);
	for (unsigned i = 0; i < 6; i++)
		snprintf(strs[3 + i], sizeof(strs[3 + i]), "%s", fixed[i]);
	for (unsigned i = 0; i < 9; i++)
		args[i] = strs[i];
	args[9] = NULL;
	uint64_t n = 0, other = 0;

	s->t0 = bench_now();
	while (n < cap && bench_now() < deadline) {
		pid_t p = fork();
		int st;

		if (p < 0) {
			other++;
			continue;
		}
		if (p == 0) {
			execve(o->exe, args, envp);
			_exit(127);
		}
		while (waitpid(p, &st, 0) < 0 && errno == EINTR)
			;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			n++;
		else
			other++;
	}
	s->t1 = bench_now();
	s->ops = n;
	s->other = other;
}

int main(int argc, char **argv)
{
	struct bench_opts o = {.workers = 2, .secs = 5, .token = "vgbench", .exe = NULL};

	bench_parse(argc, argv, &o);
	if (!o.exe) {
		fprintf(stderr, "w2_exec: --exe PATH is required\n");
		return 2;
	}
	if (access(o.exe, X_OK)) {
		fprintf(stderr, "w2_exec: %s: %s\n", o.exe, strerror(errno));
		return 2;
	}
	struct bench_slot *slots = bench_slots(o.workers);
	int bad = bench_run_workers(&o, slots, worker);
	bench_print_head("w2", &o, slots);
	printf(",\"failed_workers\":%d}\n", bad);
	return bad ? 1 : 0;
}
