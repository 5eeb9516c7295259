/*
 * vg-mount: one tmpfs mount and its unmount, for end-to-end tests of the
 * mount hooks.
 *
 *   vg-mount [--new-api|--tree-attr|--ia32|--reuse|--cold] [TARGET]
 *                                   (TARGET default /tmp/vg-mount)
 *
 * Classic: mount(2) then umount2(2).  --new-api: fsopen, fsconfig(CREATE),
 * fsmount, move_mount, then umount2.  --tree-attr: open_tree_attr (Linux
 * 6.15) clones /etc read-only, move_mount puts the clone on TARGET, then
 * umount2.  --ia32: mount and umount2 through the
 * 32-bit int $0x80 ABI (x86-64).  --reuse: a mount of source "vg-first" and
 * an unknown fstype (refused after the capability check), then at once the
 * same buffers rewritten to "vg-second" and tmpfs: two calls with the same
 * pointers.  --cold: fsopen of "tmpfs" from a file page mapped and never
 * touched (fsopen checks the capability before it copies the name), then
 * the classic mount.  Prints one line per call with its result ("OK" or
 * the errno name); exit 0 when the mount succeeded.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* <linux/mount.h> clashes with <sys/mount.h> on older glibc: the values */
#define VG_FSOPEN_CLOEXEC 0x1
#define VG_FSCONFIG_SET_STRING 1
#define VG_FSCONFIG_CMD_CREATE 6
#define VG_FSMOUNT_CLOEXEC 0x1
#define VG_MOVE_MOUNT_F_EMPTY_PATH 0x4
#define VG_NR_OPEN_TREE_ATTR 467 /* every ABI: the unified numbers past 403 */
#define VG_OPEN_TREE_CLONE 0x1
#define VG_MOUNT_ATTR_RDONLY 0x1

struct vg_mount_attr { /* struct mount_attr, MOUNT_ATTR_SIZE_VER0 */
	unsigned long long attr_set, attr_clr, propagation, userns_fd;
};

static const char *res(long rc)
{
	return rc < 0 ? strerrorname_np(errno) : "OK";
}

#if defined(__x86_64__)
/* i386 syscall numbers (arch/x86/entry/syscalls/syscall_32.tbl) */
#define IA32_MOUNT 21
#define IA32_UMOUNT2 52

/* int $0x80 passes 32-bit pointers: strings in static storage (a static,
 * non-PIE binary's .data and .bss are below 4 GiB) */
static char ia32_target[256];
static char ia32_source[] = "vg-tmpfs32", ia32_fstype[] = "tmpfs", ia32_data[] = "size=1m";

static long ia32_call(long nr, long a, long b, long c, long d, long e)
{
	long ret;

	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "a"(nr), "b"(a), "c"(b), "d"(c), "S"(d), "D"(e)
			 : "memory");
	ret = (int)ret; /* the 32-bit ABI returns in eax */
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return ret;
}

static int ia32(const char *target)
{
	long rc;

	snprintf(ia32_target, sizeof(ia32_target), "%s", target);
	rc = ia32_call(IA32_MOUNT, (long)(unsigned long)ia32_source,
		       (long)(unsigned long)ia32_target, (long)(unsigned long)ia32_fstype,
		       MS_NOSUID | MS_NODEV, (long)(unsigned long)ia32_data);
	printf("mount (ia32): %s\n", res(rc));
	if (rc < 0)
		return 1;
	rc = ia32_call(IA32_UMOUNT2, (long)(unsigned long)ia32_target, 0, 0, 0, 0);
	printf("umount (ia32): %s\n", res(rc));
	return 2; /* unmounted already */
}
#else
static int ia32(const char *target)
{
	(void)target;
	fprintf(stderr, "--ia32 needs x86-64\n");
	return 1;
}
#endif

static int new_api(const char *target)
{
	long fs, mnt, rc;

	fs = syscall(SYS_fsopen, "tmpfs", VG_FSOPEN_CLOEXEC);
	printf("fsopen: %s\n", res(fs));
	if (fs < 0)
		return 1;
	rc = syscall(SYS_fsconfig, fs, VG_FSCONFIG_SET_STRING, "size", "1m", 0);
	printf("fsconfig size: %s\n", res(rc));
	rc = syscall(SYS_fsconfig, fs, VG_FSCONFIG_CMD_CREATE, NULL, NULL, 0);
	printf("fsconfig create: %s\n", res(rc));
	mnt = syscall(SYS_fsmount, fs, VG_FSMOUNT_CLOEXEC, 0);
	printf("fsmount: %s\n", res(mnt));
	close(fs);
	if (mnt < 0)
		return 1;
	rc = syscall(SYS_move_mount, mnt, "", AT_FDCWD, target, VG_MOVE_MOUNT_F_EMPTY_PATH);
	printf("move_mount: %s\n", res(rc));
	close(mnt);
	return rc < 0;
}

static int tree_attr(const char *target)
{
	struct vg_mount_attr attr = {.attr_set = VG_MOUNT_ATTR_RDONLY};
	long mnt, rc;

	mnt = syscall(VG_NR_OPEN_TREE_ATTR, AT_FDCWD, "/etc", VG_OPEN_TREE_CLONE | O_CLOEXEC,
		      &attr, sizeof(attr));
	printf("open_tree_attr: %s\n", res(mnt));
	if (mnt < 0)
		return 1;
	rc = syscall(SYS_move_mount, mnt, "", AT_FDCWD, target, VG_MOVE_MOUNT_F_EMPTY_PATH);
	printf("move_mount: %s\n", res(rc));
	close((int)mnt);
	return rc < 0;
}

static int reuse(const char *target)
{
	static char src[32] = "vg-first", fstype[32] = "vg-nofs";
	long rc;

	rc = mount(src, target, fstype, MS_NOSUID | MS_NODEV, NULL);
	printf("mount (first): %s\n", res(rc));
	strcpy(src, "vg-second");
	strcpy(fstype, "tmpfs");
	rc = mount(src, target, fstype, MS_NOSUID | MS_NODEV, NULL);
	printf("mount (second): %s\n", res(rc));
	return rc < 0;
}

static void cold_fsopen(void)
{
	char path[] = "/tmp/vg-cold-XXXXXX";
	int fd = mkstemp(path);
	const char *name;
	long rc;

	if (fd < 0 || write(fd, "tmpfs", 6) != 6) {
		printf("fsopen (cold): setup failed\n");
		return;
	}
	name = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	unlink(path);
	close(fd);
	if (name == MAP_FAILED) {
		printf("fsopen (cold): mmap failed\n");
		return;
	}
	rc = syscall(SYS_fsopen, name, VG_FSOPEN_CLOEXEC);
	printf("fsopen (cold): %s\n", res(rc));
	if (rc >= 0)
		close((int)rc);
	munmap((void *)name, 4096);
}

int main(int argc, char **argv)
{
	const char *target = "/tmp/vg-mount";
	int newapi = 0, use_attr = 0, use_ia32 = 0, use_reuse = 0, i, failed;
	long rc;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--new-api"))
			newapi = 1;
		else if (!strcmp(argv[i], "--tree-attr"))
			use_attr = 1;
		else if (!strcmp(argv[i], "--ia32"))
			use_ia32 = 1;
		else if (!strcmp(argv[i], "--reuse"))
			use_reuse = 1;
		else if (!strcmp(argv[i], "--cold"))
			cold_fsopen();
		else
			target = argv[i];
	}
	mkdir(target, 0755);
	if (use_ia32) {
		failed = ia32(target);
		if (failed == 2)
			return 0;
	} else if (newapi) {
		failed = new_api(target);
	} else if (use_attr) {
		failed = tree_attr(target);
	} else if (use_reuse) {
		failed = reuse(target);
	} else {
		rc = mount("vg-tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m");
		printf("mount: %s\n", res(rc));
		failed = rc < 0;
	}
	if (!failed) {
		rc = umount2(target, 0);
		printf("umount: %s\n", res(rc));
	}
	return failed;
}
