// SPDX-License-Identifier: GPL-2.0
/*
 * connect: every connect(2) a process makes, whatever its ABI.
 *
 * The cgroup/connect4 and cgroup/connect6 hooks (attached at the cgroup v2
 * root) see every connect on an AF_INET/AF_INET6 socket, including 32-bit
 * syscalls and io_uring, which syscall tracepoints never see, and they see
 * the destination before routing, so failed attempts count too.  They do
 * not see the result.  By default that is all: no syscall tracepoint is
 * attached (an enabled one slows every syscall on the host), conn_pend
 * stays empty and every record is emitted at once with source CGROUP.
 * With syscall results on, the native syscall is bracketed as well:
 *   sys_enter_connect  an AF_INET/AF_INET6 connect: marks the tid in
 *                      conn_pend (an empty record), when the map has room;
 *   cgroup hook        tid marked: fills the record and leaves it there;
 *                      not marked (ia32, io_uring, ...): emits at once with
 *                      source CGROUP and no result;
 *   sys_exit_connect   record filled: adds the result, emits with source
 *                      SYSCALL; the entry is deleted in every case.
 * AF_UNIX never reaches the cgroup hooks.  The hooks always allow (return 1).
 */

#define VG_AF_INET 2
#define VG_AF_INET6 10

/* set by the loader when sys_enter/exit_connect are attached: without
 * them conn_pend stays empty and is not looked up */
const volatile __u32 vg_conn_results = 0;

struct {
	/*
	 * Not LRU: evicting the entry of a connect still in flight would lose
	 * its record (its cgroup hook filled the entry and did not emit), so
	 * a process holding enough blocked connects could hide the next one.
	 * With the map full, sys_enter's insert fails, the hook finds no mark
	 * and emits at once without the result.  sys_exit deletes the entry
	 * whatever the outcome, so entries do not outlive their syscall.
	 */
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct vg_connect);
} conn_pend SEC(".maps");

/*
 * Destinations watched for unconnected UDP (sendmsg), e.g. metadata
 * service addresses; filled by the agent.  Key: family + 16 address bytes.
 */
struct vg_watch_key {
	__u32 family;
	__u8 addr[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct vg_watch_key);
	__type(value, __u8);
} watch_addrs SEC(".maps");

static __always_inline void conn__fill_addr(struct vg_connect *c, struct bpf_sock_addr *ctx,
					    __u16 family)
{
	c->family = family;
	c->port = bpf_ntohs(ctx->user_port);
	c->proto = ctx->protocol;
	if (family == VG_AF_INET) {
		__u32 a = ctx->user_ip4;

		__builtin_memcpy(c->addr, &a, 4);
	} else {
		/* network order words, copied as they are: the bytes in order */
		__u32 w0 = ctx->user_ip6[0], w1 = ctx->user_ip6[1];
		__u32 w2 = ctx->user_ip6[2], w3 = ctx->user_ip6[3];

		__builtin_memcpy(c->addr, &w0, 4);
		__builtin_memcpy(c->addr + 4, &w1, 4);
		__builtin_memcpy(c->addr + 8, &w2, 4);
		__builtin_memcpy(c->addr + 12, &w3, 4);
	}
}

static __always_inline void conn__emit(struct vg_connect *c)
{
	rb__output(c, sizeof(*c), VG_EV_CONNECT);
}

/*
 * The record's header, true when the filter drops it.  ut: direct loads
 * through an untrusted pointer (VG_UNTRUSTED: ~0.5 us against ~1.3 for
 * probe reads); else probe reads.  Both start from bpf_get_current_task(),
 * the task helper cgroup hooks have had longest.
 */
static __always_inline bool conn__hdr(struct vg_connect *c, bool ut)
{
	void *task = (void *)bpf_get_current_task();

	if (ut)
		return hdr__fill_drop(&c->hdr, VG_UNTRUSTED(struct task_struct, task),
				      VG_EV_CONNECT, sizeof(*c), true);
	return hdr__fill_drop(&c->hdr, task, VG_EV_CONNECT, sizeof(*c), false);
}

static __always_inline int conn__hook(struct bpf_sock_addr *ctx, __u16 family, bool ut)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct vg_connect c = {};
	struct vg_connect *pend;

	if (conn__hdr(&c, ut))
		return 1;
	conn__fill_addr(&c, ctx, family);

	pend = vg_conn_results ? bpf_map_lookup_elem(&conn_pend, &tid) : NULL;
	if (pend) {
		c.source = VG_CONN_SRC_SYSCALL;
		__builtin_memcpy(pend, &c, sizeof(c));
		return 1;
	}
	c.source = VG_CONN_SRC_CGROUP;
	conn__emit(&c);
	return 1;
}

SEC("cgroup/connect4")
int vg_connect4(struct bpf_sock_addr *ctx)
{
	return conn__hook(ctx, VG_AF_INET, false);
}

SEC("cgroup/connect6")
int vg_connect6(struct bpf_sock_addr *ctx)
{
	return conn__hook(ctx, VG_AF_INET6, false);
}

SEC("cgroup/connect4")
int vg_connect4_ut(struct bpf_sock_addr *ctx)
{
	return conn__hook(ctx, VG_AF_INET, true);
}

SEC("cgroup/connect6")
int vg_connect6_ut(struct bpf_sock_addr *ctx)
{
	return conn__hook(ctx, VG_AF_INET6, true);
}

/* Unconnected UDP: only destinations in watch_addrs, no result. */
static __always_inline int conn__sendmsg(struct bpf_sock_addr *ctx, __u16 family, bool ut)
{
	struct vg_watch_key k = {};
	struct vg_connect c = {};

	conn__fill_addr(&c, ctx, family);
	k.family = family;
	__builtin_memcpy(k.addr, c.addr, sizeof(k.addr));
	if (!bpf_map_lookup_elem(&watch_addrs, &k))
		return 1;
	if (conn__hdr(&c, ut))
		return 1;
	c.source = VG_CONN_SRC_SENDMSG;
	conn__emit(&c);
	return 1;
}

SEC("cgroup/sendmsg4")
int vg_sendmsg4(struct bpf_sock_addr *ctx)
{
	return conn__sendmsg(ctx, VG_AF_INET, false);
}

SEC("cgroup/sendmsg6")
int vg_sendmsg6(struct bpf_sock_addr *ctx)
{
	return conn__sendmsg(ctx, VG_AF_INET6, false);
}

SEC("cgroup/sendmsg4")
int vg_sendmsg4_ut(struct bpf_sock_addr *ctx)
{
	return conn__sendmsg(ctx, VG_AF_INET, true);
}

SEC("cgroup/sendmsg6")
int vg_sendmsg6_ut(struct bpf_sock_addr *ctx)
{
	return conn__sendmsg(ctx, VG_AF_INET6, true);
}

/* the loader attaches every sys_enter program last (attach_all), so no
 * connect is marked by an attached sys_enter while its cgroup hook or
 * sys_exit is not attached yet (the entry would stay until that thread
 * connects again) */
SEC("tracepoint/syscalls/sys_exit_connect")
int vg_conn_exit(struct syscall_trace_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct vg_connect *pend = bpf_map_lookup_elem(&conn_pend, &tid);
	struct vg_connect c;

	if (!pend)
		return 0;
	if (pend->hdr.type == VG_EV_CONNECT) {
		__builtin_memcpy(&c, pend, sizeof(c));
		if (!ret__restart(ctx->ret)) {
			c.result = ctx->ret;
			c.cflags |= VG_CONN_RESULT_KNOWN;
		}
		conn__emit(&c);
	}
	bpf_map_delete_elem(&conn_pend, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_connect")
int vg_conn_enter(struct syscall_trace_enter *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct vg_connect empty = {};
	__u16 family;

	/* connects the cgroup hooks never see are not marked: an AF_UNIX one
	 * would hold a slot for nothing, for as long as it waits.  An address
	 * this read cannot reach (a page not faulted in) is marked all the
	 * same: the kernel's own copy may fault it in */
	if (!bpf_probe_read_user(&family, sizeof(family), (void *)ctx->args[1]) &&
	    family != VG_AF_INET && family != VG_AF_INET6)
		return 0;
	/* hdr.type stays 0 until the cgroup hook fills the record */
	bpf_map_update_elem(&conn_pend, &tid, &empty, BPF_ANY);
	return 0;
}
