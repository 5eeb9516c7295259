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

static const char *encode(struct vg_ev *ev)
{
	struct vg_buf b;
	vg_buf_init(&b, out, sizeof(out));
	assert_int_equal(vg_encode_event(&b, ev), 0);
	assert_true(b.len > 0 && out[b.len - 1] == '\n');
	return out;
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
	assert_string_equal(msg, "exit code 9");

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
	assert_int_equal(vg_encode_event(&b, &ev), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect_v4_mapped_failure),
		cmocka_unit_test(test_exec_hostile_strings),
		cmocka_unit_test(test_mount_denied),
		cmocka_unit_test(test_mount_unknown),
		cmocka_unit_test(test_process_messages),
		cmocka_unit_test(test_overflow_reported),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
