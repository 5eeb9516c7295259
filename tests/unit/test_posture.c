/* posture: every finding from fixture configurations, config, grade,
 * context line, JSON records, table, and the secret-value guarantee. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixtures.h"
#include "vigil/config.h"
#include "vigil/docker.h"
#include "vigil/incident.h"
#include "vigil/posture.h"
#include "vigil/rules.h"

#define MARKER "MARKER_fixture_zz9"

/* ---- collecting findings ---- */

#define MAXF 128

struct got {
	struct vg_finding f[MAXF];
	unsigned n;
};

static int collect(void *ctx, const struct vg_finding *f)
{
	struct got *g = ctx;

	assert_true(g->n < MAXF);
	g->f[g->n++] = *f;
	return 0;
}

static int eval(const struct vg_posture_cfg *cfg, const struct vg_container *c, struct got *g)
{
	memset(g, 0, sizeof(*g));
	return vg_posture_eval(cfg, c, collect, g);
}

static unsigned count(const struct got *g, enum vg_pfind id)
{
	unsigned n = 0;

	for (unsigned i = 0; i < g->n; i++)
		n += g->f[i].id == id;
	return n;
}

static const struct vg_finding *first(const struct got *g, enum vg_pfind id)
{
	for (unsigned i = 0; i < g->n; i++)
		if (g->f[i].id == id)
			return &g->f[i];
	return NULL;
}

static const struct vg_finding *with_brief(const struct got *g, const char *brief)
{
	for (unsigned i = 0; i < g->n; i++)
		if (!strcmp(g->f[i].brief, brief))
			return &g->f[i];
	return NULL;
}

/* ---- fixtures, as the runtime reports them (tests/unit/fixtures/posture) ---- */

static void base(struct vg_container *c, const char *name, const char *image)
{
	memset(c, 0, sizeof(*c));
	c->cg.runtime = VG_RT_DOCKER;
	snprintf(c->cg.id, sizeof(c->cg.id), "%s",
		 "cd536a3ca72325750428a4da507f89e1b0dc5c3165589eda9c636f58840a4c9b");
	c->enrich = VG_ENRICH_DONE;
	snprintf(c->name, sizeof(c->name), "%s", name);
	snprintf(c->image, sizeof(c->image), "%s", image);
	snprintf(c->network_mode, sizeof(c->network_mode), "default");
	snprintf(c->ipc_mode, sizeof(c->ipc_mode), "private");
}

static void add_env(struct vg_container *c, const char *name)
{
	snprintf(c->env_names[c->nenv++], sizeof(c->env_names[0]), "%s", name);
}

static void add_port(struct vg_container *c, uint16_t ctr, uint16_t host, const char *ip)
{
	struct vg_port_binding *p = &c->ports[c->nports++];

	p->container_port = ctr;
	p->host_port = host;
	snprintf(p->proto, sizeof(p->proto), "tcp");
	snprintf(p->host_ip, sizeof(p->host_ip), "%s", ip);
}

static void add_mount(struct vg_container *c, const char *src, const char *dst, const char *type,
		      bool rw)
{
	struct vg_mount_spec *m = &c->mounts[c->nmounts++];

	snprintf(m->source, sizeof(m->source), "%s", src);
	snprintf(m->destination, sizeof(m->destination), "%s", dst);
	snprintf(m->type, sizeof(m->type), "%s", type);
	m->rw = rw;
}

static void add_cap(char (*caps)[32], unsigned *n, const char *cap)
{
	snprintf(caps[(*n)++], 32, "%s", cap);
}

/* Parse tests/unit/fixtures/posture/<dir>/{config.v2.json,hostconfig.json}
 * (written by docker create, only names and images edited) with the Docker
 * state parser, as `vigil posture` does.  Returns the parser's error. */
static int fx_load(struct vg_container *c, const char *dir, bool *saw_marker)
{
	static const char *const files[] = {"config.v2.json", "hostconfig.json"};
	int err = 0;

	memset(c, 0, sizeof(*c));
	c->cg.runtime = VG_RT_DOCKER;
	snprintf(c->cg.id, sizeof(c->cg.id), "%s",
		 "cd536a3ca72325750428a4da507f89e1b0dc5c3165589eda9c636f58840a4c9b");
	for (int i = 0; i < 2 && !err; i++) {
		char path[128];
		size_t len = 0;
		char *buf;

		snprintf(path, sizeof(path), "posture/%s/%s", dir, files[i]);
		buf = fixture_load(path, &len);
		assert_non_null(buf);
		if (saw_marker && strstr(buf, MARKER))
			*saw_marker = true;
		err = i ? vg_docker_parse_hostconfig(buf, len, c)
			: vg_docker_parse_config(buf, len, c);
		free(buf);
	}
	if (!err)
		c->enrich = VG_ENRICH_DONE;
	return err;
}

/* redis-vulnerable: docker run -p 6379:6379 -e DB_PASSWORD=<marker> redis */
static void fx_vulnerable(struct vg_container *c)
{
	assert_int_equal(fx_load(c, "redis-vulnerable", NULL), 0);
}

/* redis-hardened: --read-only --cap-drop ALL --security-opt
 * no-new-privileges -m 256m --pids-limit 100 --user 1000:1000
 * -p 127.0.0.1:6379:6379 */
static void fx_hardened(struct vg_container *c)
{
	assert_int_equal(fx_load(c, "redis-hardened", NULL), 0);
}

/* everything-wrong: --privileged --pid host --network host --ipc host,
 * -v /var/run/docker.sock:... -v /:/host -v /etc:/hostetc:ro, --cap-add
 * SYS_ADMIN SYS_PTRACE NET_ADMIN, -e API_TOKEN= AWS_SECRET_ACCESS_KEY= PATH=,
 * -l tier=ops */
static void fx_worst(struct vg_container *c)
{
	assert_int_equal(fx_load(c, "everything-wrong", NULL), 0);
}

/* ---- the fixtures' findings ---- */

static void test_vulnerable_redis(void **state)
{
	struct vg_container c;
	const struct vg_finding *f;
	struct got g;

	fx_vulnerable(&c);
	assert_int_equal(eval(NULL, &c, &g), 9);
	f = first(&g, VG_PF_PORT_ALL_ADDRS);
	assert_non_null(f);
	assert_string_equal(f->name, "posture_port_all_addresses");
	assert_int_equal(f->sev, VG_OUT_SEV_HIGH); /* 6379 is a datastore port */
	assert_string_equal(f->brief, "6379 published on 0.0.0.0");
	assert_non_null(strstr(f->summary, "6379/tcp published on 0.0.0.0"));
	assert_non_null(strstr(f->summary, "redis:7.2"));
	assert_non_null(strstr(f->remedy, "127.0.0.1"));
	assert_int_equal(count(&g, VG_PF_NO_MEMORY_LIMIT), 1);
	assert_int_equal(count(&g, VG_PF_NO_CPU_LIMIT), 1);
	assert_int_equal(count(&g, VG_PF_NO_PIDS_LIMIT), 1);
	f = first(&g, VG_PF_ROOT_USER);
	assert_non_null(f);
	assert_string_equal(f->brief, "root");
	assert_non_null(strstr(f->summary, "no user namespace remapping"));
	f = first(&g, VG_PF_DEFAULT_CAPS);
	assert_non_null(f);
	assert_non_null(strstr(f->summary, "NET_RAW"));
	assert_non_null(strstr(f->summary, "MKNOD"));
	assert_int_equal(strncmp(f->brief, "NET_RAW, MKNOD +", 16), 0);
	assert_int_equal(count(&g, VG_PF_NEW_PRIVILEGES), 1);
	assert_int_equal(count(&g, VG_PF_WRITABLE_ROOTFS), 1);
	f = first(&g, VG_PF_SECRET_ENV);
	assert_non_null(f);
	assert_string_equal(f->brief, "DB_PASSWORD in env");
	/* nothing that is not there */
	assert_int_equal(count(&g, VG_PF_PRIVILEGED) + count(&g, VG_PF_CAP_ADDED) +
				 count(&g, VG_PF_DOCKER_SOCKET) + count(&g, VG_PF_SENSITIVE_MOUNT) +
				 count(&g, VG_PF_HOST_PID) + count(&g, VG_PF_HOST_NETWORK) +
				 count(&g, VG_PF_HOST_IPC),
			 0);
	for (unsigned i = 0; i < g.n; i++) {
		assert_int_equal(strncmp(g.f[i].name, "posture_", 8), 0);
		assert_true(g.f[i].remedy[0] != '\0');
		assert_true(g.f[i].summary[0] != '\0');
	}
}

static void test_hardened_service(void **state)
{
	struct vg_posture_score s;
	struct vg_container c;
	struct got g;

	fx_hardened(&c);
	/* the report's compose service sets no CPU limit: the one deliberate,
	 * low finding left */
	assert_int_equal(eval(NULL, &c, &g), 1);
	assert_int_equal(g.f[0].id, VG_PF_NO_CPU_LIMIT);
	assert_int_equal(g.f[0].sev, VG_OUT_SEV_LOW);
	assert_int_equal(vg_posture_grade(NULL, &c, &s), 0);
	assert_int_equal(s.grade, 'B');
	/* with cpus: it is clean */
	c.nano_cpus = 1000000000;
	assert_int_equal(eval(NULL, &c, &g), 0);
	assert_int_equal(vg_posture_grade(NULL, &c, &s), 0);
	assert_int_equal(s.grade, 'A');
	/* a CFS quota counts as a CPU limit too */
	c.nano_cpus = 0;
	c.cpu_quota = 50000;
	c.cpu_period = 100000;
	assert_int_equal(eval(NULL, &c, &g), 0);
}

static void test_everything_wrong(void **state)
{
	struct vg_posture_score s;
	const struct vg_finding *f;
	struct vg_container c;
	struct got g;

	fx_worst(&c);
	assert_true(eval(NULL, &c, &g) > 0);
	f = first(&g, VG_PF_PRIVILEGED);
	assert_non_null(f);
	assert_int_equal(f->sev, VG_OUT_SEV_CRITICAL);
	/* privileged holds every capability: no per-cap noise */
	assert_int_equal(count(&g, VG_PF_CAP_ADDED), 0);
	assert_int_equal(count(&g, VG_PF_DEFAULT_CAPS), 0);
	assert_int_equal(count(&g, VG_PF_NEW_PRIVILEGES), 1);
	f = first(&g, VG_PF_DOCKER_SOCKET);
	assert_non_null(f);
	assert_int_equal(f->sev, VG_OUT_SEV_CRITICAL);
	assert_non_null(strstr(f->summary, "/var/run/docker.sock"));
	assert_int_equal(count(&g, VG_PF_SENSITIVE_MOUNT), 2);
	f = with_brief(&g, "host / mounted rw");
	assert_non_null(f);
	assert_int_equal(f->sev, VG_OUT_SEV_CRITICAL);
	f = with_brief(&g, "host /etc mounted ro");
	assert_non_null(f);
	assert_int_equal(f->sev, VG_OUT_SEV_MEDIUM);
	assert_int_equal(first(&g, VG_PF_HOST_PID)->sev, VG_OUT_SEV_HIGH);
	assert_int_equal(first(&g, VG_PF_HOST_NETWORK)->sev, VG_OUT_SEV_HIGH);
	assert_int_equal(first(&g, VG_PF_HOST_IPC)->sev, VG_OUT_SEV_MEDIUM);
	assert_int_equal(count(&g, VG_PF_SECRET_ENV), 2);
	assert_non_null(with_brief(&g, "API_TOKEN in env"));
	assert_non_null(with_brief(&g, "AWS_SECRET_ACCESS_KEY in env"));
	assert_null(with_brief(&g, "PATH in env"));
	assert_int_equal(vg_posture_grade(NULL, &c, &s), 0);
	assert_int_equal(s.grade, 'F');
	assert_int_equal(s.worst, VG_OUT_SEV_CRITICAL);
}

/* ---- single checks ---- */

static void test_capabilities(void **state)
{
	const struct vg_finding *f;
	struct vg_container c;
	struct got g;

	base(&c, "caps", "img");
	add_cap(c.cap_add, &c.ncap_add, "CAP_SYS_ADMIN");
	add_cap(c.cap_add, &c.ncap_add, "sys_ptrace");
	add_cap(c.cap_add, &c.ncap_add, "NET_BIND_SERVICE");
	add_cap(c.cap_drop, &c.ncap_drop, "CAP_NET_RAW");
	add_cap(c.cap_drop, &c.ncap_drop, "MKNOD");
	eval(NULL, &c, &g);
	assert_int_equal(count(&g, VG_PF_CAP_ADDED), 3);
	assert_int_equal(with_brief(&g, "SYS_ADMIN")->sev, VG_OUT_SEV_HIGH);
	assert_int_equal(with_brief(&g, "SYS_PTRACE")->sev, VG_OUT_SEV_HIGH);
	assert_int_equal(with_brief(&g, "NET_BIND_SERVICE")->sev, VG_OUT_SEV_MEDIUM);
	f = first(&g, VG_PF_DEFAULT_CAPS);
	assert_non_null(f);
	assert_null(strstr(f->summary, "NET_RAW"));
	assert_null(strstr(f->summary, "MKNOD"));
	assert_non_null(strstr(f->summary, "DAC_OVERRIDE"));

	/* cap_add ALL is as bad as privileged */
	base(&c, "caps", "img");
	add_cap(c.cap_add, &c.ncap_add, "ALL");
	eval(NULL, &c, &g);
	assert_int_equal(with_brief(&g, "ALL")->sev, VG_OUT_SEV_CRITICAL);

	/* containerd and CRI-O: judged from the spec's bounding set when it
	 * was read (cri.c turns it into cap_add/cap_drop), else not at all */
	base(&c, "caps", "img");
	c.cg.runtime = VG_RT_CONTAINERD;
	eval(NULL, &c, &g);
	assert_int_equal(count(&g, VG_PF_DEFAULT_CAPS), 0);
	c.caps_from_spec = true;
	eval(NULL, &c, &g);
	f = first(&g, VG_PF_DEFAULT_CAPS);
	assert_non_null(f);
	assert_non_null(strstr(f->summary, "NET_RAW"));
	/* a bounding set without the risky defaults (CRI-O's is close) */
	static const char *const risky[] = {"NET_RAW", "MKNOD",	 "DAC_OVERRIDE",
					    "SETFCAP", "SETPCAP", "SETUID",
					    "SETGID",  "SYS_CHROOT", "AUDIT_WRITE"};
	c.cg.runtime = VG_RT_CRIO;
	for (size_t i = 0; i < sizeof(risky) / sizeof(risky[0]); i++)
		add_cap(c.cap_drop, &c.ncap_drop, risky[i]);
	eval(NULL, &c, &g);
	assert_int_equal(count(&g, VG_PF_DEFAULT_CAPS), 0);

	/* cap_drop ALL then add back one: only the added one is reported */
	base(&c, "caps", "img");
	add_cap(c.cap_drop, &c.ncap_drop, "ALL");
	add_cap(c.cap_add, &c.ncap_add, "NET_RAW");
	eval(NULL, &c, &g);
	assert_int_equal(count(&g, VG_PF_DEFAULT_CAPS), 0);
	assert_int_equal(count(&g, VG_PF_CAP_ADDED), 1);
}

static void test_root_user(void **state)
{
	static const char *const root[] = {"", "0", "root", "0:0", "root:root", "0:1000"};
	static const char *const nonroot[] = {"1000",	"1000:1000", "1000:0",
					      "nobody", "rootless",  "redis"};
	const struct vg_finding *f;
	struct vg_container c;
	struct got g;

	for (size_t i = 0; i < sizeof(root) / sizeof(root[0]); i++) {
		base(&c, "u", "img");
		snprintf(c.user, sizeof(c.user), "%s", root[i]);
		eval(NULL, &c, &g);
		assert_int_equal(count(&g, VG_PF_ROOT_USER), 1);
	}
	for (size_t i = 0; i < sizeof(nonroot) / sizeof(nonroot[0]); i++) {
		base(&c, "u", "img");
		snprintf(c.user, sizeof(c.user), "%s", nonroot[i]);
		eval(NULL, &c, &g);
		assert_int_equal(count(&g, VG_PF_ROOT_USER), 0);
	}
	/* remapped root is still reported, one level lower, and says so */
	base(&c, "u", "img");
	c.userns_remap = true;
	eval(NULL, &c, &g);
	f = first(&g, VG_PF_ROOT_USER);
	assert_non_null(f);
	assert_int_equal(f->sev, VG_OUT_SEV_LOW);
	assert_non_null(strstr(f->summary, "remapped"));
	assert_string_equal(f->brief, "root (userns remapped)");
}

/* --userns-remap is read from the daemon's SecurityOptions, and from
 * nowhere else in /info: a daemon label of that text is no remapping. */
static void test_info_userns(void **state)
{
	static const struct {
		const char *body;
		bool on;
	} cases[] = {
		{"{\"ID\":\"x\",\"SecurityOptions\":[\"name=apparmor\",\"name=seccomp,profile=builtin\","
		 "\"name=userns\",\"name=cgroupns\"],\"Labels\":[]}",
		 true},
		{"{\"SecurityOptions\":[\"name=userns,foo=bar\"]}", true},
		/* dockerd --label name=userns */
		{"{\"SecurityOptions\":[\"name=seccomp,profile=builtin\"],\"Labels\":[\"name=userns\"]}",
		 false},
		{"{\"Name\":\"name=userns\",\"SecurityOptions\":[]}", false},
		{"{\"SecurityOptions\":[\"name=usernsx\",\"xname=userns\"]}", false},
		{"{\"SecurityOptions\":{\"name=userns\":true}}", false},
		{"{\"SecurityOptions\":\"name=userns\"}", false},
		{"{\"SecurityOptions\":[\"name=userns\"]", false}, /* cut short */
		{"[\"name=userns\"]", false},
		{"", false},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (vg_posture_info_userns(cases[i].body, strlen(cases[i].body)) != cases[i].on)
			fail_msg("%s: not %s", cases[i].body, cases[i].on ? "remapped" : "plain");
	assert_false(vg_posture_info_userns(NULL, 0));
}

static void test_ports(void **state)
{
	struct vg_posture_cfg cfg;
	struct vg_container c;
	struct got g;

	base(&c, "p", "web:1");
	add_port(&c, 80, 8080, "0.0.0.0");
	add_port(&c, 5432, 15432, "::");
	add_port(&c, 6379, 6379, "127.0.0.1");
	add_port(&c, 9999, 9999, "192.0.2.10");
	eval(NULL, &c, &g);
	assert_int_equal(count(&g, VG_PF_PORT_ALL_ADDRS), 2);
	assert_int_equal(with_brief(&g, "80 published on 0.0.0.0:8080")->sev, VG_OUT_SEV_MEDIUM);
	assert_int_equal(with_brief(&g, "5432 published on :::15432")->sev, VG_OUT_SEV_HIGH);

	/* the live view lists 0.0.0.0 and :: for one binding: one finding */
	add_port(&c, 6379, 32772, "0.0.0.0");
	add_port(&c, 6379, 32772, "::");
	eval(NULL, &c, &g);
	assert_int_equal(count(&g, VG_PF_PORT_ALL_ADDRS), 3);
	assert_non_null(with_brief(&g, "6379 published on 0.0.0.0:32772"));
	c.nports -= 2;

	/* a port made sensitive by configuration */
	vg_posture_cfg_default(&cfg);
	assert_int_equal(vg_posture_cfg_add_port(&cfg, 80), 0);
	eval(&cfg, &c, &g);
	assert_int_equal(with_brief(&g, "80 published on 0.0.0.0:8080")->sev, VG_OUT_SEV_HIGH);

	/* host network: Docker ignores bindings, host_network speaks instead */
	snprintf(c.network_mode, sizeof(c.network_mode), "host");
	eval(NULL, &c, &g);
	assert_int_equal(count(&g, VG_PF_PORT_ALL_ADDRS), 0);
	assert_int_equal(count(&g, VG_PF_HOST_NETWORK), 1);
}

static void test_mounts(void **state)
{
	struct vg_container c;
	struct got g;

	base(&c, "m", "img");
	add_mount(&c, "/etc/localtime", "/etc/localtime", "bind", false); /* fine */
	add_mount(&c, "/srv/data", "/data", "bind", true);		  /* fine */
	add_mount(&c, "/", "/rootfs", "volume", true);			  /* a volume */
	add_mount(&c, "/etc/passwd", "/etc/passwd", "bind", true);	  /* rw: bad */
	add_mount(&c, "/proc/", "/host/proc", "bind", false);		  /* ro: still */
	add_mount(&c, "/var/lib/docker/overlay2", "/o", "bind", false);
	add_mount(&c, "/run/containerd/containerd.sock", "/c.sock", "bind", false);
	add_mount(&c, "/sys", "/sys", "", true); /* type unknown, host path */
	/* what Kubernetes gives every pod, and CRI's image volumes, of this
	 * pod and container: fine */
	snprintf(c.pod_uid, sizeof(c.pod_uid), "2f4e8a1c-7d3b-4c1e-9f2a-5b6c7d8e9f01");
	add_mount(&c,
		  "/var/lib/kubelet/pods/2f4e8a1c-7d3b-4c1e-9f2a-5b6c7d8e9f01/volumes/"
		  "kubernetes.io~projected/kube-api-access-x7k2p",
		  "/var/run/secrets/kubernetes.io/serviceaccount", "bind", false);
	add_mount(&c, "/var/lib/kubelet/pods/2f4e8a1c-7d3b-4c1e-9f2a-5b6c7d8e9f01/volume-subpaths/cfg/0",
		  "/etc/app.yaml", "bind", true);
	add_mount(&c,
		  "/var/lib/containerd/io.containerd.grpc.v1.cri/containers/"
		  "cd536a3ca72325750428a4da507f89e1b0dc5c3165589eda9c636f58840a4c9b/volumes/ab12",
		  "/data", "bind", true);
	/* the kubelet's own state, a pod's other files, another pod's secret:
	 * still the host's */
	add_mount(&c, "/var/lib/kubelet/pods/2f4e8a1c-7d3b-4c1e-9f2a-5b6c7d8e9f01x/volumes/y", "/k1",
		  "bind", false);
	add_mount(&c, "/var/lib/kubelet/pods", "/k2", "bind", false);
	add_mount(&c, "/var/lib/kubelet/pods/9a9a/volumes/kubernetes.io~secret/tls", "/k3", "bind",
		  false);
	eval(NULL, &c, &g);
	assert_int_equal(count(&g, VG_PF_SENSITIVE_MOUNT), 7);
	assert_int_equal(with_brief(&g, "host /etc/passwd mounted rw")->sev, VG_OUT_SEV_HIGH);
	assert_int_equal(with_brief(&g, "host /proc mounted ro")->sev, VG_OUT_SEV_MEDIUM);
	assert_non_null(with_brief(&g, "host /var/lib/docker/overlay2 mounted ro"));
	assert_non_null(with_brief(&g, "host /sys mounted rw"));
	/* a read-only runtime socket is still the whole host */
	assert_int_equal(count(&g, VG_PF_DOCKER_SOCKET), 1);
	assert_int_equal(first(&g, VG_PF_DOCKER_SOCKET)->sev, VG_OUT_SEV_CRITICAL);
}

/* A bind's source above a sensitive path, or a runtime's socket, counts
 * as the path or the socket; ordinary data directories do not. */
static void test_mounts_host_dirs(void **state)
{
	static const struct {
		const char *src;
		bool rw;
		int want; /* enum vg_pfind, or -1 for no finding */
		enum vg_out_sev sev;
	} cases[] = {
		/* directories that hold a runtime's socket */
		{"/var/run", true, VG_PF_DOCKER_SOCKET, VG_OUT_SEV_CRITICAL},
		{"/run", false, VG_PF_DOCKER_SOCKET, VG_OUT_SEV_CRITICAL},
		{"/run/containerd", true, VG_PF_DOCKER_SOCKET, VG_OUT_SEV_CRITICAL},
		{"/var/run/crio", false, VG_PF_DOCKER_SOCKET, VG_OUT_SEV_CRITICAL},
		{"/var/run/docker", true, VG_PF_DOCKER_SOCKET, VG_OUT_SEV_CRITICAL},
		{"/run/podman", true, VG_PF_DOCKER_SOCKET, VG_OUT_SEV_CRITICAL},
		{"/run/k3s/containerd", true, VG_PF_DOCKER_SOCKET, VG_OUT_SEV_CRITICAL},
		{"//var/./run/", true, VG_PF_DOCKER_SOCKET, VG_OUT_SEV_CRITICAL},
		{"/run/user/1000/docker.sock", true, VG_PF_DOCKER_SOCKET, VG_OUT_SEV_CRITICAL},
		/* the rest of the runtimes' state: other containers' files */
		{"/run/containerd/io.containerd.runtime.v2.task/k8s.io", false,
		 VG_PF_SENSITIVE_MOUNT, VG_OUT_SEV_MEDIUM},
		{"/var/run/docker/netns", true, VG_PF_SENSITIVE_MOUNT, VG_OUT_SEV_HIGH},
		{"/run/systemd/private", true, VG_PF_SENSITIVE_MOUNT, VG_OUT_SEV_HIGH},
		{"/var/run/dbus/system_bus_socket", true, VG_PF_SENSITIVE_MOUNT,
		 VG_OUT_SEV_HIGH},
		{"/var/lib/containers/storage", false, VG_PF_SENSITIVE_MOUNT, VG_OUT_SEV_MEDIUM},
		/* directories above sensitive ones */
		{"/var", true, VG_PF_SENSITIVE_MOUNT, VG_OUT_SEV_HIGH},
		{"/var/lib", false, VG_PF_SENSITIVE_MOUNT, VG_OUT_SEV_MEDIUM},
		{"/var/lib/mysql/../docker", true, VG_PF_SENSITIVE_MOUNT, VG_OUT_SEV_HIGH},
		/* the host's programs, libraries and devices */
		{"/lib", true, VG_PF_SENSITIVE_MOUNT, VG_OUT_SEV_HIGH},
		{"/lib", false, VG_PF_SENSITIVE_MOUNT, VG_OUT_SEV_MEDIUM},
		{"/usr/bin", true, VG_PF_SENSITIVE_MOUNT, VG_OUT_SEV_HIGH},
		{"/sbin", true, VG_PF_SENSITIVE_MOUNT, VG_OUT_SEV_HIGH},
		{"/usr/lib/modules", false, VG_PF_SENSITIVE_MOUNT, VG_OUT_SEV_MEDIUM},
		{"/dev/mem", true, VG_PF_SENSITIVE_MOUNT, VG_OUT_SEV_HIGH},
		{"/dev/sda1", false, VG_PF_SENSITIVE_MOUNT, VG_OUT_SEV_MEDIUM},
		/* "/" read-only still holds the runtime sockets */
		{"/", false, VG_PF_SENSITIVE_MOUNT, VG_OUT_SEV_CRITICAL},
		/* data directories, read-only system files, harmless devices */
		{"/srv/data", true, -1, 0},
		{"/home/app/data", true, -1, 0},
		{"/var/lib/mysql", true, -1, 0},
		{"/var/lib/dockerd", true, -1, 0},
		{"/var/log/app", true, -1, 0},
		{"/var/runner", true, -1, 0},
		{"/run/user/1000/pulse", false, -1, 0},
		{"/run/systemd/journal/socket", true, -1, 0},
		{"/usr/share/zoneinfo", false, -1, 0},
		{"/lib/x86_64-linux-gnu", false, -1, 0},
		{"/dev/null", true, -1, 0},
		{"/dev/dri/renderD128", true, -1, 0},
		{"/dev/shm", true, -1, 0},
		{"/dev/log", true, -1, 0},
		{"/etc/localtime", false, -1, 0},
		/* the runtimes' named volumes, the host's resolver files, devices
		 * home automation and video analytics are given */
		{"/var/lib/containers/storage/volumes/pgdata/_data", true, -1, 0},
		{"/var/lib/docker/volumes/web_static/_data/css", true, -1, 0},
		{"/run/systemd/resolve/resolv.conf", false, -1, 0},
		{"/dev/kfd", true, -1, 0},
		{"/dev/ttyS0", true, -1, 0},
		{"/dev/ttyAMA0", true, -1, 0},
		{"/dev/bus/usb", true, -1, 0},
		{"/dev/video0", true, -1, 0},
		{"/dev/i2c-1", true, -1, 0},
		{"/dev/gpiomem", true, -1, 0},
		/* but not a volume's neighbours */
		{"/var/lib/containers/storage/volumes", false, VG_PF_SENSITIVE_MOUNT,
		 VG_OUT_SEV_MEDIUM},
		{"/var/lib/containers/storage/overlay-containers/0123/userdata", false,
		 VG_PF_SENSITIVE_MOUNT, VG_OUT_SEV_MEDIUM},
	};
	struct vg_container c;
	struct got g;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned sock, sens;

		base(&c, "m", "img");
		add_mount(&c, cases[i].src, "/mnt", "bind", cases[i].rw);
		eval(NULL, &c, &g);
		sock = count(&g, VG_PF_DOCKER_SOCKET);
		sens = count(&g, VG_PF_SENSITIVE_MOUNT);
		if (cases[i].want < 0) {
			if (sock + sens)
				fail_msg("%s: a finding", cases[i].src);
			continue;
		}
		if (sock + sens != 1 || !first(&g, (enum vg_pfind)cases[i].want))
			fail_msg("%s: %u socket, %u sensitive findings", cases[i].src, sock, sens);
		assert_int_equal(first(&g, (enum vg_pfind)cases[i].want)->sev, cases[i].sev);
	}

	/* a socket's directory names the socket, as the bind gave its path */
	base(&c, "m", "img");
	add_mount(&c, "/var/run", "/var/run", "bind", true);
	eval(NULL, &c, &g);
	assert_string_equal(first(&g, VG_PF_DOCKER_SOCKET)->brief, "/var/run mounted");
	assert_non_null(strstr(first(&g, VG_PF_DOCKER_SOCKET)->summary,
			       "holds the runtime socket /var/run/docker.sock and others"));
	base(&c, "m", "img");
	add_mount(&c, "/var/run/crio/", "/x", "bind", false);
	eval(NULL, &c, &g);
	assert_non_null(strstr(first(&g, VG_PF_DOCKER_SOCKET)->summary,
			       "holds the runtime socket /var/run/crio/crio.sock, mounted"));
	base(&c, "m", "img");
	add_mount(&c, "/run/docker.sock", "/run/docker.sock", "bind", false);
	eval(NULL, &c, &g);
	assert_non_null(strstr(first(&g, VG_PF_DOCKER_SOCKET)->summary,
			       "runtime socket /run/docker.sock mounted read-only"));
}

/* Docker under cri-dockerd: no pod in the runtime's state, the pod's UID
 * from the labels when the cgroup path names the same pod; the kubelet's
 * binds of this pod are its own.  A cgroup path alone names no pod: a
 * container can be put below another pod's (--cgroup-parent). */
static void test_mounts_pod_from_cgroup(void **state)
{
	static const char *const own[] = {
		"/var/lib/kubelet/pods/2f4e8a1c-7d3b-4c1e-9f2a-5b6c7d8e9f01/volumes/"
		"kubernetes.io~projected/kube-api-access-x7k2p",
		"/var/lib/kubelet/pods/2f4e8a1c-7d3b-4c1e-9f2a-5b6c7d8e9f01/etc-hosts",
		"/var/lib/kubelet/pods/2f4e8a1c-7d3b-4c1e-9f2a-5b6c7d8e9f01/containers/web/"
		"0b5e2f3c",
	};
	struct vg_container c;
	struct got g;

	base(&c, "k8s_web_web-7d9f_default_2f4e8a1c_0", "web:1");
	snprintf(c.cg.pod_uid, sizeof(c.cg.pod_uid), "2f4e8a1c-7d3b-4c1e-9f2a-5b6c7d8e9f01");
	add_mount(&c, own[0], "/var/run/secrets/kubernetes.io/serviceaccount", "bind", false);
	add_mount(&c, own[1], "/etc/hosts", "bind", true);
	add_mount(&c, own[2], "/dev/termination-log", "bind", true);
	/* the cgroup's word alone */
	eval(NULL, &c, &g);
	assert_int_equal(count(&g, VG_PF_SENSITIVE_MOUNT), 3);
	vg_container_add_label(&c, "io.kubernetes.pod.uid", "2f4e8a1c-7d3b-4c1e-9f2a-5b6c7d8e9f01");
	vg_container_pod_from_labels(&c);
	eval(NULL, &c, &g);
	assert_int_equal(count(&g, VG_PF_SENSITIVE_MOUNT), 0);

	/* another pod's, and the pod's other state, stay the host's */
	add_mount(&c, "/var/lib/kubelet/pods/9a9a/etc-hosts", "/h", "bind", false);
	add_mount(&c, "/var/lib/kubelet/pods/2f4e8a1c-7d3b-4c1e-9f2a-5b6c7d8e9f01/plugins", "/p",
		  "bind", false);
	eval(NULL, &c, &g);
	assert_int_equal(count(&g, VG_PF_SENSITIVE_MOUNT), 2);

	/* the runtime's word wins over the path's */
	snprintf(c.pod_uid, sizeof(c.pod_uid), "9a9a");
	eval(NULL, &c, &g);
	assert_int_equal(count(&g, VG_PF_SENSITIVE_MOUNT), 4);

	/* no pod known at all: every kubelet path is the host's */
	c.pod_uid[0] = '\0';
	c.cg.pod_uid[0] = '\0';
	eval(NULL, &c, &g);
	assert_int_equal(count(&g, VG_PF_SENSITIVE_MOUNT), 5);
}

/* Podman's and CRI-O's files for the container itself (its /run/secrets)
 * are its own; another container's are not. */
static void test_mounts_own_userdata(void **state)
{
	struct vg_container c;
	struct got g;
	char own[256], other[256];

	base(&c, "db", "postgres:16");
	snprintf(own, sizeof(own), "/run/containers/storage/overlay-containers/%s/userdata/run/secrets",
		 c.cg.id);
	snprintf(other, sizeof(other),
		 "/var/lib/containers/storage/overlay-containers/%064x/userdata/run/secrets", 7);
	add_mount(&c, own, "/run/secrets", "bind", false);
	eval(NULL, &c, &g);
	assert_int_equal(count(&g, VG_PF_SENSITIVE_MOUNT), 0);
	add_mount(&c, other, "/x", "bind", false);
	eval(NULL, &c, &g);
	assert_int_equal(count(&g, VG_PF_SENSITIVE_MOUNT), 1);
}

/* Kubernetes sets a pod's pids limit on the pod's cgroup, never in a
 * container's CRI spec: a container in a pod that has one is bounded. */
static void test_pids_limit_pod(void **state)
{
	const struct vg_finding *f;
	struct vg_container c;
	struct got g;

	base(&c, "redis", "redis:7.2");
	c.cg.runtime = VG_RT_CONTAINERD;
	snprintf(c.pod_uid, sizeof(c.pod_uid), "2f4e8a1c-7d3b-4c1e-9f2a-5b6c7d8e9f01");
	/* the pod's cgroup not read: the spec decides */
	eval(NULL, &c, &g);
	assert_int_equal(count(&g, VG_PF_NO_PIDS_LIMIT), 1);
	c.pod_pids_limit = 4096;
	eval(NULL, &c, &g);
	assert_int_equal(count(&g, VG_PF_NO_PIDS_LIMIT), 0);
	/* read, and none there either */
	c.pod_pids_limit = -1;
	eval(NULL, &c, &g);
	f = first(&g, VG_PF_NO_PIDS_LIMIT);
	assert_non_null(f);
	assert_string_equal(f->brief, "no PIDs limit");
	assert_string_equal(f->summary, "no PIDs limit, neither on the container nor on its pod");
	/* a limit of its own is enough */
	c.pids_limit = 100;
	eval(NULL, &c, &g);
	assert_int_equal(count(&g, VG_PF_NO_PIDS_LIMIT), 0);
}

static void test_secret_env_names(void **state)
{
	static const char *const secret[] = {
		"DB_PASSWORD",	"MYSQL_ROOT_PASSWORD",
		"api_token",	"AWS_SECRET_ACCESS_KEY",
		"GITHUB_TOKEN", "SSH_KEY",
		"DB_PASS",	"API_KEY_ID", "DB_PWD", "PASS_KEY",
		"APIKEY",	"KEY",
		"SMTP_PASSWD",	"GCP_CREDENTIALS",
		/* tokens ending their word, keys that are not said public */
		"SLACK_TOKEN",	"HF_TOKEN",
		"AUTHTOKEN",	"NPM_TOKENS",
		"TOKEN",	"GPG_PRIVATE_KEY",
		"GPG_PASSPHRASE", "STRIPE_KEY",
	};
	static const char *const plain[] = {
		"PATH",	      "HOME",	    "DB_PASSWORD_FILE", "MY_KEYBOARD",
		"DB_PASSAGE", "REDIS_PORT", "HOSTNAME",		"LANG",
		/* the python images' release key fingerprint, an ML setting */
		"GPG_KEY", "GPG_KEYS", "PGP_KEY", "SSH_PUBLIC_KEY",
		"TOKENIZERS_PARALLELISM",
		/* the shell's working directory, login.defs' password ageing */
		"PWD", "OLDPWD", "PASS_MAX_DAYS",
	};
	struct vg_container c;
	struct got g;

	for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]); i++) {
		base(&c, "e", "img");
		add_env(&c, secret[i]);
		eval(NULL, &c, &g);
		if (count(&g, VG_PF_SECRET_ENV) != 1)
			fail_msg("%s: not taken for a secret", secret[i]);
	}
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		base(&c, "e", "img");
		add_env(&c, plain[i]);
		eval(NULL, &c, &g);
		if (count(&g, VG_PF_SECRET_ENV))
			fail_msg("%s: taken for a secret", plain[i]);
	}
}

/* ---- configuration ---- */

static void test_config(void **state)
{
	struct vg_posture_cfg cfg;
	struct vg_container c;
	struct got g;
	int n;

	fx_vulnerable(&c);
	n = eval(NULL, &c, &g);
	vg_posture_cfg_default(&cfg);
	assert_int_equal(vg_posture_find("posture_root_user"), VG_PF_ROOT_USER);
	assert_int_equal(vg_posture_find("root_user"), VG_PF_ROOT_USER);
	assert_int_equal(vg_posture_find("posture_nope"), -ENOENT);
	assert_int_equal(vg_posture_cfg_enable(&cfg, "nope", false), -ENOENT);

	assert_int_equal(vg_posture_cfg_enable(&cfg, "posture_root_user", false), 0);
	assert_int_equal(eval(&cfg, &c, &g), n - 1);
	assert_int_equal(count(&g, VG_PF_ROOT_USER), 0);

	/* the configured severity is the base: the datastore port stays a level up */
	assert_int_equal(vg_posture_cfg_severity(&cfg, "port_all_addresses", VG_OUT_SEV_HIGH), 0);
	assert_int_equal(vg_posture_cfg_severity(&cfg, "no_cpu_limit", VG_OUT_SEV_HIGH), 0);
	eval(&cfg, &c, &g);
	assert_int_equal(first(&g, VG_PF_PORT_ALL_ADDRS)->sev, VG_OUT_SEV_CRITICAL);
	assert_int_equal(first(&g, VG_PF_NO_CPU_LIMIT)->sev, VG_OUT_SEV_HIGH);
	assert_int_equal(vg_posture_cfg_severity(&cfg, "no_cpu_limit", (enum vg_out_sev)9),
			 -EINVAL);

	assert_int_equal(vg_posture_cfg_severity(&cfg, "no_cpu_limit", (enum vg_out_sev)9),
			 -EINVAL);
	assert_int_equal(vg_posture_ecs_severity(VG_OUT_SEV_HIGH), 73);
	assert_int_equal(vg_posture_ecs_severity(VG_OUT_SEV_CRITICAL), 99);
}

static void test_allowlists(void **state)
{
	struct vg_posture_cfg cfg;
	struct vg_container c;
	struct got g;
	int n;

	fx_worst(&c);
	n = eval(NULL, &c, &g);

	/* by name, for one finding */
	vg_posture_cfg_default(&cfg);
	assert_int_equal(vg_posture_cfg_allow(&cfg, "posture_privileged", VG_PM_NAME, "every*"), 0);
	assert_int_equal(eval(&cfg, &c, &g), n - 1);
	assert_int_equal(count(&g, VG_PF_PRIVILEGED), 0);
	/* a non-matching glob changes nothing */
	vg_posture_cfg_default(&cfg);
	vg_posture_cfg_allow(&cfg, "privileged", VG_PM_NAME, "other*");
	assert_int_equal(eval(&cfg, &c, &g), n);

	/* by image, every finding */
	vg_posture_cfg_default(&cfg);
	assert_int_equal(vg_posture_cfg_allow(&cfg, "*", VG_PM_IMAGE, "ops/*"), 0);
	assert_int_equal(eval(&cfg, &c, &g), 0);

	/* by label: key present, key=value glob, wrong value */
	vg_posture_cfg_default(&cfg);
	vg_posture_cfg_allow(&cfg, "host_pid", VG_PM_LABEL, "tier");
	vg_posture_cfg_allow(&cfg, "host_ipc", VG_PM_LABEL, "tier=o*");
	vg_posture_cfg_allow(&cfg, "host_network", VG_PM_LABEL, "tier=prod");
	eval(&cfg, &c, &g);
	assert_int_equal(count(&g, VG_PF_HOST_PID), 0);
	assert_int_equal(count(&g, VG_PF_HOST_IPC), 0);
	assert_int_equal(count(&g, VG_PF_HOST_NETWORK), 1);

	assert_int_equal(vg_posture_cfg_allow(&cfg, "nope", VG_PM_NAME, "x"), -ENOENT);
	assert_int_equal(vg_posture_cfg_allow(&cfg, NULL, VG_PM_NAME, ""), -EINVAL);
	assert_int_equal(vg_posture_cfg_allow(&cfg, NULL, (enum vg_pmatch)7, "x"), -EINVAL);
	while (cfg.nallow < VG_POSTURE_ALLOW_MAX)
		vg_posture_cfg_allow(&cfg, NULL, VG_PM_NAME, "zzz");
	assert_int_equal(vg_posture_cfg_allow(&cfg, NULL, VG_PM_NAME, "x"), -ENOSPC);
}

/* The posture: section of the YAML configuration (config.c). */
static void test_yaml_section(void **state)
{
	static const char yaml[] = "posture:\n"
				   "  ports: [8080, 9999]\n"
				   "  allow:\n"
				   "    images: [\"ops/*\"]\n"
				   "  findings:\n"
				   "    posture_root_user: {enabled: false}\n"
				   "    no_cpu_limit:\n"
				   "      severity: high\n"
				   "    posture_host_pid:\n"
				   "      allow:\n"
				   "        names: [\"debug-*\"]\n"
				   "        labels: [\"tier=ops\"]\n";
	static const char *const bad[] = {
		"posture:\n  findings:\n    posture_nope: {enabled: false}\n",
		"posture:\n  findings:\n    root_user: {severity: urgent}\n",
		"posture:\n  ports: [70000]\n",
		"posture:\n  colour: red\n",
		"posture:\n  findings:\n    root_user: {enable: no}\n",
	};
	struct vg_config *cfg = NULL;
	struct vg_container c;
	char err[256];
	struct got g;

	assert_int_equal(vg_config_parse("t.yaml", yaml, sizeof(yaml) - 1, &cfg, err, sizeof(err)),
			 0);
	assert_false(cfg->posture.enabled[VG_PF_ROOT_USER]);
	assert_true(cfg->posture.enabled[VG_PF_HOST_PID]);
	assert_int_equal(cfg->posture.sev[VG_PF_NO_CPU_LIMIT], VG_OUT_SEV_HIGH);
	assert_int_equal(cfg->posture.nextra_ports, 2);
	assert_int_equal(cfg->posture.nallow, 3);

	fx_vulnerable(&c);
	add_port(&c, 8080, 8080, "");
	eval(&cfg->posture, &c, &g);
	assert_int_equal(count(&g, VG_PF_ROOT_USER), 0);
	assert_int_equal(first(&g, VG_PF_NO_CPU_LIMIT)->sev, VG_OUT_SEV_HIGH);
	assert_int_equal(with_brief(&g, "8080 published on 0.0.0.0")->sev, VG_OUT_SEV_HIGH);
	fx_worst(&c);
	assert_int_equal(eval(&cfg->posture, &c, &g), 0); /* every finding allowed for ops images */
	vg_config_free(&cfg);

	/* defaults without a posture: section */
	assert_int_equal(vg_config_parse("e.yaml", "", 0, &cfg, err, sizeof(err)), 0);
	assert_true(cfg->posture.enabled[VG_PF_ROOT_USER]);
	assert_int_equal(cfg->posture.sev[VG_PF_PRIVILEGED], VG_OUT_SEV_CRITICAL);
	vg_config_free(&cfg);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(
			vg_config_parse("b.yaml", bad[i], strlen(bad[i]), &cfg, err, sizeof(err)),
			-EINVAL);
		assert_null(cfg);
		assert_int_equal(strncmp(err, "b.yaml:", 7), 0);
	}
}

/* ---- bad state ---- */

static int must_not_call(void *ctx, const struct vg_finding *f)
{
	fail_msg("finding %s reported for unusable state", f->name);
	return 0;
}

static void test_malformed_state(void **state)
{
	struct vg_posture_score s;
	struct vg_container c;
	char mem[4096], line[256];
	struct vg_buf b;
	int err;

	fx_vulnerable(&c);
	c.parse_errors = 2;
	assert_int_equal(vg_posture_eval(NULL, &c, must_not_call, NULL), -EBADMSG);
	assert_int_equal(vg_posture_grade(NULL, &c, &s), -EBADMSG);
	assert_int_equal(s.grade, '?');
	assert_int_equal(vg_posture_context(NULL, &c, line, sizeof(line)), 0);
	assert_string_equal(line, "");

	vg_buf_init(&b, mem, sizeof(mem));
	vg_posture_json_error(&b, &c, 0, 1);
	assert_false(b.overflow);
	assert_non_null(strstr(b.p, "\"parse_errors\":2"));
	assert_non_null(strstr(b.p, "\"kind\":\"state\""));
	assert_null(strstr(b.p, "\"rule\""));

	/* a truncated config.v2.json: the parser refuses it, the record says so */
	err = fx_load(&c, "malformed", NULL);
	assert_true(err < 0);
	vg_buf_init(&b, mem, sizeof(mem));
	vg_posture_json_error(&b, &c, err, 1);
	assert_false(b.overflow);
	assert_non_null(strstr(b.p, "\"outcome\":\"failure\""));
	assert_non_null(strstr(b.p, "could not be read"));

	/* a well-formed document with a field of the wrong type */
	{
		static const char doc[] = "{\"Privileged\": \"yes\", \"Memory\": 0}";

		fx_hardened(&c);
		vg_docker_parse_hostconfig(doc, sizeof(doc) - 1, &c);
		assert_true(c.parse_errors > 0);
		assert_int_equal(vg_posture_eval(NULL, &c, must_not_call, NULL), -EBADMSG);
	}

	c.parse_errors = 0;
	c.enrich = VG_ENRICH_FAILED;
	assert_int_equal(vg_posture_eval(NULL, &c, must_not_call, NULL), -EBADMSG);
	assert_int_equal(vg_posture_eval(NULL, NULL, must_not_call, NULL), -EINVAL);
}

/* ---- context line ---- */

static void test_context_line(void **state)
{
	struct vg_container c;
	char line[512], small[60];
	size_t n;

	fx_vulnerable(&c);
	n = vg_posture_context(NULL, &c, line, sizeof(line));
	assert_int_equal(n, strlen(line));
	/* worst first: the high port, then the mediums in catalogue order */
	assert_int_equal(strncmp(line,
				 "possible because: 6379 published on 0.0.0.0, no memory limit, "
				 "root, DB_PASSWORD in env, ",
				 87),
			 0);
	assert_non_null(strstr(line, "NET_RAW"));

	n = vg_posture_context(NULL, &c, small, sizeof(small));
	assert_true(n < sizeof(small));
	assert_string_equal(small, "possible because: 6379 published on 0.0.0.0, ...");

	fx_hardened(&c);
	c.nano_cpus = 1;
	assert_int_equal(vg_posture_context(NULL, &c, line, sizeof(line)), 0);
}

/* The incidents' context callback, with the rules' configuration. */
static void test_incident_context(void **state)
{
	static const char yaml[] = "posture:\n  findings:\n    port_all_addresses: {enabled: "
				   "false}\n";
	struct vg_config *config = NULL;
	struct vg_rules *rules = NULL;
	struct vg_incident *inc = calloc(1, sizeof(*inc));
	struct vg_container c;
	char err[256];

	assert_non_null(inc);
	fx_vulnerable(&c);
	vg_posture_incident_ctx(inc, &c, NULL); /* defaults */
	assert_int_equal(strncmp(inc->because, "possible because: 6379 published on 0.0.0.0, ", 45),
			 0);
	assert_int_equal(
		vg_config_parse("t.yaml", yaml, sizeof(yaml) - 1, &config, err, sizeof(err)), 0);
	assert_int_equal(vg_rules_new(&config, 0, &rules), 0);
	memset(inc, 0, sizeof(*inc));
	vg_posture_incident_ctx(inc, &c, rules);
	assert_int_equal(strncmp(inc->because, "possible because: no memory limit, root, ", 41), 0);
	/* the host: nothing to say */
	memset(inc, 0, sizeof(*inc));
	vg_posture_incident_ctx(inc, NULL, rules);
	assert_string_equal(inc->because, "");
	vg_rules_free(&rules);
	free(inc);
}

/* ---- JSON ---- */

static void test_json_record(void **state)
{
	const struct vg_finding *f;
	struct vg_container c;
	char mem[4096];
	struct vg_buf b;
	struct got g;

	fx_vulnerable(&c);
	eval(NULL, &c, &g);
	f = first(&g, VG_PF_PORT_ALL_ADDRS);
	vg_buf_init(&b, mem, sizeof(mem));
	vg_posture_json(&b, &c, f, 1764856343123456789ull);
	assert_false(b.overflow);
	assert_int_equal(b.p[0], '{');
	assert_int_equal(b.p[b.len - 1], '}');
	assert_non_null(strstr(b.p, "\"@timestamp\":\"2025-12-04T13:52:23.123456789Z\""));
	assert_non_null(strstr(b.p, "\"kind\":\"state\""));
	assert_non_null(strstr(b.p, "\"category\":[\"configuration\"]"));
	assert_non_null(strstr(b.p, "\"severity\":73"));
	assert_non_null(strstr(b.p, "\"rule\":{\"name\":\"posture_port_all_addresses\""));
	assert_non_null(strstr(b.p, "\"message\":\"6379/tcp published on 0.0.0.0"));
	assert_non_null(strstr(b.p, "\"vigil\":{\"severity\":\"high\",\"posture\":{\"remedy\":"));
	assert_non_null(strstr(b.p, "\"name\":\"redis-vulnerable\""));
	assert_non_null(strstr(b.p, "\"image\":{\"name\":\"redis:7.2\"}"));
	assert_non_null(strstr(b.p, c.cg.id));

	/* routing for the outputs */
	{
		struct vg_out_meta m;

		vg_posture_meta(&c, f, 7, &m);
		assert_int_equal(m.kind, VG_OUT_POSTURE);
		assert_int_equal(m.severity, VG_OUT_SEV_HIGH);
		assert_string_equal(m.rule, "posture_port_all_addresses");
		assert_string_equal(m.ctr_id, c.cg.id);
		assert_string_equal(m.ctr_name, "redis-vulnerable");
		assert_int_equal(m.wall_ns, 7);
	}

	/* names array for incidents, worst first */
	vg_buf_init(&b, mem, sizeof(mem));
	vg_json_obj_open(&b);
	vg_posture_json_names(&b, "findings", NULL, &c);
	vg_json_obj_close(&b);
	assert_int_equal(strncmp(b.p,
				 "{\"findings\":[\"posture_port_all_addresses\","
				 "\"posture_no_memory_limit\",",
				 68),
			 0);
}

static void test_json_hostile_strings(void **state)
{
	struct vg_container c;
	char mem[8192];
	struct vg_buf b;
	struct got g;

	fx_vulnerable(&c);
	snprintf(c.name, sizeof(c.name), "evil\"name\n\033[31m\xff");
	snprintf(c.image, sizeof(c.image), "img\\\"}, \"x\":1");
	add_mount(&c, "/etc\"\n", "/x", "bind", true);
	eval(NULL, &c, &g);
	for (unsigned i = 0; i < g.n; i++) {
		vg_buf_init(&b, mem, sizeof(mem));
		vg_posture_json(&b, &c, &g.f[i], 1);
		assert_false(b.overflow);
		for (size_t k = 0; k < b.len; k++)
			assert_true((unsigned char)b.p[k] >= 0x20);
		assert_null(strstr(b.p, "evil\"name"));
		assert_null(strstr(b.p, "\"x\":1"));
		assert_non_null(strstr(b.p, "evil\\\"name\\n\\u001b[31m"));
	}
}

/* ---- table ---- */

static char *table(const struct vg_container *cs, const int *errs, size_t n, bool colour)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(f);
	assert_int_equal(vg_posture_print_table(f, NULL, cs, errs, n, colour), 0);
	fclose(f);
	return out;
}

static void test_table(void **state)
{
	struct vg_container cs[4];
	int errs[4] = {0, 0, 0, -ENOENT};
	char *out, *a, *b, *d;

	fx_hardened(&cs[0]);
	fx_worst(&cs[1]);
	fx_vulnerable(&cs[2]);
	base(&cs[3], "gone\033]0;pwn\007", "img");
	out = table(cs, errs, 4, false);
	/* worst first: F, then E, then B, unreadable last */
	a = strstr(out, "everything-wrong");
	b = strstr(out, "redis-vulnerable");
	d = strstr(out, "redis-hardened");
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(d);
	assert_true(a < b && b < d);
	assert_true(strstr(out, "gone") > d);
	assert_non_null(strstr(out, "state unreadable"));
	assert_non_null(strstr(out, "6379 published on 0.0.0.0"));
	assert_null(strchr(out, '\033'));
	assert_null(strchr(out, '\007'));
	assert_non_null(strstr(out, "gone\\x1b]0;pwn\\x07"));
	assert_int_equal(strncmp(out, "CONTAINER", 9), 0);
	free(out);

	out = table(cs, errs, 4, true);
	assert_non_null(strstr(out, "\033[1;31mF\033[0m"));
	assert_null(strstr(out, "\033]0;pwn"));
	free(out);
}

/* ---- the secret value never leaves ---- */

static void test_secret_value_nowhere(void **state)
{
	struct vg_container cs[3];
	char ctx[512], mem[8192];
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	bool in_fixture = false;

	/* the value is in the runtime's files the parser read ... */
	assert_int_equal(fx_load(&cs[0], "redis-vulnerable", &in_fixture), 0);
	assert_true(in_fixture);
	in_fixture = false;
	assert_int_equal(fx_load(&cs[1], "everything-wrong", &in_fixture), 0);
	assert_true(in_fixture);
	fx_hardened(&cs[2]);
	/* ... but not in the struct ... */
	assert_null(memmem(&cs[0], sizeof(cs[0]), MARKER, strlen(MARKER)));
	assert_null(memmem(&cs[1], sizeof(cs[1]), MARKER, strlen(MARKER)));
	assert_non_null(f);
	for (int i = 0; i < 3; i++) {
		struct vg_buf b;

		assert_true(vg_posture_write_json(f, NULL, &cs[i], 0, 0) > 0 || i == 2);
		vg_posture_context(NULL, &cs[i], ctx, sizeof(ctx));
		fputs(ctx, f);
		vg_buf_init(&b, mem, sizeof(mem));
		vg_json_obj_open(&b);
		vg_posture_json_names(&b, "n", NULL, &cs[i]);
		vg_json_obj_close(&b);
		fputs(b.p, f);
	}
	assert_int_equal(vg_posture_print_table(f, NULL, cs, NULL, 3, true), 0);
	fclose(f);
	/* ... and in no output: records, context lines, names, table */
	assert_non_null(strstr(out, "DB_PASSWORD"));
	assert_non_null(strstr(out, "AWS_SECRET_ACCESS_KEY"));
	assert_null(strstr(out, MARKER));
	free(out);
}

static void test_write_json_lines(void **state)
{
	struct vg_container c;
	char *out = NULL;
	size_t len = 0;
	unsigned lines = 0;
	FILE *f = open_memstream(&out, &len);
	struct got g;

	fx_vulnerable(&c);
	assert_int_equal(vg_posture_write_json(f, NULL, &c, 0, 5), eval(NULL, &c, &g));
	c.parse_errors = 1;
	assert_int_equal(vg_posture_write_json(f, NULL, &c, 0, 5), 1);
	c.parse_errors = 0;
	assert_int_equal(vg_posture_write_json(f, NULL, &c, -EACCES, 5), 1);
	fclose(f);
	for (char *p = out; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, g.n + 2);
	assert_non_null(strstr(out, "\"error\":-13"));
	assert_non_null(strstr(out, "Permission denied"));
	free(out);
}

/* ---- emit: lines and routing for the sinks ---- */

struct sink_got {
	unsigned n, high, stop_after;
	bool saw_null_rule;
};

static int sink_cb(void *ctx, const char *line, size_t len, const struct vg_out_meta *m)
{
	struct sink_got *sg = ctx;

	assert_int_equal(strlen(line), len);
	assert_int_equal(line[0], '{');
	/* one feed line: a single newline, at the end */
	assert_ptr_equal(strchr(line, '\n'), line + len - 1);
	assert_int_equal(m->kind, VG_OUT_POSTURE);
	assert_string_equal(m->ctr_name, "redis-vulnerable");
	assert_int_equal(m->wall_ns, 42);
	if (!m->rule)
		sg->saw_null_rule = true;
	else
		assert_non_null(strstr(line, m->rule));
	sg->high += m->severity == VG_OUT_SEV_HIGH;
	if (sg->stop_after && ++sg->n >= sg->stop_after)
		return -EPIPE;
	if (!sg->stop_after)
		sg->n++;
	return 0;
}

static int count_cb(void *ctx, const char *line, size_t len, const struct vg_out_meta *m)
{
	(*(unsigned *)ctx)++;
	return 0;
}

/* Every string at its bound and all control bytes (six-fold when escaped):
 * each record still fits, none is lost to overflow. */
static void test_emit_worst_case_strings(void **state)
{
	struct vg_container c;
	unsigned lines = 0;
	struct got g;

	fx_vulnerable(&c);
	memset(c.name, 0x01, sizeof(c.name) - 1);
	memset(c.image, 0x02, sizeof(c.image) - 1);
	memset(c.cg.id, 'a', VG_CTR_ID_LEN);
	c.nmounts = 0;
	while (c.nmounts < VG_CTR_MOUNTS_MAX) {
		struct vg_mount_spec *m = &c.mounts[c.nmounts++];

		memset(m, 0, sizeof(*m));
		snprintf(m->source, sizeof(m->source), "/etc/");
		memset(m->source + 5, 0x1f, sizeof(m->source) - 6);
		memset(m->destination, 0x1e, sizeof(m->destination) - 1);
		snprintf(m->type, sizeof(m->type), "bind");
		m->rw = true;
	}
	c.nenv = 0;
	while (c.nenv < VG_CTR_ENV_MAX) {
		memset(c.env_names[c.nenv], 0x03, sizeof(c.env_names[0]) - 1);
		memcpy(c.env_names[c.nenv++], "X_TOKEN", 7);
	}
	assert_true(eval(NULL, &c, &g) > VG_CTR_MOUNTS_MAX);
	assert_int_equal(vg_posture_emit(NULL, &c, 0, 1, count_cb, &lines), g.n);
	assert_int_equal(lines, g.n);
}

static void test_emit(void **state)
{
	struct sink_got sg = {0};
	struct vg_container c;
	struct got g;

	fx_vulnerable(&c);
	assert_int_equal(vg_posture_emit(NULL, &c, 0, 42, sink_cb, &sg), eval(NULL, &c, &g));
	assert_int_equal(sg.n, g.n);
	assert_int_equal(sg.high, 1);
	assert_false(sg.saw_null_rule);

	/* a sink error stops the walk and is returned */
	memset(&sg, 0, sizeof(sg));
	sg.stop_after = 2;
	assert_int_equal(vg_posture_emit(NULL, &c, 0, 42, sink_cb, &sg), -EPIPE);
	assert_int_equal(sg.n, 2);

	/* unusable state: the one error record, without a rule */
	memset(&sg, 0, sizeof(sg));
	assert_int_equal(vg_posture_emit(NULL, &c, -EIO, 42, sink_cb, &sg), 1);
	assert_true(sg.saw_null_rule);
	assert_int_equal(vg_posture_emit(NULL, &c, 0, 42, NULL, &sg), -EINVAL);
}

/* ---- the subcommand, on state files (no daemon) ---- */

static void copy_fixture(const char *root, const char *id, const char *dir)
{
	static const char *const files[] = {"config.v2.json", "hostconfig.json"};
	char path[512];

	snprintf(path, sizeof(path), "%s/containers/%s", root, id);
	assert_int_equal(mkdir(path, 0700), 0);
	for (int i = 0; i < 2; i++) {
		char rel[128];
		size_t len = 0;
		char *buf;
		FILE *f;

		snprintf(rel, sizeof(rel), "posture/%s/%s", dir, files[i]);
		buf = fixture_load(rel, &len);
		assert_non_null(buf);
		snprintf(path, sizeof(path), "%s/containers/%s/%s", root, id, files[i]);
		f = fopen(path, "w");
		assert_non_null(f);
		assert_int_equal(fwrite(buf, 1, len, f), len);
		fclose(f);
		free(buf);
	}
}

/* Run the subcommand with stdout sent to a file; returns its output. */
static char *cli_out(int argc, char **argv, int *rc, bool with_main)
{
	char tmpl[] = "/tmp/vigil-posture-out.XXXXXX";
	int fd = mkstemp(tmpl), saved;
	size_t len = 0;
	char *out;
	FILE *f;

	assert_true(fd >= 0);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	dup2(fd, STDOUT_FILENO);
	*rc = with_main ? vg_posture_main(argc, argv) : vg_posture_run(NULL, argc, argv);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	f = fdopen(fd, "r");
	fseek(f, 0, SEEK_END);
	len = (size_t)ftell(f);
	rewind(f);
	out = calloc(1, len + 1);
	assert_int_equal(fread(out, 1, len, f), len);
	fclose(f);
	unlink(tmpl);
	return out;
}

static char *run_cli(int argc, char **argv, int *rc)
{
	return cli_out(argc, argv, rc, false);
}

static char *main_cli(int argc, char **argv, int *rc)
{
	return cli_out(argc, argv, rc, true);
}

static void test_cli_state_files(void **state)
{
	static const char vuln[] =
		"1111111111111111111111111111111111111111111111111111111111111111";
	static const char hard[] =
		"2222222222222222222222222222222222222222222222222222222222222222";
	static const char bad[] =
		"3333333333333333333333333333333333333333333333333333333333333333";
	char root[] = "/tmp/vigil-posture-root.XXXXXX", path[512], cmd[600];
	char *argv_json[] = {
		"posture",	 "--json", "--all", "--socket", "/nonexistent/docker.sock",
		"--docker-root", root,	   NULL};
	char *argv_table[] = {"posture",
			      "--all",
			      "--color=never",
			      "--socket",
			      "/nonexistent/docker.sock",
			      "--docker-root",
			      root,
			      NULL};
	char *argv_list[] = {"posture", "--list", NULL};
	char *argv_bad[] = {"posture", "--frobnicate", NULL};
	char *out, *a, *b;
	int rc;

	assert_non_null(mkdtemp(root));
	snprintf(path, sizeof(path), "%s/containers", root);
	assert_int_equal(mkdir(path, 0700), 0);
	copy_fixture(root, vuln, "redis-vulnerable");
	copy_fixture(root, hard, "redis-hardened");
	copy_fixture(root, bad, "malformed");

	out = run_cli(7, argv_json, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "\"rule\":{\"name\":\"posture_port_all_addresses\""));
	assert_non_null(strstr(out, "\"id\":\"1111111111111111"));
	assert_non_null(strstr(out, "\"outcome\":\"failure\""));
	assert_non_null(strstr(out, "\"id\":\"3333333333333333"));
	assert_non_null(strstr(out, "DB_PASSWORD"));
	assert_null(strstr(out, MARKER));
	free(out);

	out = run_cli(7, argv_table, &rc);
	assert_int_equal(rc, 0);
	a = strstr(out, "redis-vulnerable");
	b = strstr(out, "redis-hardened");
	assert_non_null(a);
	assert_non_null(b);
	assert_true(a < b);
	assert_non_null(strstr(out, "state unreadable"));
	assert_null(strstr(out, MARKER));
	free(out);

	/* --config: the posture: section applies */
	{
		char yaml[600];
		FILE *f;
		char *argv_cfg[] = {"posture",
				    "--json",
				    "--all",
				    "--socket",
				    "/nonexistent/docker.sock",
				    "--docker-root",
				    root,
				    "--config",
				    yaml,
				    NULL};
		char *argv_nocfg[] = {"posture", "--config=/nonexistent/vigil.yaml", NULL};

		snprintf(yaml, sizeof(yaml), "%s/vigil.yaml", root);
		f = fopen(yaml, "w");
		assert_non_null(f);
		fputs("posture:\n  findings:\n    port_all_addresses: {enabled: false}\n", f);
		fclose(f);
		out = main_cli(9, argv_cfg, &rc);
		assert_int_equal(rc, 0);
		assert_null(strstr(out, "posture_port_all_addresses"));
		assert_non_null(strstr(out, "posture_root_user"));
		free(out);
		out = main_cli(2, argv_nocfg, &rc);
		assert_int_equal(rc, 2);
		free(out);
	}

	out = run_cli(2, argv_list, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "posture_secret_env"));
	free(out);
	out = run_cli(2, argv_bad, &rc);
	assert_int_equal(rc, 2);
	free(out);

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Kubernetes on Docker (cri-dockerd): the pod's pids limit, on the pod's
 * cgroup, bounds a container with none of its own. */
static void test_cli_pod_pids_limit(void **state)
{
	static const char id[] = "4444444444444444444444444444444444444444444444444444444444444444";
	char root[] = "/tmp/vigil-posture-pod.XXXXXX", dir[128], pod[256], cg[64], path[512];
	char config[512], pids[300];
	char *argv_json[] = {"posture",	      "--json", "--socket",	 "/nonexistent/docker.sock",
			     "--docker-root", dir,	"--cgroup-root", cg,
			     NULL};
	char *out;
	int rc;

	assert_non_null(mkdtemp(root));
	snprintf(dir, sizeof(dir), "%s/docker", root);
	snprintf(path, sizeof(path), "mkdir -p '%s/containers/%s'", dir, id);
	assert_int_equal(system(path), 0);
	snprintf(config, sizeof(config),
		 "{\"ID\":\"%s\",\"Name\":\"/k8s_web_web-7d9f_default_0f5c2a3e_0\","
		 "\"State\":{\"Running\":true,\"Pid\":4242},"
		 "\"Config\":{\"Image\":\"web:1\",\"User\":\"1000\",\"Labels\":"
		 "{\"io.kubernetes.pod.uid\":\"0f5c2a3e-1111-2222-3333-444455556666\"}}}",
		 id);
	snprintf(path, sizeof(path), "%s/containers/%s/config.v2.json", dir, id);
	write_text(path, config);
	snprintf(path, sizeof(path), "%s/containers/%s/hostconfig.json", dir, id);
	write_text(path, "{\"PidsLimit\":null}");
	/* cgroupfs driver, v2: the pod's cgroup, the container's below it */
	snprintf(cg, sizeof(cg), "%s/cgroup", root);
	snprintf(pod, sizeof(pod), "%s/kubepods/burstable/pod0f5c2a3e-1111-2222-3333-444455556666",
		 cg);
	snprintf(path, sizeof(path), "mkdir -p '%s/%s'", pod, id);
	assert_int_equal(system(path), 0);
	snprintf(path, sizeof(path), "%s/cgroup.controllers", cg);
	write_text(path, "pids\n");
	snprintf(pids, sizeof(pids), "%s/pids.max", pod);
	write_text(pids, "2048\n");

	out = run_cli(8, argv_json, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "\"id\":\"4444444444444444"));
	assert_null(strstr(out, "posture_no_pids_limit"));
	free(out);
	/* none on the pod either */
	write_text(pids, "max\n");
	out = run_cli(8, argv_json, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "neither on the container nor on its pod"));
	free(out);

	snprintf(path, sizeof(path), "rm -rf '%s'", root);
	assert_int_equal(system(path), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vulnerable_redis),
		cmocka_unit_test(test_hardened_service),
		cmocka_unit_test(test_everything_wrong),
		cmocka_unit_test(test_capabilities),
		cmocka_unit_test(test_root_user),
		cmocka_unit_test(test_info_userns),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_mounts),
		cmocka_unit_test(test_mounts_host_dirs),
		cmocka_unit_test(test_mounts_pod_from_cgroup),
		cmocka_unit_test(test_mounts_own_userdata),
		cmocka_unit_test(test_pids_limit_pod),
		cmocka_unit_test(test_secret_env_names),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_allowlists),
		cmocka_unit_test(test_yaml_section),
		cmocka_unit_test(test_malformed_state),
		cmocka_unit_test(test_context_line),
		cmocka_unit_test(test_incident_context),
		cmocka_unit_test(test_json_record),
		cmocka_unit_test(test_json_hostile_strings),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_secret_value_nowhere),
		cmocka_unit_test(test_write_json_lines),
		cmocka_unit_test(test_emit),
		cmocka_unit_test(test_emit_worst_case_strings),
		cmocka_unit_test(test_cli_state_files),
		cmocka_unit_test(test_cli_pod_pids_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
