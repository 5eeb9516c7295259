/* Unit tests for containerd / CRI-O / Podman state parsing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixtures.h"
#include "vigil/cri.h"
#include "vigil/jsonp.h"

#define CRI_ID "4f1c7d2e9a8b3c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d"
#define PODMAN_ID "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"

static void parse_spec(const char *name, struct vg_container *c)
{
	size_t len = 0;
	char *buf = fixture_load(name, &len);

	assert_non_null(buf);
	assert_int_equal(vg_cri_parse_spec(buf, len, c), 0);
	free(buf);
}

static void assert_no_marker(const struct vg_container *c)
{
	assert_null(memmem(c, sizeof(*c), "VIGILMARKER", 11));
}

static bool has(char (*list)[32], unsigned n, const char *s)
{
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(list[i], s))
			return true;
	return false;
}

static void check_cri(const struct vg_container *c)
{
	assert_string_equal(c->name, "redis");
	assert_string_equal(c->image, "docker.io/library/redis:7.2");
	assert_string_equal(c->pod_name, "cache-0");
	assert_string_equal(c->pod_namespace, "payments");
	assert_string_equal(c->pod_uid, "2f4e8a1c-7d3b-4c1e-9f2a-5b6c7d8e9f01");
	assert_string_equal(vg_container_label(c, "io.kubernetes.pod.name"), "cache-0");
	assert_string_equal(vg_container_label(c, "io.kubernetes.pod.namespace"), "payments");
	assert_string_equal(vg_container_label(c, "io.kubernetes.pod.uid"),
			    "2f4e8a1c-7d3b-4c1e-9f2a-5b6c7d8e9f01");
	assert_string_equal(vg_container_label(c, "io.kubernetes.container.name"), "redis");
	assert_string_equal(c->cmd, "redis-server --protected-mode no");
	assert_string_equal(c->user, "0:0");
	assert_int_equal(c->nenv, 4);
	assert_string_equal(c->env_names[2], "REDIS_PASSWORD");
	assert_no_marker(c);
	assert_true(c->memory_limit == 268435456);
	assert_true(c->cpu_quota == 50000 && c->cpu_period == 100000);
	assert_true(c->pids_limit == 1024);
	assert_int_equal(c->ncap_add, 1);
	assert_string_equal(c->cap_add[0], "SYS_PTRACE");
	assert_int_equal(c->ncap_drop, 0);
	assert_false(c->privileged);
	assert_string_equal(c->network_mode, "shared");
	assert_string_equal(c->pid_mode, "");
	assert_string_equal(c->ipc_mode, "");
	/* the user's volumes only: /etc/hosts and termination-log are the runtime's */
	assert_int_equal(c->nmounts, 2);
	assert_string_equal(c->mounts[0].destination, "/data");
	assert_true(c->mounts[0].rw);
	assert_string_equal(c->mounts[1].destination,
			    "/var/run/secrets/kubernetes.io/serviceaccount");
	assert_false(c->mounts[1].rw);
	assert_int_equal(c->parse_errors, 0);
}

/* in a CRI-O spec, containerd's keys are the pod author's annotations:
 * they never name the pod, its namespace or the container */
static void test_crio_ignores_containerd_keys(void **state)
{
	const char *at = "\"io.container.manager\": \"cri-o\",";
	const char *fake = "\"io.kubernetes.cri.sandbox-namespace\": \"kube-system\", "
			   "\"io.kubernetes.cri.sandbox-name\": \"fake-pod\", "
			   "\"io.kubernetes.cri.sandbox-uid\": \"fake-uid\", "
			   "\"io.kubernetes.cri.container-name\": \"fake\", "
			   "\"io.kubernetes.cri.image-name\": \"fake:1\",";
	struct vg_container c = {0};
	size_t len = 0;
	char *buf = fixture_load("oci_crio.config.json", &len), *p, *doc;

	assert_non_null(buf);
	p = strstr(buf, at);
	assert_non_null(p);
	p += strlen(at);
	doc = malloc(len + strlen(fake) + 1);
	assert_non_null(doc);
	memcpy(doc, buf, (size_t)(p - buf));
	memcpy(doc + (p - buf), fake, strlen(fake));
	memcpy(doc + (p - buf) + strlen(fake), p, len - (size_t)(p - buf) + 1);
	assert_int_equal(vg_cri_parse_spec(doc, len + strlen(fake), &c), 0);
	assert_string_equal(c.pod_namespace, "shop");
	assert_string_equal(c.pod_name, "frontend-7d9f");
	assert_string_equal(c.pod_uid, "8c1d2e3f-4a5b-6c7d-8e9f-0a1b2c3d4e5f");
	assert_string_equal(c.name, "web");
	assert_string_equal(c.image, "quay.io/example/nginx:1.25");

	/* older CRI-O, without io.container.manager: known by its own keys */
	memset(&c, 0, sizeof(c));
	p -= strlen(at);
	memcpy(doc, buf, (size_t)(p - buf));
	memcpy(doc + (p - buf), fake, strlen(fake));
	memcpy(doc + (p - buf) + strlen(fake), p + strlen(at), len - (size_t)(p - buf) - strlen(at) + 1);
	assert_int_equal(vg_cri_parse_spec(doc, len - strlen(at) + strlen(fake), &c), 0);
	assert_string_equal(c.pod_namespace, "shop");
	assert_string_equal(c.name, "web");
	free(doc);
	free(buf);
}

/* CRI-O's labels, a JSON document in one string, longer than the reader
 * decodes: skipped and counted, the rest of the spec read as usual */
/* Podman is no Kubernetes: annotations given with podman run --annotation
 * name no pod and no container (the name comes from containers.json) */
static void test_podman_annotations_name_nothing(void **state)
{
	(void)state;
	const char *doc =
		"{\"ociVersion\": \"1.0.2\", \"process\": {\"args\": [\"postgres\"]},"
		" \"annotations\": {\"io.container.manager\": \"libpod\","
		" \"io.kubernetes.cri.sandbox-namespace\": \"kube-system\","
		" \"io.kubernetes.cri.sandbox-name\": \"kube-apiserver\","
		" \"io.kubernetes.cri.sandbox-uid\": \"0f5c2a3e-1111-2222-3333-444455556666\","
		" \"io.kubernetes.cri.container-name\": \"postgres\","
		" \"io.kubernetes.cri.container-type\": \"sandbox\","
		" \"io.kubernetes.pod.namespace\": \"kube-system\","
		" \"io.kubernetes.container.name\": \"postgres\"}}";
	struct vg_container c = {0};

	assert_int_equal(vg_cri_parse_spec(doc, strlen(doc), &c), 0);
	assert_string_equal(c.source, "podman");
	assert_string_equal(c.pod_namespace, "");
	assert_string_equal(c.pod_name, "");
	assert_string_equal(c.pod_uid, "");
	assert_string_equal(c.name, "");
}

static void test_crio_long_labels_skipped(void **state)
{
	const char *key = "\"io.kubernetes.cri-o.Labels\": \"";
	const char *end = "\\\"app\\\":\\\"frontend\\\"}\"";
	const char *open = "{\\\"app\\\":\\\"", *close = "\\\"}";
	size_t len = 0, body = VG_JSONP_STR_MAX + 100, n;
	char *buf = fixture_load("oci_crio.config.json", &len), *p, *q, *doc, *o;
	struct vg_container c = {0};

	assert_non_null(buf);
	p = strstr(buf, key);
	assert_non_null(p);
	p += strlen(key);
	q = strstr(p, end);
	assert_non_null(q);
	q += strlen(end) - 1; /* the value's closing quote */
	doc = malloc(len + body + 64);
	assert_non_null(doc);
	o = doc;
	memcpy(o, buf, (size_t)(p - buf));
	o += p - buf;
	memcpy(o, open, strlen(open));
	o += strlen(open);
	memset(o, 'a', body);
	o += body;
	memcpy(o, close, strlen(close));
	o += strlen(close);
	n = len - (size_t)(q - buf);
	memcpy(o, q, n + 1);
	o += n;
	assert_int_equal(vg_cri_parse_spec(doc, (size_t)(o - doc), &c), 0);
	assert_null(vg_container_label(&c, "app"));
	assert_int_equal(c.parse_errors, 1);
	assert_string_equal(c.pod_namespace, "shop");
	assert_string_equal(c.name, "web");
	free(doc);
	free(buf);
}

static void test_containerd_cri_spec(void **state)
{
	struct vg_container c = {0};

	parse_spec("oci_containerd_cri.config.json", &c);
	check_cri(&c);
	assert_true(c.caps_from_spec); /* posture judges its default capabilities */
}

/* a Kubernetes pod name may be 253 characters (a DNS subdomain): read
 * whole, so two long names that share a prefix stay two names */
static void test_long_pod_name(void **state)
{
	const char *at = "\"io.kubernetes.cri.sandbox-name\": \"cache-0\"";
	char pod[254], *doc, *p;
	struct vg_container c = {0};
	size_t len = 0, alen = strlen(at);
	char *buf = fixture_load("oci_containerd_cri.config.json", &len);

	(void)state;
	assert_non_null(buf);
	memset(pod, 'a', 253);
	pod[252] = 'z';
	pod[253] = '\0';
	p = strstr(buf, at);
	assert_non_null(p);
	doc = malloc(len + 300);
	assert_non_null(doc);
	len = (size_t)snprintf(doc, len + 300, "%.*s\"io.kubernetes.cri.sandbox-name\": \"%s\"%s",
			       (int)(p - buf), buf, pod, p + alen);
	assert_int_equal(vg_cri_parse_spec(doc, len, &c), 0);
	assert_string_equal(c.pod_name, pod);
	assert_string_equal(vg_container_label(&c, "io.kubernetes.pod.name"), pod);
	free(doc);
	free(buf);
}

static void test_crio_spec(void **state)
{
	struct vg_container c = {0};

	parse_spec("oci_crio.config.json", &c);
	assert_string_equal(c.name, "web");
	assert_string_equal(c.image, "quay.io/example/nginx:1.25");
	assert_string_equal(c.image_id,
			    "sha256:7b9c0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d");
	assert_string_equal(c.pod_name, "frontend-7d9f");
	assert_string_equal(c.pod_namespace, "shop");
	assert_string_equal(c.pod_uid, "8c1d2e3f-4a5b-6c7d-8e9f-0a1b2c3d4e5f");
	/* labels from io.kubernetes.cri-o.Labels, no duplicates added */
	assert_string_equal(vg_container_label(&c, "app"), "frontend");
	assert_int_equal(c.nlabels, 5);
	assert_string_equal(c.user, "1000:3000");
	assert_true(c.readonly_rootfs);
	assert_true(c.no_new_privileges);
	assert_int_equal(c.ncap_add, 0);
	assert_int_equal(c.ncap_drop, 13); /* all defaults but NET_BIND_SERVICE */
	assert_true(has(c.cap_drop, c.ncap_drop, "NET_RAW"));
	assert_false(has(c.cap_drop, c.ncap_drop, "NET_BIND_SERVICE"));
	assert_int_equal(c.nmounts, 1);
	assert_string_equal(c.mounts[0].source, "/etc");
	assert_true(c.mounts[0].rw);
	assert_no_marker(&c);
}

static void test_podman_privileged_spec(void **state)
{
	struct vg_container c = {0};

	parse_spec("oci_podman_privileged.config.json", &c);
	assert_true(c.privileged);
	assert_true(c.tty);
	assert_string_equal(c.pid_mode, "host");
	assert_string_equal(c.network_mode, "host");
	assert_string_equal(c.ipc_mode, "host");
	assert_string_equal(c.name, ""); /* Podman keeps names in containers.json */
	assert_int_equal(c.nmounts, 1);
	assert_string_equal(c.mounts[0].destination, "/var/run/docker.sock");
	assert_true(has(c.cap_add, c.ncap_add, "SYS_ADMIN"));
	assert_int_equal(c.ncap_add, VG_CTR_CAPS_MAX); /* capped */
}

/* Docker's own containerd bundle: the same spec shape, no annotations. */
static void test_moby_spec(void **state)
{
	struct vg_container c = {0};

	parse_spec("oci_moby_web_app.config.json", &c);
	assert_string_equal(c.cmd, "/bin/sh -c sleep 300");
	assert_int_equal(c.ncap_add, 1);
	assert_string_equal(c.cap_add[0], "NET_ADMIN");
	assert_int_equal(c.ncap_drop, 1);
	assert_string_equal(c.cap_drop[0], "MKNOD");
	assert_int_equal(c.nmounts, 2);
	assert_string_equal(c.mounts[0].destination, "/data");
	assert_string_equal(c.mounts[1].destination, "/var/run/docker.sock");
	assert_false(c.mounts[1].rw);
	assert_int_equal(c.nlabels, 0);
	assert_string_equal(c.pod_name, "");
	assert_no_marker(&c);
}

static void test_storage_list(void **state)
{
	struct vg_container c = {0};
	size_t len = 0;
	char *buf = fixture_load("storage_containers.json", &len);

	assert_non_null(buf);
	assert_int_equal(vg_cri_parse_storage_list(buf, len, PODMAN_ID, &c), 0);
	assert_string_equal(c.name, "toolbox");
	assert_string_equal(c.image, "docker.io/library/alpine:3.19");
	assert_string_equal(c.image_id,
			    "05455a08881ecb6e1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b");
	memset(&c, 0, sizeof(c));
	assert_int_equal(vg_cri_parse_storage_list(buf, len, CRI_ID, &c), -ENOENT);
	assert_int_equal(vg_cri_parse_storage_list("{", 1, CRI_ID, &c), -EINVAL);
	free(buf);

	/* a host with 5000 containers (about 2 MB, 135,000 tokens): the
	 * last one is still found */
	size_t cap = 5001 * 512, off = 0;
	char *big = malloc(cap);
	assert_non_null(big);
	off += (size_t)snprintf(big + off, cap - off, "[");
	for (int i = 0; i < 5000; i++)
		off += (size_t)snprintf(big + off, cap - off,
					"{\"id\": \"%064d\", \"names\": [\"c%d\"], \"image\": \"aa\", "
					"\"layer\": \"x\", \"metadata\": \"{}\", \"flags\": "
					"{\"a\": 1, \"b\": 2, \"c\": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}, "
					"\"created\": \"2026-12-04T14:00:00Z\"},",
					i, i);
	off += (size_t)snprintf(big + off, cap - off,
				"{\"id\": \"%s\", \"names\": [\"last\"], \"image\": \"bb\"}]",
				PODMAN_ID);
	assert_true(off < cap);
	memset(&c, 0, sizeof(c));
	assert_int_equal(vg_cri_parse_storage_list(big, off, PODMAN_ID, &c), 0);
	assert_string_equal(c.name, "last");
	free(big);
}

static void test_hostile_specs(void **state)
{
	static const char *const docs[] = {
		"{\"annotations\":{\"io.kubernetes.cri-o.Labels\":\"{not json\"}}",
		"{\"annotations\":[],\"process\":7,\"linux\":{\"namespaces\":{},\"resources\":[]}}",
		"{\"process\":{\"user\":{\"uid\":\"root\"},\"args\":\"sh\",\"env\":[1,2],"
		"\"capabilities\":{\"bounding\":[5]}},\"mounts\":[1,{\"options\":7}],\"linux\":{}}",
		"{\"annotations\":{\"io.kubernetes.cri-o.Labels\":\"{\\\"a\\\":[[[[1]]]]}\"}}",
	};

	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		struct vg_container c = {0};

		assert_int_equal(vg_cri_parse_spec(docs[i], strlen(docs[i]), &c), 0);
		assert_true(c.parse_errors > 0);
	}
	struct vg_container c = {0};
	assert_int_equal(vg_cri_parse_spec("[]", 2, &c), -EINVAL);
	assert_int_equal(vg_cri_parse_spec("{\"a\":", 5, &c), -EINVAL);
}

/* ---- folders on disk ---- */

static char tmp[64];

static void put(const char *fixture, const char *rel)
{
	assert_int_equal(fixture_copy(tmp, fixture, rel), 0);
}

static void test_read_from_disk(void **state)
{
	struct vg_container c = {0};
	char path[512], target[512];

	snprintf(tmp, sizeof(tmp), "/tmp/vigil-cri-XXXXXX");
	assert_non_null(mkdtemp(tmp));

	/* containerd, non-default namespace */
	put("oci_containerd_cri.config.json",
	    "run/io.containerd.runtime.v2.task/other/" CRI_ID "/config.json");
	snprintf(path, sizeof(path), "%s/run", tmp);
	assert_int_equal(vg_cri_read_containerd(path, CRI_ID, &c), 0);
	check_cri(&c);
	assert_string_equal(c.source, "containerd");
	assert_int_equal(c.enrich, VG_ENRICH_DONE);

	/* a namespace named with the 76 characters containerd allows */
	put("oci_containerd_cri.config.json",
	    "run/io.containerd.runtime.v2.task/"
	    "n123456789012345678901234567890123456789012345678901234567890123456789012345/"
	    "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc/config.json");
	memset(&c, 0, sizeof(c));
	assert_int_equal(vg_cri_read_containerd(
				 path, "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc", &c),
			 0);
	assert_string_equal(c.source, "containerd");

	/* a symlinked task folder in k8s.io is refused, not followed */
	snprintf(path, sizeof(path), "%s/run/io.containerd.runtime.v2.task/k8s.io", tmp);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(target, sizeof(target), "%s/run/io.containerd.runtime.v2.task/other/" CRI_ID, tmp);
	snprintf(path, sizeof(path),
		 "%s/run/io.containerd.runtime.v2.task/k8s.io/"
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		 tmp);
	assert_int_equal(symlink(target, path), 0);
	snprintf(path, sizeof(path), "%s/run", tmp);
	memset(&c, 0, sizeof(c));
	assert_int_equal(vg_cri_read_containerd(
				 path, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &c),
			 -ELOOP);
	assert_int_equal(vg_cri_read_containerd(path, "../../etc", &c), -EINVAL);
	assert_int_equal(vg_cri_read_containerd(
				 path, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", &c),
			 -ENOENT);
	/* a file and a symlink beside the namespaces are passed over, in any order */
	put("storage_containers.json", "run/io.containerd.runtime.v2.task/a-file");
	snprintf(target, sizeof(target), "%s/run/io.containerd.runtime.v2.task/other", tmp);
	snprintf(path, sizeof(path), "%s/run/io.containerd.runtime.v2.task/a-link", tmp);
	assert_int_equal(symlink(target, path), 0);
	snprintf(path, sizeof(path), "%s/run", tmp);
	assert_int_equal(vg_cri_read_containerd(
				 path, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", &c),
			 -ENOENT);
	memset(&c, 0, sizeof(c));
	assert_int_equal(vg_cri_read_containerd(path, CRI_ID, &c), 0);
	check_cri(&c);

	/* podman: spec in the storage root, name from containers.json */
	put("oci_podman_privileged.config.json",
	    "storage/overlay-containers/" PODMAN_ID "/userdata/config.json");
	put("storage_containers.json", "storage/overlay-containers/containers.json");
	snprintf(path, sizeof(path), "%s/storage", tmp);
	memset(&c, 0, sizeof(c));
	assert_int_equal(vg_cri_read_storage(path, NULL, PODMAN_ID, VG_RT_PODMAN, &c), 0);
	assert_string_equal(c.name, "toolbox");
	assert_string_equal(c.image, "docker.io/library/alpine:3.19");
	assert_string_equal(c.source, "podman");
	assert_true(c.privileged);

	/* cri-o: spec only in the run root */
	put("oci_crio.config.json", "runroot/overlay-containers/" CRI_ID "/userdata/config.json");
	snprintf(target, sizeof(target), "%s/runroot", tmp);
	memset(&c, 0, sizeof(c));
	assert_int_equal(vg_cri_read_storage(path, target, CRI_ID, VG_RT_CRIO, &c), 0);
	assert_string_equal(c.name, "web");
	assert_string_equal(c.source, "cri-o");

	assert_int_equal(fixture_rmtree(tmp), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_containerd_cri_spec),
		cmocka_unit_test(test_long_pod_name),
		cmocka_unit_test(test_crio_spec),
		cmocka_unit_test(test_crio_ignores_containerd_keys),
		cmocka_unit_test(test_crio_long_labels_skipped),
		cmocka_unit_test(test_podman_privileged_spec),
		cmocka_unit_test(test_podman_annotations_name_nothing),
		cmocka_unit_test(test_moby_spec),
		cmocka_unit_test(test_storage_list),
		cmocka_unit_test(test_hostile_specs),
		cmocka_unit_test(test_read_from_disk),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
