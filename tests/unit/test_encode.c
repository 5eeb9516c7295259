/* encode: the JSON feed's event schema, checked by a real JSON parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>

#include <cmocka.h>

#include <arpa/inet.h>

#include "vigil/encode.h"

static char out[16384];

/* jq -e FILTER on the encoded line; returns jq's exit status */
static int jq(const char *line, const char *filter)
{
	char path[] = "/tmp/vg-encode-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fputs(line, f);
	fclose(f);
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "jq -e '%s' < %s > /dev/null 2>&1", filter, path);
	int rc = system(cmd);
	unlink(path);
	return rc;
}

static const char *encode_detail(struct vg_ev *ev, enum vg_encode_detail d)
{
	struct vg_buf b;
	vg_buf_init(&b, out, sizeof(out));
	assert_int_equal(vg_encode_event(&b, ev, d), 0);
	assert_true(b.len > 0 && out[b.len - 1] == '\n');
	return out;
}

/* the full line: what every alert carries */
static const char *encode(struct vg_ev *ev)
{
	return encode_detail(ev, VG_DETAIL_FULL);
}

static void fill_hdr(struct vg_hdr *h, unsigned type, size_t size)
{
	memset(h, 0, sizeof(*h));
	h->type = (uint16_t)type;
	h->size = (uint16_t)size;
	h->tgid = 4242;
	h->tid = 4243;
	h->ptgid = 1;
	h->uid = 1000;
	memcpy(h->comm, "curl", 5);
}

static void test_connect_v4_mapped_failure(void **state)
{
	(void)state;
	struct vg_connect c;
	memset(&c, 0, sizeof(c));
	fill_hdr(&c.hdr, VG_EV_CONNECT, sizeof(c));
	c.family = 10;
	c.port = 80;
	c.proto = 6;
	c.source = VG_CONN_SRC_SYSCALL;
	c.cflags = VG_CONN_RESULT_KNOWN;
	c.result = -101; /* ENETUNREACH */
	const uint8_t a[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 169, 254, 169, 254};
	memcpy(c.addr, a, 16);
	struct vg_ev ev = {.rec = {.hdr = &c.hdr, .type = VG_EV_CONNECT, .connect = &c}};
	const char *l = encode(&ev);
	assert_int_equal(jq(l, ".destination.ip == \"169.254.169.254\" and .destination.port == 80"), 0);
	assert_int_equal(jq(l, ".event.outcome == \"failure\" and .vigil.connect.result == \"ENETUNREACH\""), 0);
	assert_int_equal(jq(l, ".network.type == \"ipv4\" and .network.transport == \"tcp\""), 0);
	assert_int_equal(jq(l, ".vigil.scope == \"host\" and (has(\"container\") | not)"), 0);
	assert_non_null(strstr(l, "\"message\":\"connect tcp 169.254.169.254:80 failed: ENETUNREACH\""));

	/* an ICMP ping socket's connect: the message says what the field says */
	c.proto = 1;
	l = encode(&ev);
	assert_int_equal(jq(l, ".network.transport == \"icmp\""), 0);
	assert_non_null(strstr(l, "\"message\":\"connect icmp 169.254.169.254:80 failed"));
}

/* the dotted quad is inet_ntop's, for every byte value in every position */
static void test_addr_v4_like_inet_ntop(void **state)
{
	struct vg_connect c;
	char got[64], want[64];
	uint32_t x = 2463534242u;

	for (unsigned i = 0; i < 20000; i++) {
		memset(&c, 0, sizeof(c));
		if (i < 1024) {
			/* 0..255 in each of the four bytes, the others fixed */
			c.addr[0] = 1;
			c.addr[1] = 20;
			c.addr[2] = 203;
			c.addr[3] = 9;
			c.addr[i / 256] = (uint8_t)(i % 256);
		} else {
			x ^= x << 13, x ^= x >> 17, x ^= x << 5; /* xorshift32 */
			memcpy(c.addr, &x, 4);
		}
		c.family = i % 2 ? 2 : 10;
		if (c.family == 10) {
			memmove(c.addr + 12, c.addr, 4);
			memset(c.addr, 0, 10);
			c.addr[10] = c.addr[11] = 0xff;
		}
		vg_encode_addr(got, sizeof(got), &c);
		inet_ntop(AF_INET, c.family == 10 ? c.addr + 12 : c.addr, want, sizeof(want));
		assert_string_equal(got, want);
	}
	c.family = 2;
	memset(c.addr, 255, 4);
	vg_encode_addr(got, 16, &c); /* the longest, in the least room */
	assert_string_equal(got, "255.255.255.255");
	vg_encode_addr(got, 8, &c); /* too little room: empty, not garbage */
	assert_string_equal(got, "");
	memset(c.addr, 0, 4);
	vg_encode_addr(got, 8, &c);
	assert_string_equal(got, "0.0.0.0");
}

static void test_exec_hostile_strings(void **state)
{
	(void)state;
	struct vg_exec e;
	memset(&e, 0, sizeof(e));
	static const char fn[] = "/tmp/\x1b[31mevil\xff";
	static const char args[] = "evil\0--flag=\"q\"\\\0\x01\x7f\xc3\x28";
	memcpy(e.data, fn, sizeof(fn));
	memcpy(e.data + sizeof(fn), args, sizeof(args));
	e.filename_len = sizeof(fn);
	e.args_len = sizeof(args);
	e.argc = 3;
	fill_hdr(&e.hdr, VG_EV_EXEC, offsetof(struct vg_exec, data) + sizeof(fn) + sizeof(args));
	memcpy(e.hdr.comm, "\x1b]0;x\x07", 7);
	struct vg_ev ev = {.rec = {.hdr = &e.hdr, .type = VG_EV_EXEC}};
	ev.rec.exec.raw = &e;
	ev.rec.exec.filename = e.data;
	ev.rec.exec.args = e.data + sizeof(fn);
	ev.rec.exec.args_len = sizeof(args);
	ev.rec.exec.argc = 3;

	struct vg_container c;
	memset(&c, 0, sizeof(c));
	c.cg.runtime = VG_RT_DOCKER;
	memset(c.cg.id, 'a', 64);
	strcpy(c.name, "web\nname");
	strcpy(c.labels[0].key, "k\"ey");
	strcpy(c.labels[0].value, "v\x01");
	c.nlabels = 1;
	ev.ctr = &c;

	const char *l = encode(&ev);
	assert_int_equal(jq(l, ".process.args | length == 3"), 0);
	assert_int_equal(jq(l, ".process.args[1] == \"--flag=\\\"q\\\"\\\\\""), 0);
	assert_int_equal(jq(l, ".process.executable | test(\"evil\")"), 0);
	assert_int_equal(jq(l, ".container.name == \"web\\nname\" and .container.labels[\"k\\\"ey\"] == \"v\\u0001\""), 0);
	assert_int_equal(jq(l, ".container.runtime == \"docker\" and .vigil.scope == \"container\""), 0);
	assert_int_equal(jq(l, ".vigil.enrichment == \"pending\""), 0);
	/* no raw ESC or other control byte in the line */
	for (const char *p = l; *p && *p != '\n'; p++)
		assert_true((unsigned char)*p >= 0x20);
}

/* a tmpfs mount of "none" on /mnt, encoded; m lives until the next call */
static const char *mount_line(struct vg_mount *m, int result, unsigned mflags)
{
	static struct vg_ev ev;
	memset(m, 0, sizeof(*m));
	fill_hdr(&m->hdr, VG_EV_MOUNT, sizeof(*m));
	m->op = VG_MNT_MOUNT;
	m->result = result;
	m->mflags = mflags;
	strcpy(m->source, "none");
	strcpy(m->target, "/mnt");
	strcpy(m->fstype, "tmpfs");
	ev = (struct vg_ev){.rec = {.hdr = &m->hdr, .type = VG_EV_MOUNT, .mount = m}};
	return encode(&ev);
}

static void test_mount_denied(void **state)
{
	(void)state;
	struct vg_mount m;
	const char *l = mount_line(&m, -1 /* EPERM */, 0);
	assert_int_equal(jq(l, ".event.outcome == \"failure\" and .vigil.mount.result_name == \"EPERM\""), 0);
	assert_int_equal(jq(l, ".message == \"mount tmpfs none on /mnt: denied EPERM\""), 0);
}

/* seen at the capability check, before the kernel decided: no result, no "ok" */
static void test_mount_unknown(void **state)
{
	(void)state;
	struct vg_mount m;
	const char *l = mount_line(&m, 0, VG_MNT_NO_RESULT);
	assert_int_equal(jq(l, ".event.outcome == \"unknown\" and .vigil.mount.result_name == \"unknown\""), 0);
	assert_int_equal(jq(l, ".vigil.mount.target == \"/mnt\" and .vigil.mount.result == 0"), 0);
	assert_int_equal(jq(l, ".message == \"mount tmpfs none on /mnt\""), 0);
	assert_int_equal(jq(l, ".vigil.mount | has(\"args_unread\") or has(\"truncated\") | not"), 0);
	/* strings the kernel side could not read, or that filled their field */
	l = mount_line(&m, 0, VG_MNT_NO_RESULT | VG_MNT_STR_UNREAD | VG_MNT_STR_CUT);
	assert_int_equal(jq(l, ".vigil.mount.args_unread == true and .vigil.mount.truncated == true"),
			 0);
}

static void test_process_messages(void **state)
{
	(void)state;
	struct vg_fork f;
	struct vg_exit x;
	struct vg_exec e;
	char msg[256];

	memset(&f, 0, sizeof(f));
	fill_hdr(&f.hdr, VG_EV_FORK, sizeof(f));
	struct vg_ev ev = {.rec = {.hdr = &f.hdr, .type = VG_EV_FORK, .fork = &f}};
	vg_encode_summary(msg, sizeof(msg), &ev);
	assert_string_equal(msg, "fork 1 -> 4242");

	memset(&x, 0, sizeof(x));
	fill_hdr(&x.hdr, VG_EV_EXIT, sizeof(x));
	x.exit_code = 9; /* killed by SIGKILL */
	ev = (struct vg_ev){.rec = {.hdr = &x.hdr, .type = VG_EV_EXIT, .exit = &x}};
	vg_encode_summary(msg, sizeof(msg), &ev);
	assert_string_equal(msg, "killed by signal 9");
	x.exit_code = 1 << 8; /* exit(1) */
	vg_encode_summary(msg, sizeof(msg), &ev);
	assert_string_equal(msg, "exit code 1");

	memset(&e, 0, sizeof(e));
	static const char data[] = "/bin/cat\0cat\0/etc/hostname";
	memcpy(e.data, data, sizeof(data));
	fill_hdr(&e.hdr, VG_EV_EXEC, sizeof(e));
	ev = (struct vg_ev){.rec = {.hdr = &e.hdr, .type = VG_EV_EXEC}};
	ev.rec.exec.raw = &e;
	ev.rec.exec.filename = e.data;
	ev.rec.exec.args = e.data + 9;
	ev.rec.exec.args_len = sizeof(data) - 9;
	vg_encode_summary(msg, sizeof(msg), &ev);
	assert_string_equal(msg, "exec /bin/cat [cat /etc/hostname]");
	/* cut to the destination, still terminated */
	char small[10];
	assert_int_equal(vg_encode_summary(small, sizeof(small), &ev), 9);
	assert_string_equal(small, "exec /bin");
}

static void test_overflow_reported(void **state)
{
	(void)state;
	struct vg_oom o;
	memset(&o, 0, sizeof(o));
	fill_hdr(&o.hdr, VG_EV_OOM, sizeof(o));
	struct vg_ev ev = {.rec = {.hdr = &o.hdr, .type = VG_EV_OOM, .oom = &o}};
	struct vg_buf b;
	char small[64];
	vg_buf_init(&b, small, sizeof(small));
	assert_int_equal(vg_encode_event(&b, &ev, VG_DETAIL_COMPACT), -ENOSPC);
}

/* the classic OOM hook's header: pid and name only, so no user id (0
 * would read as root) and no parent */
static void test_oom_pid_only(void **state)
{
	(void)state;
	struct vg_oom o;
	struct vg_buf b;

	memset(&o, 0, sizeof(o));
	fill_hdr(&o.hdr, VG_EV_OOM, sizeof(o));
	o.hdr.uid = 0;
	o.hdr.flags = VG_HF_NO_TASK;
	struct vg_ev ev = {.rec = {.hdr = &o.hdr, .type = VG_EV_OOM, .oom = &o}};
	vg_buf_init(&b, out, sizeof(out));
	assert_int_equal(vg_encode_event(&b, &ev, VG_DETAIL_FULL), 0);
	assert_non_null(strstr(out, "\"pid\":4242"));
	assert_null(strstr(out, "\"user\""));
	assert_null(strstr(out, "\"group\""));
	/* a full header: the user is there */
	o.hdr.flags = 0;
	vg_buf_init(&b, out, sizeof(out));
	assert_int_equal(vg_encode_event(&b, &ev, VG_DETAIL_FULL), 0);
	assert_non_null(strstr(out, "\"user\":{\"id\":\"0\"}"));
}

/* An exec in a container, with a parent and the container's init. */
static void exec_in_container(struct vg_exec *e, struct vg_ev *ev, struct vg_container *c,
			      struct vg_proc *parent, struct vg_proc *init)
{
	static const char data[] = "/bin/cat\0cat\0/etc/hostname";
	memset(e, 0, sizeof(*e));
	memcpy(e->data, data, sizeof(data));
	e->filename_len = 9;
	e->args_len = sizeof(data) - 9;
	e->argc = 2;
	fill_hdr(&e->hdr, VG_EV_EXEC, sizeof(*e));
	e->hdr.tid = e->hdr.tgid;
	e->hdr.ns_pid = 7;
	e->hdr.cgroup_id = 99;
	e->hdr.cgroup_v1_id = 98;
	e->hdr.mntns = 4026531840u;
	e->hdr.pidns = 4026531836u;
	e->hdr.ts_ns = 123456789;
	memset(ev, 0, sizeof(*ev));
	ev->rec.hdr = &e->hdr;
	ev->rec.type = VG_EV_EXEC;
	ev->rec.exec.raw = e;
	ev->rec.exec.filename = e->data;
	ev->rec.exec.args = e->data + 9;
	ev->rec.exec.args_len = e->args_len;
	ev->rec.exec.argc = 2;

	memset(c, 0, sizeof(*c));
	c->cg.runtime = VG_RT_DOCKER;
	memset(c->cg.id, 'b', 64);
	strcpy(c->name, "web");
	strcpy(c->image, "nginx:1");
	strcpy(c->labels[0].key, "tier");
	strcpy(c->labels[0].value, "db");
	c->nlabels = 1;
	c->enrich = VG_ENRICH_DONE;
	ev->ctr = c;

	memset(parent, 0, sizeof(*parent));
	parent->tgid = 4000;
	parent->ns_pid = 3;
	strcpy(parent->comm, "sh");
	strcpy(parent->exe, "/bin/sh");
	strcpy(parent->args, "sh -c cat /etc/hostname");
	memset(init, 0, sizeof(*init));
	init->tgid = 3990;
	init->ns_pid = 1;
	strcpy(init->comm, "sh");
	ev->ancestors[0] = parent;
	ev->ancestors[1] = init;
	ev->nancestors = 2;
	ev->ctr_init = init;
}

static void test_exec_compact(void **state)
{
	(void)state;
	struct vg_exec e;
	struct vg_ev ev;
	struct vg_container c;
	struct vg_proc parent, init;
	exec_in_container(&e, &ev, &c, &parent, &init);
	struct vg_encode_host host = {.hostname = "node1"};
	vg_encode_set_host(&host);

	const char *l = encode_detail(&ev, VG_DETAIL_COMPACT);
	assert_int_equal(jq(l, ".event.kind == \"event\" and .event.action == \"exec\" and "
			       ".event.outcome == \"success\" and .event.category == [\"process\"]"), 0);
	assert_int_equal(jq(l, ".process.executable == \"/bin/cat\" and "
			       ".process.args == [\"cat\", \"/etc/hostname\"]"), 0);
	assert_int_equal(jq(l, ".process.parent == {\"pid\": 4000, \"name\": \"sh\"}"), 0);
	assert_int_equal(jq(l, ".process.user.id == \"1000\" and .process.pid == 4242"), 0);
	/* the short id; the full one is on alerts, posture records and in full detail */
	assert_int_equal(jq(l, ".container == {\"id\": \"bbbbbbbbbbbb\", \"runtime\": \"docker\", "
			       "\"name\": \"web\", \"image\": {\"name\": \"nginx:1\"}}"), 0);
	assert_int_equal(jq(l, ".vigil == {\"cgroup_id\": 99}"), 0);
	assert_int_equal(jq(l, "has(\"host\") | not"), 0);
	/* the context is on alerts and in full detail */
	assert_int_equal(jq(l, "(has(\"message\") or (.process | has(\"command_line\")) or "
			       "(.process | has(\"entry_leader\")) or (.process | has(\"interactive\")) or "
			       "(.process | has(\"args_count\")) or (.event | has(\"dataset\"))) | not"), 0);

	l = encode_detail(&ev, VG_DETAIL_FULL);
	assert_int_equal(jq(l, ".message == \"exec /bin/cat [cat /etc/hostname]\" and "
			       ".process.command_line == \"cat /etc/hostname\""), 0);
	assert_int_equal(jq(l, ".process.parent.command_line == \"sh -c cat /etc/hostname\" and "
			       ".process.parent.vpid == 3 and .process.entry_leader.vpid == 1"), 0);
	assert_int_equal(jq(l, "(.vigil.ancestors | length) == 2 and .vigil.mntns == 4026531840 and "
			       ".vigil.cgroup_v1_id == 98 and .vigil.exec.truncated == false and "
			       ".vigil.entry == \"main\" and .vigil.enrichment == \"done\" and "
			       ".vigil.ns_pid == 7 and .vigil.ts_mono == 123456789"), 0);
	assert_int_equal(jq(l, "(.container.id | length == 64) and .host.hostname == \"node1\""), 0);
	memset(&host, 0, sizeof(host));
	vg_encode_set_host(&host);
	assert_int_equal(jq(l, ".container.labels.tier == \"db\" and .event.dataset == \"exec\""), 0);
}

/* compact still says what is unusual: cut args, docker exec, pending lookups */
static void test_compact_keeps_exceptions(void **state)
{
	(void)state;
	struct vg_exec e;
	struct vg_ev ev;
	struct vg_container c;
	struct vg_proc parent, init;
	exec_in_container(&e, &ev, &c, &parent, &init);
	ev.rec.exec.truncated = true;
	e.argc = 300;
	e.eflags = VG_EXEC_EXE_MEMFD;
	e.hdr.flags |= VG_HF_TTY;
	ev.exec_entry = true;
	c.enrich = VG_ENRICH_PENDING;

	const char *l = encode_detail(&ev, VG_DETAIL_COMPACT);
	assert_int_equal(jq(l, ".vigil.exec == {\"truncated\": true, \"exe_memfd\": true} and "
			       ".process.args_count == 300"), 0);
	assert_int_equal(jq(l, ".process.interactive == true and .vigil.entry == \"exec\" and "
			       ".vigil.enrichment == \"pending\""), 0);

	/* the resolved path, when it differs from the one asked for */
	exec_in_container(&e, &ev, &c, &parent, &init);
	ev.rec.exec.exe = "/tmp/kworker";
	l = encode_detail(&ev, VG_DETAIL_COMPACT);
	assert_int_equal(jq(l, ".vigil.exec == {\"exe\": \"/tmp/kworker\"}"), 0);
	ev.rec.exec.exe = ev.rec.exec.filename;
	l = encode_detail(&ev, VG_DETAIL_COMPACT);
	assert_int_equal(jq(l, "has(\"vigil\") and (.vigil | has(\"exec\") | not)"), 0);
}

/* the "container" member of the line just encoded, up to "vigil" */
static const char *ctr_json(char *dst, size_t n, struct vg_ev *ev, enum vg_encode_detail d)
{
	const char *l = encode_detail(ev, d), *a = strstr(l, "\"container\":");
	const char *z = a ? strstr(a, ",\"vigil\":") : NULL;

	assert_non_null(z);
	snprintf(dst, n, "%.*s", (int)(z - a), a);
	return dst;
}

/*
 * A container's JSON is kept by version: reused while the version holds
 * (even over a field changed behind the table's back: the version is the
 * table's word that nothing changed), encoded afresh for a new version,
 * per detail, and never kept for a container with no version.
 */
static void test_container_json_by_version(void **state)
{
	(void)state;
	struct vg_exec e;
	struct vg_ev ev;
	struct vg_container c, d;
	struct vg_proc parent, init;
	char a0[2048], a1[2048], b0[2048];

	exec_in_container(&e, &ev, &c, &parent, &init);
	c.version = 0;
	ctr_json(a0, sizeof(a0), &ev, VG_DETAIL_COMPACT);
	strcpy(c.name, "api");
	ctr_json(a1, sizeof(a1), &ev, VG_DETAIL_COMPACT);
	assert_non_null(strstr(a1, "\"name\":\"api\""));

	/* a version: kept, compact and full apart */
	c.version = 1000001;
	ctr_json(a0, sizeof(a0), &ev, VG_DETAIL_COMPACT);
	assert_string_equal(a0, a1);
	ctr_json(b0, sizeof(b0), &ev, VG_DETAIL_FULL);
	assert_non_null(strstr(b0, "\"labels\":{\"tier\":\"db\"}"));
	strcpy(c.name, "changed-behind");
	assert_string_equal(ctr_json(a0, sizeof(a0), &ev, VG_DETAIL_COMPACT), a1);
	assert_non_null(strstr(ctr_json(a0, sizeof(a0), &ev, VG_DETAIL_FULL), "\"name\":\"api\""));

	/* the next version is encoded again */
	c.version = 1000002;
	ctr_json(a0, sizeof(a0), &ev, VG_DETAIL_COMPACT);
	assert_non_null(strstr(a0, "\"name\":\"changed-behind\""));

	/* two containers whose versions share a slot take turns in it */
	d = c;
	d.version = 1000006;
	strcpy(d.name, "other");
	memset(d.cg.id, 'c', 64);
	ev.ctr = &d;
	assert_non_null(strstr(ctr_json(a0, sizeof(a0), &ev, VG_DETAIL_COMPACT),
			       "\"id\":\"cccccccccccc\",\"runtime\":\"docker\",\"name\":\"other\""));
	ev.ctr = &c;
	assert_non_null(strstr(ctr_json(a0, sizeof(a0), &ev, VG_DETAIL_COMPACT),
			       "\"id\":\"bbbbbbbbbbbb\",\"runtime\":\"docker\",\"name\":\"changed-behind\""));

	/* longer than a slot once escaped: encoded every time */
	c.version = 1000003;
	memset(c.name, '\x01', sizeof(c.name) - 1);
	c.name[sizeof(c.name) - 1] = '\0';
	ctr_json(a0, sizeof(a0), &ev, VG_DETAIL_COMPACT);
	c.name[0] = 'x';
	assert_non_null(strstr(ctr_json(a0, sizeof(a0), &ev, VG_DETAIL_COMPACT), "\"name\":\"x\\u0001"));
	char want[64];
	snprintf(want, sizeof(want), ".container.name | length == %zu", sizeof(c.name) - 1);
	assert_int_equal(jq(encode_detail(&ev, VG_DETAIL_COMPACT), want), 0);
}

/*
 * The "event" object is kept per record type and chosen by its strings:
 * each change of action, outcome, detail or kind shows, and a kind is
 * taken by its address (a constant, as the header asks).
 */
static void test_event_object_per_strings(void **state)
{
	(void)state;
	static const struct {
		unsigned op;
		int result;
		unsigned mflags;
		enum vg_encode_detail d;
		const char *want;
	} cases[] = {
		{VG_MNT_MOUNT, 0, 0, VG_DETAIL_COMPACT, "{\"kind\":\"event\",\"category\":[\"file\"],"
		 "\"type\":[\"change\"],\"action\":\"mount\",\"outcome\":\"success\"}"},
		{VG_MNT_MOUNT, 0, 0, VG_DETAIL_COMPACT, "\"action\":\"mount\",\"outcome\":\"success\"}"},
		{VG_MNT_UMOUNT, 0, 0, VG_DETAIL_COMPACT, "\"action\":\"umount\",\"outcome\":\"success\"}"},
		{VG_MNT_UMOUNT, -1, 0, VG_DETAIL_COMPACT, "\"action\":\"umount\",\"outcome\":\"failure\"}"},
		{VG_MNT_OPEN_TREE_ATTR, 5, 0, VG_DETAIL_COMPACT,
		 "\"action\":\"open_tree_attr\",\"outcome\":\"success\"}"},
		{VG_MNT_UMOUNT, 0, VG_MNT_NO_RESULT, VG_DETAIL_COMPACT, "\"outcome\":\"unknown\"}"},
		{VG_MNT_UMOUNT, 0, VG_MNT_NO_RESULT, VG_DETAIL_FULL,
		 "\"outcome\":\"unknown\",\"module\":\"vigil\",\"dataset\":\"mount\"}"},
		{99, 0, 0, VG_DETAIL_FULL, "\"action\":\"unknown\",\"outcome\":\"success\",\"module\""},
		{VG_MNT_MOUNT, 0, 0, VG_DETAIL_COMPACT, "\"action\":\"mount\",\"outcome\":\"success\"}"},
	};
	struct vg_mount m;
	struct vg_ev ev;
	struct vg_buf b;
	char kind[] = "alert", want[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&m, 0, sizeof(m));
		fill_hdr(&m.hdr, VG_EV_MOUNT, sizeof(m));
		m.op = cases[i].op;
		m.result = cases[i].result;
		m.mflags = cases[i].mflags;
		ev = (struct vg_ev){.rec = {.hdr = &m.hdr, .type = VG_EV_MOUNT, .mount = &m}};
		/* a whole object, or its end */
		snprintf(want, sizeof(want), "%s%s", cases[i].want[0] == '{' ? "\"event\":" : "",
			 cases[i].want);
		assert_non_null(strstr(encode_detail(&ev, cases[i].d), want));
	}

	/* another kind, then the same address with other bytes: still "alert" */
	vg_buf_init(&b, out, sizeof(out));
	vg_json_obj_open(&b);
	vg_encode_event_fields(&b, &ev, kind);
	assert_non_null(strstr(out, "\"event\":{\"kind\":\"alert\",\"category\":[\"file\"]"));
	memcpy(kind, "bogus", 5);
	vg_buf_init(&b, out, sizeof(out));
	vg_json_obj_open(&b);
	vg_encode_event_fields(&b, &ev, kind);
	assert_non_null(strstr(out, "\"event\":{\"kind\":\"alert\""));
	assert_non_null(strstr(encode(&ev), "\"event\":{\"kind\":\"event\""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect_v4_mapped_failure),
		cmocka_unit_test(test_addr_v4_like_inet_ntop),
		cmocka_unit_test(test_exec_hostile_strings),
		cmocka_unit_test(test_mount_denied),
		cmocka_unit_test(test_mount_unknown),
		cmocka_unit_test(test_process_messages),
		cmocka_unit_test(test_overflow_reported),
		cmocka_unit_test(test_oom_pid_only),
		cmocka_unit_test(test_exec_compact),
		cmocka_unit_test(test_compact_keeps_exceptions),
		cmocka_unit_test(test_container_json_by_version),
		cmocka_unit_test(test_event_object_per_strings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
