/* Unit tests for cgroup.c: real cgroup path samples of every runtime. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/cgroup.h"

#define ID "3f9d1b7c8a2e4f60b5c1d2e3f4a5b6c7d8e9f00112233445566778899aabbccd"
#define ID2 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define UID "8a4b3c2d-1e0f-4a5b-9c8d-7e6f5a4b3c2d"
#define UID_ "8a4b3c2d_1e0f_4a5b_9c8d_7e6f5a4b3c2d"

static struct vg_cgroup_info ci;

static void parse(const char *path)
{
	assert_int_equal(vg_cgroup_parse(path, &ci), 0);
}

static void expect_ctr(const char *path, enum vg_runtime rt, const char *id)
{
	parse(path);
	assert_int_equal(ci.runtime, rt);
	assert_string_equal(ci.id, id);
	assert_string_equal(ci.unit, "");
}

static void expect_host(const char *path, const char *unit)
{
	parse(path);
	assert_int_equal(ci.runtime, VG_RT_HOST);
	assert_string_equal(ci.id, "");
	assert_string_equal(ci.unit, unit);
}

static void test_docker(void **state)
{
	/* cgroupfs driver (this host, v1 and v2) */
	expect_ctr("/docker/" ID, VG_RT_DOCKER, ID);
	expect_ctr("/docker/" ID "/", VG_RT_DOCKER, ID);
	/* systemd driver */
	expect_ctr("/system.slice/docker-" ID ".scope", VG_RT_DOCKER, ID);
	/* rootless */
	expect_ctr("/user.slice/user-1000.slice/user@1000.service/docker.service/docker-" ID
		   ".scope",
		   VG_RT_DOCKER, ID);
	assert_int_equal(ci.qos, VG_QOS_NONE);
	assert_string_equal(ci.pod_uid, "");
	/* removed cgroup as /proc/PID/cgroup shows it */
	expect_ctr("/docker/" ID " (deleted)", VG_RT_DOCKER, ID);
}

static void test_docker_in_docker(void **state)
{
	expect_ctr("/docker/" ID "/docker/" ID2, VG_RT_DOCKER, ID2);
	assert_string_equal(ci.outer_id, ID);
	expect_ctr("/docker/" ID, VG_RT_DOCKER, ID);
	assert_string_equal(ci.outer_id, "");
}

static void test_kubernetes_cgroupfs(void **state)
{
	expect_ctr("/kubepods/besteffort/pod" UID "/" ID, VG_RT_CONTAINERD, ID);
	assert_int_equal(ci.qos, VG_QOS_BESTEFFORT);
	assert_string_equal(ci.pod_uid, UID);
	expect_ctr("/kubepods/burstable/pod" UID "/" ID, VG_RT_CONTAINERD, ID);
	assert_int_equal(ci.qos, VG_QOS_BURSTABLE);
	/* guaranteed pods have no QoS directory */
	expect_ctr("/kubepods/pod" UID "/" ID, VG_RT_CONTAINERD, ID);
	assert_int_equal(ci.qos, VG_QOS_GUARANTEED);
	assert_string_equal(ci.pod_uid, UID);
	/* CRI-O with the cgroupfs driver */
	expect_ctr("/kubepods/burstable/pod" UID "/crio-" ID, VG_RT_CRIO, ID);
	/* static pod: the uid is a 32-hex hash */
	expect_ctr("/kubepods/burstable/pod0123456789abcdef0123456789abcdef/" ID,
		   VG_RT_CONTAINERD, ID);
	assert_string_equal(ci.pod_uid, "0123456789abcdef0123456789abcdef");
	/* a pod directory that is not a uid (a 'g' at 8) leaves none behind, nor a QoS */
	expect_ctr("/kubepods/pod1234567g-1234-1234-1234-123456789012/" ID, VG_RT_CONTAINERD,
		   ID);
	assert_string_equal(ci.pod_uid, "");
	assert_int_equal(ci.qos, VG_QOS_NONE);
	/* nor does it overwrite the valid one before it */
	expect_ctr("/kubepods/burstable/pod" UID "/podaaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeeZ/" ID,
		   VG_RT_CONTAINERD, ID);
	assert_string_equal(ci.pod_uid, UID);
}

static void test_kubernetes_systemd(void **state)
{
	expect_ctr("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
		   ".slice/cri-containerd-" ID ".scope",
		   VG_RT_CONTAINERD, ID);
	assert_int_equal(ci.qos, VG_QOS_BURSTABLE);
	assert_string_equal(ci.pod_uid, UID);
	expect_ctr("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
		   ".slice/crio-" ID ".scope",
		   VG_RT_CRIO, ID);
	assert_int_equal(ci.qos, VG_QOS_BESTEFFORT);
	/* guaranteed */
	expect_ctr("/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" ID ".scope",
		   VG_RT_CONTAINERD, ID);
	assert_int_equal(ci.qos, VG_QOS_GUARANTEED);
	assert_string_equal(ci.pod_uid, UID);
	/* kind / kubelet with a cgroup root prefix */
	expect_ctr("/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
		   "kubelet-kubepods-besteffort-pod" UID_ ".slice/cri-containerd-" ID ".scope",
		   VG_RT_CONTAINERD, ID);
	assert_int_equal(ci.qos, VG_QOS_BESTEFFORT);
	assert_string_equal(ci.pod_uid, UID);
	/* dockershim */
	expect_ctr("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
		   ".slice/docker-" ID ".scope",
		   VG_RT_DOCKER, ID);
}

static void test_crio_podman(void **state)
{
	expect_ctr("/machine.slice/crio-" ID ".scope", VG_RT_CRIO, ID);
	/* conmon is the runtime's monitor on the host side */
	expect_host("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
		    ".slice/crio-conmon-" ID ".scope",
		    "crio-conmon-" ID ".scope");
	assert_string_equal(ci.pod_uid, UID);
	expect_ctr("/machine.slice/libpod-" ID ".scope", VG_RT_PODMAN, ID);
	expect_ctr("/machine.slice/libpod-" ID ".scope/container", VG_RT_PODMAN, ID);
	expect_ctr("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID
		   ".scope/container",
		   VG_RT_PODMAN, ID);
	/* cgroupfs driver */
	expect_ctr("/libpod_parent/libpod-" ID, VG_RT_PODMAN, ID);
	expect_host("/machine.slice/libpod-conmon-" ID ".scope", "libpod-conmon-" ID ".scope");
}

static void test_host(void **state)
{
	expect_host("/", "");
	expect_host("/system.slice/ssh.service", "ssh.service");
	expect_host("/system.slice/docker.service", "docker.service");
	expect_host("/system.slice/containerd.service", "containerd.service");
	expect_host("/user.slice/user-1000.slice/session-3.scope", "session-3.scope");
	expect_host("/init.scope", "init.scope");
	expect_host("/system.slice", "system.slice");
	expect_host("/process_api/49549c15e4ae807b1d3db904c49152b7", "");
	/* a kubepods slice without a container */
	expect_host("/kubepods.slice/kubepods-burstable.slice", "kubepods-burstable.slice");
	assert_int_equal(ci.qos, VG_QOS_BURSTABLE);
}

static void test_bad_ids(void **state)
{
	/* 63 and 65 hex digits, upper case, non hex */
	expect_host("/docker/" "3f9d1b7c8a2e4f60b5c1d2e3f4a5b6c7d8e9f00112233445566778899aabbcc",
		    "");
	expect_host("/docker/" ID "0", "");
	expect_host("/docker/" "3F9D1B7C8A2E4F60B5C1D2E3F4A5B6C7D8E9F00112233445566778899AABBCCD",
		    "");
	expect_host("/system.slice/docker-" "zz9d1b7c8a2e4f60b5c1d2e3f4a5b6c7d8e9f00112233445566778899aabbccd" ".scope",
		    "docker-zz9d1b7c8a2e4f60b5c1d2e3f4a5b6c7d8e9f00112233445566778899aabbccd.scope");
	expect_host("/system.slice/docker-.scope", "docker-.scope");
	/* bad pod uid: no pod, no QoS */
	expect_ctr("/kubepods/podnot-a-uid/" ID, VG_RT_CONTAINERD, ID);
	assert_string_equal(ci.pod_uid, "");
	assert_int_equal(ci.qos, VG_QOS_NONE);
	/* a bare id elsewhere is a container of unknown runtime */
	expect_ctr("/lxc/" ID, VG_RT_UNKNOWN, ID);

	assert_int_equal(vg_cgroup_parse("docker/" ID, &ci), -EINVAL);
	assert_int_equal(ci.runtime, VG_RT_HOST);
	assert_int_equal(vg_cgroup_parse(NULL, &ci), -EINVAL);
	assert_int_equal(vg_cgroup_parse("/", NULL), -EINVAL);
}

static void test_long_unit(void **state)
{
	char path[600];

	memset(path, 'a', sizeof(path));
	path[0] = '/';
	memcpy(path + sizeof(path) - 9, ".service", 9);
	parse(path);
	assert_int_equal(ci.runtime, VG_RT_HOST);
	assert_int_equal(strlen(ci.unit), sizeof(ci.unit) - 1);
}

static void test_names(void **state)
{
	assert_string_equal(vg_runtime_name(VG_RT_HOST), "host");
	assert_string_equal(vg_runtime_name(VG_RT_DOCKER), "docker");
	assert_string_equal(vg_runtime_name(VG_RT_CONTAINERD), "containerd");
	assert_string_equal(vg_runtime_name(VG_RT_CRIO), "cri-o");
	assert_string_equal(vg_runtime_name(VG_RT_PODMAN), "podman");
	assert_string_equal(vg_runtime_name(VG_RT_UNKNOWN), "unknown");
	assert_string_equal(vg_runtime_name((enum vg_runtime)77), "unknown");
	assert_string_equal(vg_qos_name(VG_QOS_GUARANTEED), "guaranteed");
	assert_string_equal(vg_qos_name(VG_QOS_BURSTABLE), "burstable");
	assert_string_equal(vg_qos_name(VG_QOS_BESTEFFORT), "besteffort");
	assert_null(vg_qos_name(VG_QOS_NONE));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_docker),
		cmocka_unit_test(test_docker_in_docker),
		cmocka_unit_test(test_kubernetes_cgroupfs),
		cmocka_unit_test(test_kubernetes_systemd),
		cmocka_unit_test(test_crio_podman),
		cmocka_unit_test(test_host),
		cmocka_unit_test(test_bad_ids),
		cmocka_unit_test(test_long_unit),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
