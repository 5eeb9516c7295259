/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel differences, in one place.  Each fix reads a field through a CO-RE
 * flavor (a local struct named type___suffix that libbpf matches against the
 * running kernel's BTF) or checks bpf_core_field_exists /
 * bpf_core_enum_value_exists, never a kernel version.
 */
#ifndef VIGIL_CORE_FIXES_BPF_H
#define VIGIL_CORE_FIXES_BPF_H

/*
 * kernfs_node.id: a u64 since 5.5; before that a union kernfs_node_id whose
 * u64 member `id` held the same value (ino | generation << 32).
 */
union kernfs_node_id___old {
	struct {
		__u32 ino;
		__u32 generation;
	};
	__u64 id;
} __attribute__((preserve_access_index));

struct kernfs_node___old {
	union kernfs_node_id___old id;
} __attribute__((preserve_access_index));

static __always_inline __u64 kernfs__id(struct kernfs_node *kn, bool btf)
{
	if (!kn)
		return 0;
	if (bpf_core_field_exists(((struct kernfs_node___old *)0)->id.generation))
		return BPF_CORE_READ((struct kernfs_node___old *)kn, id.id);
	/* btf: kn came from a direct load (see VG_READ in common.bpf.h) */
	return btf ? kn->id : BPF_CORE_READ(kn, id);
}

/*
 * dentry's inline name buffer (names up to 39 bytes live there):
 * d_shortname.string since 6.14, d_iname before.
 */
struct dentry___iname {
	unsigned char d_iname[40];
} __attribute__((preserve_access_index));

/*
 * The inline buffer of a BTF-typed dentry when name (its d_name.name)
 * points there, for direct loads; NULL otherwise (a long name is in memory
 * of its own, for a probe read).
 */
static __always_inline const unsigned char *dentry__inline_name(struct dentry *d,
								const unsigned char *name)
{
	const unsigned char *in;

	if (bpf_core_field_exists(d->d_shortname))
		in = d->d_shortname.string;
	else if (bpf_core_field_exists(((struct dentry___iname *)d)->d_iname))
		in = ((struct dentry___iname *)d)->d_iname;
	else
		return NULL;
	if (name != in)
		return NULL;
	/* in, not name (a plain number to the verifier), is what gets loaded from */
	barrier_var(in);
	return in;
}

/*
 * mm_struct.rss_stat: an array of percpu_counter since 6.2 (the global part,
 * `count`, is what get_mm_counter() reads too); before, a struct
 * mm_rss_stat holding atomic_long_t count[NR_MM_COUNTERS].
 */
struct mm_rss_stat___old {
	atomic_long_t count[4];
} __attribute__((preserve_access_index));

struct mm_struct___old {
	struct mm_rss_stat___old rss_stat;
} __attribute__((preserve_access_index));

/* NR_MM_COUNTERS indexes, stable since 4.x */
#define VG_MM_FILEPAGES 0
#define VG_MM_ANONPAGES 1
#define VG_MM_SHMEMPAGES 3

static __always_inline __s64 mm__counter(struct mm_struct *mm, int idx)
{
	__s64 v;

	if (bpf_core_field_exists(((struct mm_struct___old *)0)->rss_stat.count)) {
		struct mm_struct___old *old = (void *)mm;

		v = BPF_CORE_READ(old, rss_stat.count[idx].counter);
	} else {
		/* idx is one of the constants above: always in [0, 4) */
		v = BPF_CORE_READ(mm, rss_stat[idx].count);
	}
	return v < 0 ? 0 : v;
}

/*
 * memory_cgrp_id: the memory controller's index in css_set.subsys[]; its
 * value depends on the kernel's config, and it is absent without
 * CONFIG_MEMCG.
 */
static __always_inline int cgroup__memory_subsys_id(void)
{
	if (!bpf_core_enum_value_exists(enum cgroup_subsys_id, memory_cgrp_id))
		return -1;
	return bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
}

/*
 * oom:mark_victim gained comm (__data_loc) and total_vm/anon_rss/file_rss/
 * shmem_rss (already in KiB) in 6.1; older kernels only have pid.
 */
struct trace_event_raw_mark_victim___new {
	struct trace_entry ent;
	int pid;
	__u32 __data_loc_comm;
	unsigned long total_vm;
	unsigned long anon_rss;
	unsigned long file_rss;
	unsigned long shmem_rss;
} __attribute__((preserve_access_index));

/*
 * sched_process_exec's classic tracepoint: stable layout (filename as
 * __data_loc, pid, old_pid) since 3.x; no flavor needed.
 *
 * task_struct.thread_pid (4.19+) is used without a fallback: ring buffers
 * need 5.8 anyway.
 */

#endif
