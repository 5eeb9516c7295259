/* Unit tests for Docker state parsing and the unix-socket HTTP client. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixtures.h"
#include "vigil/docker.h"
#include "vigil/jsonp.h"

#define WEB_ID "e6253c8a2fb01982c8e29d2efb2749760524ebc63786fd74a66fe1c4e796be1f"
#define OTHER_ID "72b8636776868522759c7ee6d1f722879c637a0eeb885485cb597f288a77fc44"
#define MARKER "VIGILMARKER"

static void assert_no_marker(const struct vg_container *c)
{
	assert_null(memmem(c, sizeof(*c), MARKER, strlen(MARKER)));
	assert_null(memmem(c, sizeof(*c), "s3cr3t", 6));
	assert_null(memmem(c, sizeof(*c), "secretvalue", 11));
}

static void parse_file(const char *name, int (*fn)(const char *, size_t, struct vg_container *),
		       struct vg_container *c)
{
	size_t len = 0;
	char *buf = fixture_load(name, &len);

	assert_non_null(buf);
	assert_int_equal(fn(buf, len, c), 0);
	free(buf);
}

static bool has_env(const struct vg_container *c, const char *n)
{
	for (unsigned i = 0; i < c->nenv; i++)
		if (!strcmp(c->env_names[i], n))
			return true;
	return false;
}

/* The vulnerable-style container: ports on all addresses, caps, socket mount. */
static void check_web_app(const struct vg_container *c)
{
	assert_string_equal(c->name, "web_app");
	assert_string_equal(c->image, "vigil-test-bb");
	assert_string_equal(c->image_id,
			    "sha256:04c9c7f016b0ce7b6f4d0d16d4f77959524cb1419c415c45dc5cc78e1ce225fe");
	assert_string_equal(c->cmd, "/bin/sh -c sleep 300");
	assert_int_equal(c->nlabels, 2);
	assert_string_equal(vg_container_label(c, "app"), "api");
	assert_string_equal(vg_container_label(c, "com.example.team"), "payments");
	assert_null(vg_container_label(c, "nope"));
	assert_true(c->running);
	assert_int_equal(c->pid, 7887);
	assert_true(c->started_ns == 1796392924545827697LL);
	assert_int_equal(c->nenv, 2);
	assert_true(has_env(c, "DB_PASSWORD"));
	assert_true(has_env(c, "API_TOKEN"));
	assert_no_marker(c);
	assert_string_equal(c->user, "");
	assert_false(c->privileged);
	assert_false(c->readonly_rootfs);
	assert_false(c->no_new_privileges);
	assert_string_equal(c->network_mode, "default");
	assert_string_equal(c->ipc_mode, "private");
	assert_string_equal(c->pid_mode, "");
	assert_true(c->memory_limit == 0);
	assert_true(c->pids_limit == 0);
	assert_int_equal(c->ncap_add, 1);
	assert_string_equal(c->cap_add[0], "NET_ADMIN");
	assert_int_equal(c->ncap_drop, 1);
	assert_string_equal(c->cap_drop[0], "MKNOD");
	assert_int_equal(c->nports, 2);
	for (unsigned i = 0; i < c->nports; i++) {
		const struct vg_port_binding *p = &c->ports[i];

		if (p->container_port == 6379) {
			assert_string_equal(p->proto, "tcp");
			assert_string_equal(p->host_ip, "0.0.0.0");
			assert_int_equal(p->host_port, 16379);
		} else {
			assert_int_equal(p->container_port, 80);
			assert_string_equal(p->proto, "udp");
			assert_string_equal(p->host_ip, "127.0.0.1");
			assert_int_equal(p->host_port, 18080);
		}
	}
	assert_int_equal(c->nmounts, 2);
	bool sock = false, data = false;
	for (unsigned i = 0; i < c->nmounts; i++) {
		const struct vg_mount_spec *m = &c->mounts[i];

		assert_string_equal(m->type, "bind");
		if (!strcmp(m->destination, "/var/run/docker.sock")) {
			sock = true;
			assert_string_equal(m->source, "/var/run/docker.sock");
			assert_false(m->rw);
		} else if (!strcmp(m->destination, "/data")) {
			data = true;
			assert_string_equal(m->source, "/tmp/vigil-fixture-data");
			assert_true(m->rw);
		}
	}
	assert_true(sock && data);
	assert_int_equal(c->parse_errors, 0);
}

static void check_hardened(const struct vg_container *c)
{
	assert_string_equal(c->name, "hardened");
	assert_string_equal(c->cmd, "sleep 300");
	assert_string_equal(c->user, "1000:1000");
	assert_string_equal(vg_container_label(c, "tier"), "backend");
	assert_true(c->readonly_rootfs);
	assert_true(c->no_new_privileges);
	assert_true(c->memory_limit == 64 * 1024 * 1024);
	assert_true(c->nano_cpus == 500000000);
	assert_true(c->pids_limit == 64);
	assert_string_equal(c->network_mode, "none");
	assert_int_equal(c->ncap_add, 0);
	assert_int_equal(c->ncap_drop, 1);
	assert_string_equal(c->cap_drop[0], "ALL");
	assert_int_equal(c->nports, 0);
	assert_int_equal(c->nmounts, 0);
	assert_int_equal(c->parse_errors, 0);
}

static void test_state_files(void **state)
{
	struct vg_container c = {0};

	parse_file("docker_web_app.config.v2.json", vg_docker_parse_config, &c);
	parse_file("docker_web_app.hostconfig.json", vg_docker_parse_hostconfig, &c);
	check_web_app(&c);

	memset(&c, 0, sizeof(c));
	parse_file("docker_hardened.config.v2.json", vg_docker_parse_config, &c);
	parse_file("docker_hardened.hostconfig.json", vg_docker_parse_hostconfig, &c);
	check_hardened(&c);
}

static void test_api_response(void **state)
{
	struct vg_container c = {0};

	parse_file("docker_web_app.api.json", vg_docker_parse_inspect, &c);
	check_web_app(&c);
	memset(&c, 0, sizeof(c));
	parse_file("docker_hardened.api.json", vg_docker_parse_inspect, &c);
	check_hardened(&c);
}

static void test_time(void **state)
{
	assert_true(vg_docker_time("1970-01-01T00:00:01Z") == 1000000000LL);
	assert_true(vg_docker_time("1970-01-01T00:00:01.5Z") == 1500000000LL);
	assert_true(vg_docker_time("1970-01-01T01:00:00+01:00") == 0);
	assert_true(vg_docker_time("1970-01-01T00:00:10-00:01") == 70000000000LL);
	assert_true(vg_docker_time("0001-01-01T00:00:00Z") == 0);
	assert_true(vg_docker_time("garbage") == 0);
	/* the last second whose nanoseconds fit an int64_t, and past it */
	assert_true(vg_docker_time("2262-04-11T23:47:15Z") == 9223372035000000000LL);
	assert_true(vg_docker_time("2262-04-11T23:47:16Z") == 0);
	assert_true(vg_docker_time("9999-12-31T23:59:59Z") == 0);
	assert_true(vg_docker_time("2026-13-01T00:00:00Z") == 0);
	assert_true(vg_docker_time("2026-01-01T00:00:00Zjunk") == 0);
	/* short offsets end at their NUL (ASan would see a read past it) */
	char *t = strdup("2026-01-01T00:00:00+");
	assert_true(vg_docker_time(t) == 0);
	free(t);
	t = strdup("2026-01-01T00:00:00+01");
	assert_true(vg_docker_time(t) == 0);
	free(t);
	t = strdup("2026-01-01T00:00:00+01:0");
	assert_true(vg_docker_time(t) == 0);
	free(t);
}

/* Escapes and bad bytes come through as data, bounded; wrong types are
 * counted; the env value after an escaped '=' is not kept. */
static void test_hostile_values(void **state)
{
	struct vg_container c = {0};
	parse_file("docker_hostile.config.v2.json", vg_docker_parse_config, &c);
	assert_memory_equal(c.name, "evil\x1b[31mred\x07", 13);
	assert_int_equal(c.pid, 0);
	assert_true(c.started_ns == 0);
	assert_true(c.parse_errors >= 2); /* Source: 1, RW: "yes" */
	assert_int_equal(c.nenv, 2);      /* "=noname" has no name */
	assert_string_equal(c.env_names[0], "X");
	assert_string_equal(c.env_names[1], "PLAIN");
	assert_no_marker(&c);
	/* label key with \u0000 is cut there */
	assert_string_equal(c.labels[0].key, "k");
}

static void test_truncated_and_wrong_root(void **state)
{
	struct vg_container c = {0}, zero = {0};
	size_t len = 0;
	char *buf = fixture_load("docker_truncated.config.v2.json", &len);

	assert_non_null(buf);
	assert_int_equal(vg_docker_parse_config(buf, len, &c), -EINVAL);
	assert_memory_equal(&c, &zero, sizeof(c));
	free(buf);
	assert_int_equal(vg_docker_parse_config("[1,2]", 5, &c), -EINVAL);
	assert_int_equal(vg_docker_parse_inspect("\"x\"", 3, &c), -EINVAL);
	/* wrong types everywhere: counted, nothing crashes */
	const char *odd = "{\"Name\":5,\"Config\":[],\"State\":\"x\",\"Path\":{},"
			  "\"HostConfig\":{\"Privileged\":\"yes\",\"Memory\":\"1g\",\"CapAdd\":\"NET_RAW\","
			  "\"PortBindings\":{\"abc/tcp\":[{\"HostPort\":\"99999\"}],\"80/tcp\":7}},"
			  "\"Mounts\":[1,{\"RW\":1}]}";
	memset(&c, 0, sizeof(c));
	assert_int_equal(vg_docker_parse_inspect(odd, strlen(odd), &c), 0);
	assert_true(c.parse_errors >= 7);
	assert_false(c.privileged);
	assert_int_equal(c.nports, 0);
}

/* Two label keys the image set apart that meet once cut (at the key size,
 * at a \u0000): one key, the first one's, never the same key twice. */
static void test_label_keys_unique(void **state)
{
	char s[1024], key[200];
	size_t n = 0;
	struct vg_container c = {0};

	memset(key, 'a', 150);
	key[150] = '\0';
	n += (size_t)sprintf(s + n, "{\"Config\":{\"Labels\":{");
	n += (size_t)sprintf(s + n, "\"%sx\":\"1\",\"%sy\":\"2\",", key, key);
	n += (size_t)sprintf(s + n, "\"k\\u0000one\":\"3\",\"k\\u0000two\":\"4\",\"k\":\"5\"}}}");
	assert_int_equal(vg_docker_parse_config(s, n, &c), 0);
	assert_int_equal(c.nlabels, 2);
	assert_int_equal(strlen(c.labels[0].key), VG_CTR_LABEL_KEY_MAX - 1);
	assert_string_equal(c.labels[0].value, "1");
	assert_string_equal(c.labels[1].key, "k");
	assert_string_equal(c.labels[1].value, "3");
	/* added one by one, the same */
	vg_container_add_label(&c, "k", "6");
	assert_int_equal(c.nlabels, 2);
	assert_string_equal(vg_container_label(&c, "k"), "3");
}

/* -p 8000-8010:80: a range of host ports, read as its first; bad ranges
 * are malformed */
static void test_port_ranges(void **state)
{
	const char *ok = "{\"HostConfig\":{\"PortBindings\":{\"80/tcp\":[{\"HostIp\":\"\","
			 "\"HostPort\":\"8000-8010\"}],\"6379/tcp\":[{\"HostPort\":\"6379\"}]}}}";
	const char *bad = "{\"HostConfig\":{\"PortBindings\":{\"80/tcp\":[{\"HostPort\":"
			  "\"9000-8000\"},{\"HostPort\":\"8000-99999\"},{\"HostPort\":\"8000-\"}]}}}";
	struct vg_container c = {0};

	assert_int_equal(vg_docker_parse_inspect(ok, strlen(ok), &c), 0);
	assert_int_equal(c.parse_errors, 0);
	assert_int_equal(c.nports, 2);
	assert_int_equal(c.ports[0].host_port, 8000);
	assert_int_equal(c.ports[0].container_port, 80);
	assert_int_equal(c.ports[1].host_port, 6379);
	memset(&c, 0, sizeof(c));
	assert_int_equal(vg_docker_parse_inspect(bad, strlen(bad), &c), 0);
	assert_int_equal(c.parse_errors, 3);
}

/* docker run -P: every port the image exposes, published on all
 * addresses (the host port Docker picks is not known here) */
static void test_publish_all(void **state)
{
	const char *doc = "{\"Config\":{\"ExposedPorts\":{\"6379/tcp\":{},\"8080/tcp\":{}}},"
			  "\"HostConfig\":{\"PublishAllPorts\":true,\"PortBindings\":{\"8080/tcp\":"
			  "[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"8080\"}]}}}";
	const char *cfg = "{\"Config\":{\"ExposedPorts\":{\"6379/tcp\":{}}}}";
	const char *hcfg = "{\"PublishAllPorts\":true}";
	struct vg_container c = {0};

	assert_int_equal(vg_docker_parse_inspect(doc, strlen(doc), &c), 0);
	assert_int_equal(c.parse_errors, 0);
	assert_true(c.publish_all);
	assert_int_equal(c.nports, 2);
	assert_string_equal(c.ports[0].host_ip, "127.0.0.1"); /* bound: as bound */
	assert_int_equal(c.ports[1].container_port, 6379);
	assert_string_equal(c.ports[1].host_ip, "");
	assert_string_equal(c.ports[1].proto, "tcp");
	/* the state files: config.v2.json, then hostconfig.json */
	memset(&c, 0, sizeof(c));
	assert_int_equal(vg_docker_parse_config(cfg, strlen(cfg), &c), 0);
	assert_int_equal(c.nports, 0);
	assert_int_equal(vg_docker_parse_hostconfig(hcfg, strlen(hcfg), &c), 0);
	assert_int_equal(c.nports, 1);
	assert_int_equal(c.ports[0].container_port, 6379);
}

/* Huge labels, many labels, many env entries, deep nesting: capped. */
static void test_huge_and_deep(void **state)
{
	size_t cap = 2 * 1024 * 1024, n = 0;
	char *s = malloc(cap);
	struct vg_container c = {0};

	assert_non_null(s);
	n += (size_t)sprintf(s + n, "{\"Name\":\"/");
	memset(s + n, 'N', 5000);
	n += 5000;
	n += (size_t)sprintf(s + n, "\",\"Config\":{\"Labels\":{\"big\":\"");
	memset(s + n, 'L', 60000);
	n += 60000;
	n += (size_t)sprintf(s + n, "\"");
	for (int i = 0; i < 100; i++)
		n += (size_t)sprintf(s + n, ",\"l%d\":\"v\"", i);
	n += (size_t)sprintf(s + n, "},\"Env\":[");
	for (int i = 0; i < 100; i++)
		n += (size_t)sprintf(s + n, "%s\"E%d=" MARKER "\"", i ? "," : "", i);
	n += (size_t)sprintf(s + n, "]}}");
	assert_int_equal(vg_docker_parse_config(s, n, &c), 0);
	assert_int_equal(strlen(c.name), VG_CTR_NAME_MAX - 1);
	assert_int_equal(c.nlabels, VG_CTR_LABELS_MAX);
	assert_true(c.labels_truncated);
	assert_int_equal(strlen(c.labels[0].value), VG_CTR_LABEL_VAL_MAX - 1);
	assert_int_equal(c.nenv, VG_CTR_ENV_MAX);
	assert_no_marker(&c);

	/* 100k nested arrays: refused, no stack overflow */
	n = 0;
	n += (size_t)sprintf(s, "{\"Config\":");
	for (int i = 0; i < 100000; i++)
		s[n++] = '[';
	for (int i = 0; i < 100000; i++)
		s[n++] = ']';
	s[n++] = '}';
	memset(&c, 0, sizeof(c));
	assert_int_equal(vg_docker_parse_config(s, n, &c), -E2BIG);
	free(s);
}

/* Mutated real documents never crash the parsers (run under SAN=1 too). */
static void test_mutations(void **state)
{
	static const char alphabet[] = "[]{}\",:0-9tfn\\ u";
	size_t len = 0;
	char *orig = fixture_load("docker_web_app.api.json", &len);
	char *buf = malloc(len + 1);
	unsigned seed = 4242, parsed = 0;

	assert_non_null(orig);
	assert_non_null(buf);
	for (int round = 0; round < 3000; round++) {
		struct vg_container c = {0};

		memcpy(buf, orig, len + 1);
		for (int k = 0; k < 1 + round % 4; k++) {
			seed = seed * 1103515245u + 12345u;
			buf[(seed >> 4) % len] = alphabet[(seed >> 20) % (sizeof(alphabet) - 1)];
		}
		if (vg_docker_parse_inspect(buf, len, &c) == 0) {
			parsed++;
			assert_true(strnlen(c.name, sizeof(c.name)) < sizeof(c.name));
			assert_true(c.nports <= VG_CTR_PORTS_MAX && c.nmounts <= VG_CTR_MOUNTS_MAX);
			assert_true(c.nlabels <= VG_CTR_LABELS_MAX && c.nenv <= VG_CTR_ENV_MAX);
		}
		vg_docker_parse_config(buf, len, &c);
		vg_docker_parse_hostconfig(buf, len, &c);
	}
	assert_true(parsed > 0); /* some mutations stay valid JSON and go deep */
	free(buf);
	free(orig);
}

/* ---- state folders on disk ---- */

static char tmpdir[64];

static void copy_fixture(const char *name, const char *rel)
{
	assert_int_equal(fixture_copy(tmpdir, name, rel), 0);
}

static void test_read_state_dir(void **state)
{
	struct vg_container c = {0};
	char path[256];

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vigil-docker-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	copy_fixture("docker_web_app.config.v2.json", "containers/" WEB_ID "/config.v2.json");
	copy_fixture("docker_web_app.hostconfig.json", "containers/" WEB_ID "/hostconfig.json");

	assert_int_equal(vg_docker_read_state(tmpdir, WEB_ID, &c), 0);
	check_web_app(&c);
	assert_int_equal(c.enrich, VG_ENRICH_DONE);
	assert_string_equal(c.source, "docker-state");

	/* bad ids never reach the file system */
	assert_int_equal(vg_docker_read_state(tmpdir, "../../etc", &c), -EINVAL);
	assert_int_equal(vg_docker_read_state(tmpdir, WEB_ID "0", &c), -EINVAL);

	/* a symlinked container folder is refused */
	char other[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	char target[256];
	snprintf(path, sizeof(path), "%s/containers/%s", tmpdir, other);
	snprintf(target, sizeof(target), "%s/containers/" WEB_ID, tmpdir);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(vg_docker_read_state(tmpdir, other, &c), -ELOOP);

	/* a symlinked config file is refused */
	char third[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
	snprintf(path, sizeof(path), "%s/containers/%s", tmpdir, third);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/containers/%s/config.v2.json", tmpdir, third);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	assert_int_equal(vg_docker_read_state(tmpdir, third, &c), -ELOOP);

	/* an oversized config file is refused */
	char fourth[] = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
	snprintf(path, sizeof(path), "%s/containers/%s", tmpdir, fourth);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/containers/%s/config.v2.json", tmpdir, fourth);
	int fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, VG_JSONP_FILE_MAX + 1), 0);
	close(fd);
	assert_int_equal(vg_docker_read_state(tmpdir, fourth, &c), -EFBIG);

	/* a FIFO in place of the file is refused without blocking */
	char fifth[] = "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd";
	snprintf(path, sizeof(path), "%s/containers/%s", tmpdir, fifth);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/containers/%s/config.v2.json", tmpdir, fifth);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(vg_docker_read_state(tmpdir, fifth, &c), -EINVAL);

	/* missing */
	char sixth[] = "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee";
	assert_int_equal(vg_docker_read_state(tmpdir, sixth, &c), -ENOENT);

	assert_int_equal(fixture_rmtree(tmpdir), 0);
}

/* ---- fake Engine API ---- */

enum srv_mode { SRV_LENGTH, SRV_CHUNKED, SRV_CLOSE, SRV_HANG, SRV_TRICKLE, SRV_HUGE, SRV_404,
		SRV_GARBAGE, SRV_EMPTYLEN, SRV_JUNKLEN, SRV_HUGECHUNK, SRV_BACKLOG };

struct srv {
	int lfd;
	enum srv_mode mode;
	int stop[2]; /* the test writes here to end a hanging server */
	char path[108];
	char req[1024];
	pthread_t th;
};

static void send_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);

		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static void *srv_main(void *arg)
{
	struct srv *s = arg;
	char hdr[256];

	if (s->mode == SRV_BACKLOG) {
		/* a busy daemon: its backlog holds a client already; it takes
		 * that one a while later, then the next */
		struct pollfd p = {.fd = s->stop[0], .events = POLLIN};
		int first;

		if (poll(&p, 1, 150) != 0 || (first = accept(s->lfd, NULL, NULL)) < 0)
			return NULL;
		close(first);
		s->mode = SRV_LENGTH;
	}
	int fd = accept(s->lfd, NULL, NULL);
	size_t blen = 0;
	char *body;

	if (fd < 0)
		return NULL;
	ssize_t r = recv(fd, s->req, sizeof(s->req) - 1, 0);
	if (r > 0)
		s->req[r] = '\0';
	body = fixture_load("docker_web_app.api.json", &blen);
	switch (s->mode) {
	case SRV_BACKLOG: /* answered as SRV_LENGTH */
	case SRV_LENGTH:
		snprintf(hdr, sizeof(hdr),
			 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
			 blen);
		send_all(fd, hdr, strlen(hdr));
		send_all(fd, body, blen);
		break;
	case SRV_CHUNKED: {
		snprintf(hdr, sizeof(hdr), "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
		send_all(fd, hdr, strlen(hdr));
		for (size_t off = 0; off < blen; off += 1000) {
			size_t n = blen - off < 1000 ? blen - off : 1000;
			char ch[32];

			snprintf(ch, sizeof(ch), "%zx;ext=1\r\n", n);
			send_all(fd, ch, strlen(ch));
			send_all(fd, body + off, n);
			send_all(fd, "\r\n", 2);
		}
		send_all(fd, "0\r\n\r\n", 5);
		/* keep the connection open: the client must stop at the last chunk */
		char x;
		(void)read(s->stop[0], &x, 1);
		break;
	}
	case SRV_CLOSE:
		snprintf(hdr, sizeof(hdr), "HTTP/1.0 200 OK\r\n\r\n");
		send_all(fd, hdr, strlen(hdr));
		send_all(fd, body, blen);
		break;
	case SRV_HANG: {
		char x;
		(void)read(s->stop[0], &x, 1);
		break;
	}
	case SRV_TRICKLE: {
		/* a byte every 50 ms: each recv succeeds, the total bound must hold */
		snprintf(hdr, sizeof(hdr), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", blen);
		send_all(fd, hdr, strlen(hdr));
		for (size_t i = 0; i < blen; i++) {
			struct pollfd p = {.fd = s->stop[0], .events = POLLIN};

			if (poll(&p, 1, 50) > 0)
				break;
			send_all(fd, body + i, 1);
		}
		break;
	}
	case SRV_HUGE:
		snprintf(hdr, sizeof(hdr), "HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n");
		send_all(fd, hdr, strlen(hdr));
		break;
	case SRV_404:
		snprintf(hdr, sizeof(hdr),
			 "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}");
		send_all(fd, hdr, strlen(hdr));
		break;
	case SRV_GARBAGE:
		send_all(fd, "SSH-2.0-nope\r\n\r\n", 16);
		break;
	case SRV_EMPTYLEN:
		/* an empty value: the body's "1" must not be read as the length */
		snprintf(hdr, sizeof(hdr), "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n1\r\n");
		send_all(fd, hdr, strlen(hdr));
		break;
	case SRV_JUNKLEN:
		snprintf(hdr, sizeof(hdr), "HTTP/1.1 200 OK\r\nContent-Length: 2junk\r\n\r\n{}");
		send_all(fd, hdr, strlen(hdr));
		break;
	case SRV_HUGECHUNK:
		/* the largest chunk size there is (size + 2 wraps with a 32-bit
		 * size_t), two bytes of it, and the close */
		snprintf(hdr, sizeof(hdr),
			 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffff\r\n{}");
		send_all(fd, hdr, strlen(hdr));
		break;
	}
	free(body);
	close(fd);
	return NULL;
}

static void srv_start(struct srv *s, enum srv_mode mode)
{
	memset(s, 0, sizeof(*s));
	s->mode = mode;
	snprintf(s->path, sizeof(s->path), "/tmp/vigil-test-%d.sock", (int)getpid());
	s->lfd = fixture_listen(s->path);
	assert_true(s->lfd >= 0);
	assert_int_equal(pipe(s->stop), 0);
	assert_int_equal(pthread_create(&s->th, NULL, srv_main, s), 0);
}

static void srv_stop(struct srv *s)
{
	assert_int_equal(write(s->stop[1], "x", 1), 1);
	pthread_join(s->th, NULL);
	close(s->lfd);
	close(s->stop[0]);
	close(s->stop[1]);
	unlink(s->path);
}

static void test_http_framings(void **state)
{
	static const enum srv_mode modes[] = {SRV_LENGTH, SRV_CHUNKED, SRV_CLOSE};
	size_t cap = VG_HTTP_RESP_MAX;
	char *buf = malloc(cap);

	assert_non_null(buf);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct vg_container c = {0};
		struct srv s;

		srv_start(&s, modes[i]);
		assert_int_equal(vg_docker_inspect(s.path, WEB_ID, 2000, &c), 0);
		check_web_app(&c);
		assert_string_equal(c.source, "docker-api");
		assert_non_null(strstr(s.req, "GET /containers/" WEB_ID "/json HTTP/1.1\r\n"));
		assert_non_null(strstr(s.req, "Host: "));
		srv_stop(&s);
	}
	free(buf);
}

static void test_http_errors(void **state)
{
	struct vg_container c = {0};
	char buf[4096];
	size_t len;
	int status;
	struct srv s;

	srv_start(&s, SRV_404);
	assert_int_equal(vg_docker_inspect(s.path, WEB_ID, 2000, &c), -ENOENT);
	srv_stop(&s);

	/* an answer about another container (the Engine also looks names
	 * up, and a name may be 64 hex digits) is not taken */
	srv_start(&s, SRV_LENGTH);
	assert_int_equal(vg_docker_inspect(s.path, OTHER_ID, 2000, &c), -ENOENT);
	assert_string_equal(c.name, "");
	srv_stop(&s);

	srv_start(&s, SRV_HUGE);
	assert_int_equal(vg_http_get_unix(s.path, "/x", 2000, buf, sizeof(buf), &len, &status),
			 -EFBIG);
	srv_stop(&s);

	static const enum srv_mode bad[] = {SRV_GARBAGE, SRV_EMPTYLEN, SRV_JUNKLEN, SRV_HUGECHUNK};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		srv_start(&s, bad[i]);
		assert_int_equal(
			vg_http_get_unix(s.path, "/x", 2000, buf, sizeof(buf), &len, &status),
			-EPROTO);
		srv_stop(&s);
	}

	/* a body that does not fit the caller's buffer */
	srv_start(&s, SRV_CLOSE);
	assert_int_equal(vg_http_get_unix(s.path, "/x", 2000, buf, 512, &len, &status), -EFBIG);
	srv_stop(&s);

	/* nobody listening */
	assert_int_equal(vg_http_get_unix("/tmp/vigil-no-such.sock", "/x", 200, buf, sizeof(buf),
					  &len, &status),
			 -ENOENT);
	/* request smuggling through the path is refused */
	assert_int_equal(vg_http_get_unix("/tmp/x.sock", "/x HTTP/1.1\r\nX: y", 200, buf,
					  sizeof(buf), &len, &status),
			 -EINVAL);
}

/* A listener whose backlog is full: the request waits for room (a unix
 * socket's non-blocking connect would fail and stay unconnected) */
static void test_http_backlog_full(void **state)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct vg_container c = {0};
	struct srv s;
	int filler;

	srv_start(&s, SRV_BACKLOG);
	assert_int_equal(listen(s.lfd, 0), 0);
	memcpy(sa.sun_path, s.path, strlen(s.path));
	filler = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(connect(filler, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(vg_docker_inspect(s.path, WEB_ID, 5000, &c), 0);
	check_web_app(&c);
	srv_stop(&s);
	close(filler);
}

static void test_http_timeouts(void **state)
{
	struct vg_container c = {0};
	struct srv s;

	srv_start(&s, SRV_HANG);
	assert_int_equal(vg_docker_inspect(s.path, WEB_ID, 200, &c), -ETIMEDOUT);
	srv_stop(&s);

	srv_start(&s, SRV_TRICKLE);
	assert_int_equal(vg_docker_inspect(s.path, WEB_ID, 300, &c), -ETIMEDOUT);
	srv_stop(&s);
	assert_int_equal(c.enrich, VG_ENRICH_PENDING);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_files),
		cmocka_unit_test(test_api_response),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_hostile_values),
		cmocka_unit_test(test_truncated_and_wrong_root),
		cmocka_unit_test(test_label_keys_unique),
		cmocka_unit_test(test_port_ranges),
		cmocka_unit_test(test_publish_all),
		cmocka_unit_test(test_huge_and_deep),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_read_state_dir),
		cmocka_unit_test(test_http_framings),
		cmocka_unit_test(test_http_errors),
		cmocka_unit_test(test_http_backlog_full),
		cmocka_unit_test(test_http_timeouts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
