// SPDX-License-Identifier: GPL-2.0
/*
 * The floor of kernel.bpf_stats_enabled: programs that do nothing, on the
 * hooks vigil's exec path runs on.  With stats on, every program run is
 * timed between two sched_clock() reads, and what those reads cost lands in
 * the program's run_time_ns.  Run next to vigil under the same workload,
 * these programs' ns per run is that cost (plus the call into a program and
 * its one instruction), the part of every measured run that is the
 * instrument's own.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

#define FLOOR(name, hook)                                                                          \
	SEC("tp_btf/" hook)                                                                        \
	int BPF_PROG(name)                                                                         \
	{                                                                                          \
		return 0;                                                                          \
	}

FLOOR(floor_cap, "cap_capable")
FLOOR(floor_exec, "sched_process_exec")
FLOOR(floor_fork, "sched_process_fork")
FLOOR(floor_exit, "sched_process_exit")
