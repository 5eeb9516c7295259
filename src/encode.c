/*
 * The JSON feed's event encoding.
 *
 * One object per record, ECS names first (`@timestamp`, `event.*`,
 * `process.*`, `container.*`, `orchestrator.*`, `destination.*`,
 * `network.*`), vigil's own fields under `vigil.*`.  Everything that comes
 * from the monitored system (comm, argv, paths, names, labels) is written
 * with vg_json_str, which cannot produce invalid JSON whatever the bytes.
 *
 * This is the hot path of the agent: no allocation, no formatted I/O per
 * field beyond small integer conversions inside json.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vigil/encode.h"

static struct vg_encode_host g_host;

/* bytes of the command line an exec's message shows */
#define SUMMARY_ARGS_MAX 96
/* hex digits of a container id in compact raw events (docker's short id) */
#define VG_CTR_SHORT_ID 12

void vg_encode_set_host(const struct vg_encode_host *h)
{
	g_host = *h;
}

const char *vg_mount_op_name(unsigned op)
{
	static const char *const names[] = {
		[VG_MNT_MOUNT] = "mount",
		[VG_MNT_UMOUNT] = "umount",
		[VG_MNT_FSOPEN] = "fsopen",
		[VG_MNT_FSMOUNT] = "fsmount",
		[VG_MNT_MOVE_MOUNT] = "move_mount",
		[VG_MNT_OPEN_TREE] = "open_tree",
		[VG_MNT_FSPICK] = "fspick",
		[VG_MNT_SETATTR] = "mount_setattr",
		[VG_MNT_OPEN_TREE_ATTR] = "open_tree_attr",
	};
	if (op < sizeof(names) / sizeof(names[0]) && names[op])
		return names[op];
	return "unknown";
}

static bool is_v4_mapped(const __u8 *a)
{
	static const __u8 prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	return memcmp(a, prefix, sizeof(prefix)) == 0;
}

/*
 * Dotted quad, as inet_ntop(AF_INET) writes it; glibc's goes through
 * sprintf, 8% of the agent's CPU under a connect storm.  n >= 16.
 */
static void ipv4_str(char *dst, size_t n, const __u8 *a)
{
	char *p = dst;

	if (n < 16) {
		if (n && !inet_ntop(AF_INET, a, dst, (socklen_t)n))
			dst[0] = '\0'; /* too small for this one: empty, never garbage */
		return;
	}
	for (int i = 0; i < 4; i++) {
		unsigned v = a[i];

		if (v >= 100)
			*p++ = (char)('0' + v / 100);
		if (v >= 10)
			*p++ = (char)('0' + v / 10 % 10);
		*p++ = (char)('0' + v % 10);
		*p++ = i < 3 ? '.' : '\0';
	}
}

void vg_encode_addr(char *dst, size_t n, const struct vg_connect *c)
{
	if (c->family == 10 /* AF_INET6 */) {
		if (is_v4_mapped(c->addr)) {
			ipv4_str(dst, n, c->addr + 12);
			return;
		}
		inet_ntop(AF_INET6, c->addr, dst, n);
		return;
	}
	ipv4_str(dst, n, c->addr);
}

static const char *errno_name(int err)
{
	const char *s = strerrorname_np(err);
	return s ? s : "E?";
}

/* "0" / "-ENOENT" style result text for a syscall return value */
static const char *result_name(int res, char *buf, size_t n)
{
	if (res >= 0) {
		snprintf(buf, n, "%d", res);
		return buf;
	}
	return errno_name(-res);
}

/* Copy NUL separated argv as space joined text, at most n-1 bytes. */
static size_t join_args(char *dst, size_t n, const char *args, size_t len)
{
	size_t o = 0;
	for (size_t i = 0; i < len && o + 1 < n; i++)
		dst[o++] = args[i] ? args[i] : ' ';
	while (o > 0 && dst[o - 1] == ' ')
		o--;
	dst[o] = '\0';
	return o;
}

const char *vg_encode_transport(const struct vg_connect *c)
{
	switch (c->proto) {
	case 6:
		return "tcp";
	case 17:
		return "udp";
	case 1:
		return "icmp";
	case 58:
		return "ipv6-icmp";
	case 132:
		return "sctp";
	default:
		return "unknown";
	}
}

static bool connect_failed(const struct vg_connect *c)
{
	/* a non-blocking connect in progress is not a failure */
	return (c->cflags & VG_CONN_RESULT_KNOWN) && c->result < 0 && c->result != -EINPROGRESS;
}

/* decimal text of v into s (at least 11 bytes); returns its length */
static size_t u32_text(char *s, uint32_t v)
{
	char tmp[10];
	size_t n = 0, i = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		s[i++] = tmp[--n];
	s[i] = '\0';
	return i;
}

/* A bounded, always NUL-terminated text being assembled. */
struct text {
	char *p;
	size_t cap, len;
};

static void text_put(struct text *t, const char *s)
{
	size_t k = strlen(s);
	if (!t->cap)
		return;
	if (k > t->cap - 1 - t->len)
		k = t->cap - 1 - t->len;
	memcpy(t->p + t->len, s, k);
	t->len += k;
	t->p[t->len] = '\0';
}

static void text_u32(struct text *t, uint32_t v)
{
	char s[12];
	u32_text(s, v);
	text_put(t, s);
}

size_t vg_encode_summary(char *dst, size_t n, const struct vg_ev *ev)
{
	const struct vg_rec *r = &ev->rec;
	char addr[64];
	int w = 0;

	switch (r->type) {
	/* the three kinds of every exec storm are assembled without printf */
	case VG_EV_EXEC: {
		/* a glance, not the record: the whole argv is in process.args */
		char cmd[SUMMARY_ARGS_MAX];
		struct text t = {dst, n, 0};
		join_args(cmd, sizeof(cmd), r->exec.args, r->exec.args_len);
		text_put(&t, "exec ");
		text_put(&t, r->exec.filename);
		if (cmd[0]) {
			text_put(&t, " [");
			text_put(&t, cmd);
			text_put(&t, "]");
		}
		return t.len;
	}
	case VG_EV_FORK: {
		struct text t = {dst, n, 0};
		text_put(&t, "fork ");
		text_u32(&t, r->hdr->ptgid);
		text_put(&t, " -> ");
		text_u32(&t, r->hdr->tgid);
		return t.len;
	}
	case VG_EV_EXIT: {
		/* as wait(2) encodes it, like vigil.exit.code and .signal */
		struct text t = {dst, n, 0};
		uint32_t st = (uint32_t)r->exit->exit_code;
		text_put(&t, st & 0x7f ? "killed by signal " : "exit code ");
		text_u32(&t, st & 0x7f ? st & 0x7f : (st >> 8) & 0xff);
		return t.len;
	}
	case VG_EV_CONNECT: {
		const struct vg_connect *c = r->connect;
		vg_encode_addr(addr, sizeof(addr), c);
		bool v6 = c->family == 10 && !is_v4_mapped(c->addr);
		char dest[80];
		snprintf(dest, sizeof(dest), "%s%s%s:%u", v6 ? "[" : "", addr, v6 ? "]" : "",
			 c->port);
		if (!(c->cflags & VG_CONN_RESULT_KNOWN))
			w = snprintf(dst, n, "connect %s %s", vg_encode_transport(c), dest);
		else
			w = snprintf(dst, n, "connect %s %s %s%s", vg_encode_transport(c), dest,
				     connect_failed(c) ? "failed: " : "ok",
				     connect_failed(c) ? errno_name(-c->result) : "");
		break;
	}
	case VG_EV_MOUNT: {
		const struct vg_mount *m = r->mount;
		bool unknown = m->mflags & VG_MNT_NO_RESULT;
		bool denied = !unknown && m->result < 0;
		w = snprintf(dst, n, "%s%s%s%s%s%s%s%s%s%s", vg_mount_op_name(m->op),
			     m->fstype[0] ? " " : "", m->fstype, m->source[0] ? " " : "", m->source,
			     m->target[0] ? " on " : "", m->target, unknown ? "" : ": ",
			     unknown  ? ""
			     : denied ? "denied "
				      : "ok",
			     denied ? errno_name(-m->result) : "");
		break;
	}
	case VG_EV_OOM:
		w = snprintf(dst, n, "oom kill of %s[%u] (rss %llu KiB)", r->hdr->comm,
			     r->hdr->tgid, (unsigned long long)r->oom->rss_kb);
		break;
	default:
		w = snprintf(dst, n, "%s", vg_event_type_name(r->type));
		break;
	}
	if (w < 0)
		return 0;
	return (size_t)w < n ? (size_t)w : n - 1;
}

struct ecs_kind {
	const char *category;
	const char *type;
	const char *action;
};

static struct ecs_kind ecs_of(const struct vg_rec *r)
{
	switch (r->type) {
	case VG_EV_EXEC:
		return (struct ecs_kind){"process", "start", "exec"};
	case VG_EV_FORK:
		return (struct ecs_kind){"process", "start", "fork"};
	case VG_EV_EXIT:
		return (struct ecs_kind){"process", "end", "exit"};
	case VG_EV_CONNECT:
		return (struct ecs_kind){"network", "connection", "connect"};
	case VG_EV_MOUNT:
		return (struct ecs_kind){"file", "change", vg_mount_op_name(r->mount->op)};
	case VG_EV_OOM:
		return (struct ecs_kind){"process", "end", "oom_kill"};
	default:
		return (struct ecs_kind){"process", "info", "unknown"};
	}
}

static const char *outcome_of(const struct vg_rec *r)
{
	switch (r->type) {
	case VG_EV_CONNECT:
		if (!(r->connect->cflags & VG_CONN_RESULT_KNOWN))
			return "unknown";
		return connect_failed(r->connect) ? "failure" : "success";
	case VG_EV_MOUNT:
		if (r->mount->mflags & VG_MNT_NO_RESULT)
			return "unknown";
		return r->mount->result < 0 ? "failure" : "success";
	default:
		return "success";
	}
}

/* ECS keeps ids as strings ("0"), without a printf per field */
static void kv_u32_str(struct vg_buf *b, const char *key, uint32_t v)
{
	char s[12];
	size_t n = u32_text(s, v);
	vg_json_kv_str(b, key, s, n);
}

static void encode_args_array(struct vg_buf *b, const char *args, size_t len)
{
	vg_json_key(b, "args");
	vg_json_arr_open(b);
	size_t start = 0;
	for (size_t i = 0; i < len; i++) {
		if (args[i] == '\0') {
			vg_json_str(b, args + start, i - start);
			start = i + 1;
		}
	}
	if (start < len) /* last argument cut without its NUL */
		vg_json_str(b, args + start, len - start);
	vg_json_arr_close(b);
}

/*
 * A related process: pid, pid inside its namespace, name, executable, and
 * the command line only where a responder reads it (the parent): every
 * ancestor's command line on every record would triple the feed.
 */
static void encode_proc_brief(struct vg_buf *b, const struct vg_proc *p, bool cmdline)
{
	vg_json_kv_u64(b, "pid", p->tgid);
	vg_json_kv_u64(b, "vpid", p->ns_pid);
	vg_json_kv_cstr(b, "name", p->comm);
	if (p->exe[0])
		vg_json_kv_cstr(b, "executable", p->exe);
	if (cmdline && p->args[0])
		vg_json_kv_cstr(b, "command_line", p->args);
}

static void encode_process(struct vg_buf *b, const struct vg_ev *ev, bool full)
{
	const struct vg_rec *r = &ev->rec;
	const struct vg_hdr *h = r->hdr;
	const struct vg_proc *p = ev->proc;

	vg_json_key(b, "process");
	vg_json_obj_open(b);
	vg_json_kv_u64(b, "pid", h->tgid);
	if (h->tid != h->tgid) {
		vg_json_key(b, "thread");
		vg_json_obj_open(b);
		vg_json_kv_u64(b, "id", h->tid);
		vg_json_obj_close(b);
	}
	vg_json_kv_str(b, "name", h->comm, strnlen(h->comm, sizeof(h->comm)));
	if (r->type == VG_EV_EXEC) {
		char cmd[VG_EXEC_ARGS_MAX];
		vg_json_kv_cstr(b, "executable", r->exec.filename);
		encode_args_array(b, r->exec.args, r->exec.args_len);
		/* compact: the count only says something when args were cut */
		if (full || r->exec.truncated)
			vg_json_kv_u64(b, "args_count", r->exec.raw->argc);
		if (full) {
			join_args(cmd, sizeof(cmd), r->exec.args, r->exec.args_len);
			vg_json_kv_cstr(b, "command_line", cmd);
		}
	} else if (p) {
		if (p->exe[0])
			vg_json_kv_cstr(b, "executable", p->exe);
		if (full && p->args[0])
			vg_json_kv_cstr(b, "command_line", p->args);
	}
	if (!(h->flags & VG_HF_NO_TASK) && (full || (h->flags & VG_HF_TTY)))
		vg_json_kv_bool(b, "interactive", h->flags & VG_HF_TTY);
	/* a header with pid and name only: the ids are not known (not root) */
	if (!(h->flags & VG_HF_NO_TASK)) {
		vg_json_key(b, "user");
		vg_json_obj_open(b);
		kv_u32_str(b, "id", h->uid);
		vg_json_obj_close(b);
		if (h->gid != h->uid) {
			vg_json_key(b, "group");
			vg_json_obj_open(b);
			kv_u32_str(b, "id", h->gid);
			vg_json_obj_close(b);
		}
	}

	const struct vg_proc *parent = ev->nancestors ? ev->ancestors[0] : NULL;
	vg_json_key(b, "parent");
	vg_json_obj_open(b);
	if (parent && !full) {
		/* who started it; the lineage is on the alerts */
		vg_json_kv_u64(b, "pid", parent->tgid);
		vg_json_kv_cstr(b, "name", parent->comm);
	} else if (parent) {
		encode_proc_brief(b, parent, true);
	} else if (!(h->flags & VG_HF_NO_TASK)) {
		vg_json_kv_u64(b, "pid", h->ptgid);
		if (full && h->ns_ppid)
			vg_json_kv_u64(b, "vpid", h->ns_ppid);
	}
	vg_json_obj_close(b);
	if (full && ev->ctr_init) {
		vg_json_key(b, "entry_leader");
		vg_json_obj_open(b);
		encode_proc_brief(b, ev->ctr_init, false);
		vg_json_obj_close(b);
	}
	vg_json_obj_close(b);
}

static void encode_container(struct vg_buf *b, const struct vg_container *c, bool full)
{
	vg_json_key(b, "container");
	vg_json_obj_open(b);
	/* compact: the short id docker ps shows, a prefix of the full id that
	 * alerts and posture records carry (vigil.cgroup_id joins exactly) */
	if (full)
		vg_json_kv_cstr(b, "id", c->cg.id);
	else
		vg_json_kv_str(b, "id", c->cg.id, strnlen(c->cg.id, VG_CTR_SHORT_ID));
	vg_json_kv_cstr(b, "runtime", vg_runtime_name(c->cg.runtime));
	if (c->name[0])
		vg_json_kv_cstr(b, "name", c->name);
	if (c->image[0]) {
		/* the image id is in the container's posture records */
		vg_json_key(b, "image");
		vg_json_obj_open(b);
		vg_json_kv_cstr(b, "name", c->image);
		vg_json_obj_close(b);
	}
	if (full && c->nlabels) {
		vg_json_key(b, "labels");
		vg_json_obj_open(b);
		for (unsigned i = 0; i < c->nlabels && i < VG_CTR_LABELS_MAX; i++) {
			vg_json_key_str(b, c->labels[i].key, strlen(c->labels[i].key));
			vg_json_cstr(b, c->labels[i].value);
		}
		vg_json_obj_close(b);
	}
	vg_json_obj_close(b);

	if (c->pod_name[0] || c->pod_namespace[0]) {
		vg_json_key(b, "orchestrator");
		vg_json_obj_open(b);
		vg_json_kv_cstr(b, "type", "kubernetes");
		if (c->pod_namespace[0])
			vg_json_kv_cstr(b, "namespace", c->pod_namespace);
		vg_json_key(b, "resource");
		vg_json_obj_open(b);
		vg_json_kv_cstr(b, "type", "pod");
		if (c->pod_name[0])
			vg_json_kv_cstr(b, "name", c->pod_name);
		if (c->pod_uid[0] || c->cg.pod_uid[0])
			vg_json_kv_cstr(b, "id", c->pod_uid[0] ? c->pod_uid : c->cg.pod_uid);
		vg_json_obj_close(b);
		vg_json_obj_close(b);
	}
}

/*
 * What b got since start (its length then, plus the comma it was owed):
 * copied into dst, for lines to come.  Returns the length, or 0 when it
 * does not fit in cap or b overflowed.
 */
static size_t json_keep(const struct vg_buf *b, size_t start, char *dst, size_t cap)
{
	size_t n = b->len - start;

	if (b->overflow || n > cap)
		return 0;
	memcpy(dst, b->p + start, n);
	return n;
}

/*
 * A container's fields are the same in every line from it until the table
 * changes the entry, and encoding them (four escaped strings, two objects)
 * took about 3% of the agent's CPU under a container exec storm: each
 * thread keeps the last few containers' JSON by version
 * (vg_container.version) and detail, and copies it.  Containers with no
 * version, or JSON longer than a slot, are encoded each time.
 */
#define CTR_JSON_SLOTS 8
#define CTR_JSON_MAX 496

struct ctr_json {
	uint64_t version; /* 0: empty */
	uint16_t len;
	bool full;
	char json[CTR_JSON_MAX];
};

static _Thread_local struct ctr_json ctr_json[CTR_JSON_SLOTS];

static void encode_container_cached(struct vg_buf *b, const struct vg_container *c, bool full)
{
	struct ctr_json *s = &ctr_json[(c->version * 2 + full) % CTR_JSON_SLOTS];
	size_t start = b->len + b->need_comma, n;

	if (c->version && s->version == c->version && s->full == full) {
		vg_json_raw(b, s->json, s->len);
		return;
	}
	encode_container(b, c, full);
	n = c->version ? json_keep(b, start, s->json, sizeof(s->json)) : 0;
	if (!n)
		return;
	s->len = (uint16_t)n;
	s->full = full;
	s->version = c->version;
}

static void encode_connect(struct vg_buf *b, const struct vg_connect *c)
{
	char addr[64];
	vg_encode_addr(addr, sizeof(addr), c);
	vg_json_key(b, "destination");
	vg_json_obj_open(b);
	vg_json_kv_cstr(b, "ip", addr);
	vg_json_kv_u64(b, "port", c->port);
	vg_json_obj_close(b);
	vg_json_key(b, "network");
	vg_json_obj_open(b);
	vg_json_kv_cstr(b, "transport", vg_encode_transport(c));
	bool v6 = c->family == 10 && !is_v4_mapped(c->addr);
	vg_json_kv_cstr(b, "type", v6 ? "ipv6" : "ipv4");
	vg_json_obj_close(b);
}

/*
 * Compact: what a pipeline joins and filters on.  cgroup_id ties a record
 * to its container exactly (alerts carry it too); enrichment only
 * while it is not done, entry only for processes that came in from outside
 * (docker exec).  ts_mono is left out: @timestamp is the same clock
 * reading plus an offset fixed for the agent's life, to the nanosecond.
 */
static void encode_vigil_compact(struct vg_buf *b, const struct vg_ev *ev)
{
	const struct vg_hdr *h = ev->rec.hdr;

	vg_json_kv_u64(b, "cgroup_id", h->cgroup_id);
	if (ev->ctr && ev->ctr->enrich != VG_ENRICH_DONE)
		vg_json_kv_cstr(b, "enrichment",
				ev->ctr->enrich == VG_ENRICH_PENDING ? "pending" : "failed");
	if (ev->ctr && ev->exec_entry)
		vg_json_kv_cstr(b, "entry", "exec");
}

static void encode_vigil_full(struct vg_buf *b, const struct vg_ev *ev)
{
	const struct vg_hdr *h = ev->rec.hdr;

	vg_json_kv_cstr(b, "scope", ev->ctr ? "container" : "host");
	vg_json_kv_u64(b, "cgroup_id", h->cgroup_id);
	if (h->cgroup_v1_id)
		vg_json_kv_u64(b, "cgroup_v1_id", h->cgroup_v1_id);
	vg_json_kv_u64(b, "mntns", h->mntns);
	vg_json_kv_u64(b, "pidns", h->pidns);
	vg_json_kv_u64(b, "ns_pid", h->ns_pid);
	vg_json_kv_u64(b, "ts_mono", h->ts_ns);
	if (ev->ctr) {
		static const char *const st[] = {"pending", "done", "failed"};
		vg_json_kv_cstr(b, "enrichment",
				st[ev->ctr->enrich <= VG_ENRICH_FAILED ? ev->ctr->enrich : 2]);
		vg_json_kv_cstr(b, "entry", ev->exec_entry ? "exec" : "main");
	}
	if (ev->nancestors) {
		vg_json_key(b, "ancestors");
		vg_json_arr_open(b);
		for (unsigned i = 0; i < ev->nancestors && i < VG_LINEAGE_MAX; i++) {
			vg_json_obj_open(b);
			encode_proc_brief(b, ev->ancestors[i], false);
			vg_json_obj_close(b);
		}
		vg_json_arr_close(b);
	}
}

static void encode_vigil(struct vg_buf *b, const struct vg_ev *ev, bool full)
{
	const struct vg_rec *r = &ev->rec;
	char tmp[32];

	vg_json_key(b, "vigil");
	vg_json_obj_open(b);
	if (full)
		encode_vigil_full(b, ev);
	else
		encode_vigil_compact(b, ev);

	switch (r->type) {
	case VG_EV_EXEC: {
		unsigned ef = r->exec.raw->eflags;
		/* compact: the flags only when one of them is set */
		/* the resolved path when it says more than the one asked for */
		const char *exe =
			r->exec.exe && strcmp(r->exec.exe, r->exec.filename) ? r->exec.exe : NULL;
		if (!full && !r->exec.truncated && !exe &&
		    !(ef & (VG_EXEC_EXE_DELETED | VG_EXEC_EXE_MEMFD)))
			break;
		vg_json_key(b, "exec");
		vg_json_obj_open(b);
		if (full || r->exec.truncated)
			vg_json_kv_bool(b, "truncated", r->exec.truncated);
		if (exe)
			vg_json_kv_cstr(b, "exe", exe);
		if (ef & VG_EXEC_EXE_DELETED)
			vg_json_kv_bool(b, "exe_deleted", true);
		if (ef & VG_EXEC_EXE_MEMFD)
			vg_json_kv_bool(b, "exe_memfd", true);
		vg_json_obj_close(b);
		break;
	}
	case VG_EV_EXIT:
		vg_json_key(b, "exit");
		vg_json_obj_open(b);
		vg_json_kv_i64(b, "code", r->exit->exit_code >> 8);
		vg_json_kv_i64(b, "signal", r->exit->exit_code & 0x7f);
		vg_json_obj_close(b);
		break;
	case VG_EV_CONNECT: {
		const struct vg_connect *c = r->connect;
		static const char *const src[] = {"unknown", "syscall", "cgroup", "sendmsg"};
		vg_json_key(b, "connect");
		vg_json_obj_open(b);
		vg_json_kv_cstr(b, "source", src[c->source <= VG_CONN_SRC_SENDMSG ? c->source : 0]);
		vg_json_kv_u64(b, "family", c->family);
		if (c->cflags & VG_CONN_RESULT_KNOWN) {
			vg_json_kv_i64(b, "errno", c->result < 0 ? -c->result : 0);
			vg_json_kv_cstr(b, "result", c->result < 0 ? errno_name(-c->result) : "ok");
		} else {
			vg_json_kv_cstr(b, "result", "unknown");
		}
		vg_json_obj_close(b);
		break;
	}
	case VG_EV_MOUNT: {
		const struct vg_mount *m = r->mount;
		vg_json_key(b, "mount");
		vg_json_obj_open(b);
		vg_json_kv_cstr(b, "op", vg_mount_op_name(m->op));
		vg_json_kv_cstr(b, "source", m->source);
		vg_json_kv_cstr(b, "target", m->target);
		vg_json_kv_cstr(b, "fstype", m->fstype);
		vg_json_kv_u64(b, "flags", m->flags);
		vg_json_kv_i64(b, "result", m->result);
		vg_json_kv_cstr(b, "result_name",
				m->mflags & VG_MNT_NO_RESULT
					? "unknown"
					: result_name(m->result, tmp, sizeof(tmp)));
		if (m->mflags & VG_MNT_STR_UNREAD)
			vg_json_kv_bool(b, "args_unread", true);
		if (m->mflags & VG_MNT_STR_CUT)
			vg_json_kv_bool(b, "truncated", true);
		vg_json_obj_close(b);
		break;
	}
	case VG_EV_OOM: {
		const struct vg_oom *o = r->oom;
		vg_json_key(b, "oom");
		vg_json_obj_open(b);
		vg_json_kv_u64(b, "total_vm_kb", o->total_vm_kb);
		vg_json_kv_u64(b, "rss_kb", o->rss_kb);
		vg_json_kv_u64(b, "trigger_pid", o->trigger_tgid);
		vg_json_kv_str(b, "trigger_name", o->trigger_comm,
			       strnlen(o->trigger_comm, sizeof(o->trigger_comm)));
		vg_json_obj_close(b);
		break;
	}
	default:
		break;
	}
	vg_json_obj_close(b);
}

/*
 * The "event" object is one of a few dozen texts, picked by constant
 * strings (the kind, the ECS names of the record's type and result): each
 * thread keeps the last one per record type, keyed by the addresses of the
 * strings that vary within a type (kind, action, outcome) and the detail,
 * and copies it, instead of a dozen writes per line (five of
 * them strings, each scanned for escapes).
 */
struct event_json {
	const char *kind, *action, *outcome;
	bool full;
	uint8_t len; /* 0: empty */
	char json[160];
};

static _Thread_local struct event_json event_json[VG_EV__MAX];

/* kind: a string constant (its address is the cache's key) */
static void encode_event_obj(struct vg_buf *b, const struct vg_rec *r, const char *kind, bool full)
{
	struct event_json *s = &event_json[r->type < VG_EV__MAX ? r->type : VG_EV_INVALID];
	struct ecs_kind k = ecs_of(r);
	const char *outcome = outcome_of(r);
	size_t start = b->len + b->need_comma;

	if (s->len && s->kind == kind && s->action == k.action && s->outcome == outcome &&
	    s->full == full) {
		vg_json_raw(b, s->json, s->len);
		return;
	}
	vg_json_key(b, "event");
	vg_json_obj_open(b);
	vg_json_kv_cstr(b, "kind", kind);
	vg_json_key(b, "category");
	vg_json_arr_open(b);
	vg_json_cstr(b, k.category);
	vg_json_arr_close(b);
	vg_json_key(b, "type");
	vg_json_arr_open(b);
	vg_json_cstr(b, k.type);
	vg_json_arr_close(b);
	vg_json_kv_cstr(b, "action", k.action);
	vg_json_kv_cstr(b, "outcome", outcome);
	if (full) {
		vg_json_kv_cstr(b, "module", "vigil");
		vg_json_kv_cstr(b, "dataset", vg_event_type_name(r->type));
	}
	vg_json_obj_close(b);
	s->len = (uint8_t)json_keep(b, start, s->json, sizeof(s->json));
	s->kind = kind;
	s->action = k.action;
	s->outcome = outcome;
	s->full = full;
}

static void encode_fields(struct vg_buf *b, const struct vg_ev *ev, const char *kind, bool full)
{
	const struct vg_rec *r = &ev->rec;
	char msg[1024];

	vg_json_key(b, "@timestamp");
	vg_json_time(b, ev->wall_ns);
	encode_event_obj(b, r, kind, full);

	if (full) {
		size_t n = vg_encode_summary(msg, sizeof(msg), ev);
		vg_json_kv_str(b, "message", msg, n);
	}
	if (full && g_host.hostname[0]) {
		vg_json_key(b, "host");
		vg_json_obj_open(b);
		vg_json_kv_cstr(b, "hostname", g_host.hostname);
		vg_json_obj_close(b);
	}
	encode_process(b, ev, full);
	if (ev->ctr)
		encode_container_cached(b, ev->ctr, full);
	if (r->type == VG_EV_CONNECT)
		encode_connect(b, r->connect);
	encode_vigil(b, ev, full);
}

void vg_encode_event_fields(struct vg_buf *b, const struct vg_ev *ev, const char *kind)
{
	encode_fields(b, ev, kind, true);
}

int vg_encode_event(struct vg_buf *b, const struct vg_ev *ev, enum vg_encode_detail detail)
{
	vg_json_obj_open(b);
	encode_fields(b, ev, "event", detail == VG_DETAIL_FULL);
	vg_json_obj_close(b);
	vg_buf_raw(b, "\n", 1);
	return b->overflow ? -ENOSPC : 0;
}
