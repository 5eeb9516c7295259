/*
 * vg-connect: one connect(2), for end-to-end tests of the connect hooks.
 *
 *   vg-connect [-u [-s]] [-6] [-m] [-n COUNT] [--hold[-unix] N] [--intr] [--ia32|--uring]
 *              ADDR PORT
 *     -u      UDP (default TCP)
 *     -s      with -u: no connect, one sendto(2) of one byte on the
 *             unconnected socket (the sendmsg hooks); prints "sendto: ..."
 *     -n      with -u: COUNT connects of one socket, as fast as they go (a
 *             burst of exactly COUNT connect records); prints "connects: N
 *             OK" with the number that succeeded
 *     -6      ADDR is IPv6
 *     -m      IPv4 ADDR as an IPv4-mapped IPv6 address on an AF_INET6 socket
 *     --ia32  socket and connect through the 32-bit int $0x80 ABI (x86-64),
 *             which syscall tracepoints do not see
 *     --uring the connect as an io_uring IORING_OP_CONNECT (no syscall at
 *             all for the connect itself), raw syscalls, no liburing
 *     --hold  before the connect, one connect fills the accept queue of a
 *             loopback listener of this process, then N threads each start
 *             a blocking TCP connect to it, which waits; the connect to
 *             ADDR PORT is made once they all wait, and they give up after
 *             4 s (SO_SNDTIMEO, EINPROGRESS).  Prints "held: K port P"
 *             first: K connects were waiting, to 127.0.0.1 port P (N + 1
 *             connects there in all)
 *     --hold-unix  the same with an abstract AF_UNIX listener ("held: K
 *             unix"); they give up with EAGAIN
 *     --intr  the connect goes to a loopback listener whose accept queue is
 *             full (not to ADDR PORT), and a signal interrupts it after 1 s:
 *             "connect: EINTR" (the kernel's own result at the syscall's
 *             exit is -ERESTARTSYS)
 *
 * Prints "connect: OK" or "connect: <ERRNO NAME>"; exit 0 when connected.
 * Bounded: an alarm interrupts a connect that has not finished in 5 s (10
 * with --hold).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/io_uring.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

/* i386 syscall numbers (arch/x86/entry/syscalls/syscall_32.tbl) */
#define IA32_SOCKET 359
#define IA32_CONNECT 362

/* int $0x80 passes 32-bit pointers: keep the address in static storage
 * (a static, non-PIE binary's .bss is below 4 GiB) */
static struct sockaddr_storage ia32_sa;

/*
 * One IORING_OP_CONNECT on a ring of one entry, waited for.  Returns the
 * completion's result (0 or -errno), or -errno when the ring cannot be set
 * up (e.g. a seccomp profile that refuses io_uring_setup).
 */
static int uring_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	int ring = (int)syscall(__NR_io_uring_setup, 1, &p);
	if (ring < 0)
		return -errno;
	size_t sq_sz = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	size_t cq_sz = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	char *sq = mmap(NULL, sq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring,
			IORING_OFF_SQ_RING);
	char *cq = mmap(NULL, cq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring,
			IORING_OFF_CQ_RING);
	struct io_uring_sqe *sqes = mmap(NULL, p.sq_entries * sizeof(*sqes), PROT_READ | PROT_WRITE,
					 MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED)
		return -ENOMEM;

	unsigned *tail = (unsigned *)(sq + p.sq_off.tail);
	unsigned mask = *(unsigned *)(sq + p.sq_off.ring_mask);
	unsigned idx = *tail & mask;
	struct io_uring_sqe *e = &sqes[idx];
	memset(e, 0, sizeof(*e));
	e->opcode = IORING_OP_CONNECT;
	e->fd = fd;
	e->addr = (uint64_t)(uintptr_t)sa;
	e->off = len; /* the address length travels in off */
	((unsigned *)(sq + p.sq_off.array))[idx] = idx;
	__atomic_store_n(tail, *tail + 1, __ATOMIC_RELEASE);

	if (syscall(__NR_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
		return -errno;
	unsigned head = __atomic_load_n((unsigned *)(cq + p.cq_off.head), __ATOMIC_ACQUIRE);
	unsigned cmask = *(unsigned *)(cq + p.cq_off.ring_mask);
	struct io_uring_cqe *cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	int res = cqes[head & cmask].res;
	close(ring);
	return res;
}

/* --hold's listener: 127.0.0.1 (TCP) or an abstract AF_UNIX name */
static struct sockaddr_storage hold_sa;
static socklen_t hold_len;

static void *hold_one(void *arg)
{
	struct timeval tv = {.tv_sec = 4};
	int fd = socket(hold_sa.ss_family, SOCK_STREAM, 0);

	(void)arg;
	if (fd < 0)
		return NULL;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	connect(fd, (struct sockaddr *)&hold_sa, hold_len);
	close(fd);
	return NULL;
}

/* threads of this process now inside connect(2) (/proc/self/task/T/syscall) */
static int in_connect(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d))) {
		char path[300], buf[32] = "";
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/syscall", e->d_name);
		f = fopen(path, "r");
		if (f && fgets(buf, sizeof(buf), f) && atol(buf) == SYS_connect)
			n++;
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	return n;
}

/* --hold: nthr threads waiting in connect; returns how many wait, or -1 */
static int hold_start(int nthr, pthread_t *thr, int family)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)&hold_sa;
	struct sockaddr_un *su = (struct sockaddr_un *)&hold_sa;
	int lfd = socket(family, SOCK_STREAM, 0), ffd = socket(family, SOCK_STREAM, 0), n = 0;

	hold_sa.ss_family = (sa_family_t)family;
	if (family == AF_UNIX) {
		/* abstract: the name starts with a NUL byte */
		hold_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
				       snprintf(su->sun_path + 1, sizeof(su->sun_path) - 1,
						"vg-connect-%d", (int)getpid()));
	} else {
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		hold_len = sizeof(*s4);
	}
	if (lfd < 0 || ffd < 0 || bind(lfd, (struct sockaddr *)&hold_sa, hold_len) ||
	    listen(lfd, 0) || getsockname(lfd, (struct sockaddr *)&hold_sa, &hold_len))
		return -1;
	/* the one connection a backlog of 0 takes: every later one waits */
	if (connect(ffd, (struct sockaddr *)&hold_sa, hold_len))
		return -1;
	for (int t = 0; t < nthr; t++)
		if (pthread_create(&thr[t], NULL, hold_one, NULL))
			return -1;
	/* at most 2 s */
	for (int tries = 0; tries < 200 && (n = in_connect()) < nthr; tries++)
		usleep(10000);
	if (family == AF_UNIX)
		printf("held: %d unix\n", n);
	else
		printf("held: %d port %u\n", n, ntohs(s4->sin_port));
	fflush(stdout);
	return n;
}

static void on_alarm(int sig)
{
	(void)sig;
}

#if defined(__x86_64__)
static long ia32_call(long nr, long a, long b, long c)
{
	long ret;

	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
	return (int)ret; /* the 32-bit ABI returns in eax */
}
#endif

static int usage(void)
{
	fprintf(stderr,
		"usage: vg-connect [-u [-s]] [-6] [-m] [-n COUNT] [--hold[-unix] N] [--intr] "
		"[--ia32|--uring] ADDR PORT\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage sa;
	struct sigaction act;
	socklen_t len;
	int udp = 0, v6 = 0, mapped = 0, ia32 = 0, uring = 0, hold = 0, hold_unix = 0, i, fd, rc,
	    err = 0, send = 0, intr = 0;
	pthread_t thr[256];
	long count = 0;
	const char *addr, *port;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-u"))
			udp = 1;
		else if (!strcmp(argv[i], "-s"))
			send = 1;
		else if (!strcmp(argv[i], "-6"))
			v6 = 1;
		else if (!strcmp(argv[i], "-m"))
			mapped = 1;
		else if (!strcmp(argv[i], "--ia32"))
			ia32 = 1;
		else if (!strcmp(argv[i], "--uring"))
			uring = 1;
		else if (!strcmp(argv[i], "-n") && i + 1 < argc)
			count = atol(argv[++i]);
		else if (!strcmp(argv[i], "--hold") && i + 1 < argc)
			hold = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--hold-unix") && i + 1 < argc)
			hold = atoi(argv[++i]), hold_unix = 1;
		else if (!strcmp(argv[i], "--intr"))
			intr = 1;
		else
			return usage();
	}
	if (argc - i != 2 || (count && (!udp || ia32 || uring || count < 1)) ||
	    (send && (!udp || count || ia32 || uring || hold)) || hold < 0 ||
	    (intr && (udp || v6 || mapped || ia32 || uring || hold)) ||
	    hold > (int)(sizeof(thr) / sizeof(thr[0])))
		return usage();
	addr = argv[i];
	port = argv[i + 1];

	memset(&sa, 0, sizeof(sa));
	if (v6 || mapped) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&sa;
		char buf[64];

		snprintf(buf, sizeof(buf), "%s%s", mapped ? "::ffff:" : "", addr);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(atoi(port));
		if (inet_pton(AF_INET6, buf, &s6->sin6_addr) != 1)
			return usage();
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&sa;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(atoi(port));
		if (inet_pton(AF_INET, addr, &s4->sin_addr) != 1)
			return usage();
		len = sizeof(*s4);
	}

	memset(&act, 0, sizeof(act));
	act.sa_handler = on_alarm; /* no SA_RESTART: connect returns EINTR */
	sigaction(SIGALRM, &act, NULL);
	alarm(intr ? 1 : hold ? 10 : 5); /* --hold: after the held connects give up */
	if ((hold || intr) && hold_start(hold, thr, hold_unix ? AF_UNIX : AF_INET) < 0) {
		printf("hold: %s\n", strerrorname_np(errno));
		return 1;
	}
	if (intr) {
		memcpy(&sa, &hold_sa, sizeof(sa));
		len = hold_len;
	}

	if (ia32) {
#if defined(__x86_64__)
		memcpy(&ia32_sa, &sa, sizeof(sa));
		fd = ia32_call(IA32_SOCKET, sa.ss_family, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
		if (fd < 0) {
			printf("socket: %s\n", strerrorname_np(-fd));
			return 1;
		}
		rc = ia32_call(IA32_CONNECT, fd, (long)(unsigned long)&ia32_sa, len);
		err = rc < 0 ? -rc : 0;
#else
		fprintf(stderr, "--ia32 needs x86-64\n");
		return 2;
#endif
	} else {
		fd = socket(sa.ss_family, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
		if (fd < 0) {
			printf("socket: %s\n", strerrorname_np(errno));
			return 1;
		}
		if (send) {
			rc = (int)sendto(fd, "x", 1, 0, (struct sockaddr *)&sa, len);
			printf("sendto: %s\n", rc < 0 ? strerrorname_np(errno) : "OK");
			close(fd);
			return rc < 0 ? 1 : 0;
		}
		if (uring) {
			rc = uring_connect(fd, (struct sockaddr *)&sa, len);
			err = rc < 0 ? -rc : 0;
		} else if (count) {
			/* a UDP socket may be connected again and again: one
			 * record per call, no packet sent */
			long okn = 0;

			for (long n = 0; n < count; n++)
				okn += connect(fd, (struct sockaddr *)&sa, len) == 0;
			printf("connects: %ld OK\n", okn);
			close(fd);
			return okn == count ? 0 : 1;
		} else {
			rc = connect(fd, (struct sockaddr *)&sa, len);
			err = rc < 0 ? errno : 0;
		}
	}
	printf("connect: %s\n", err ? strerrorname_np(err) : "OK");
	close(fd);
	for (i = 0; i < hold; i++)
		pthread_join(thr[i], NULL);
	return err ? 1 : 0;
}
