/*
 * proctab: the process table (see proctab.h).
 *
 * All memory is allocated once: an array of entries and a power-of-two
 * bucket array of chain heads (indexes, not pointers).  An entry is split
 * in two parallel arrays: the hot part (tgid, hash chain and list links,
 * 20 bytes) that every probe and list move touches, and the cold part
 * (struct vg_proc with its ~800 bytes of strings) read only for the entry
 * found, so a chain walk or an unlink stays in a few cache lines.  Entries are taken
 * from a high-water mark before the free list, so the pages of a large,
 * mostly empty table are never touched (RSS follows use, not capacity).  Every entry is on
 * exactly one of three lists: free, live or exited, linked by index.  The
 * live list is kept in touch order (most recent first), the exited list in
 * exit order, so eviction is O(1): the oldest exited entry when there is
 * one, else the least recently touched live entry.  Reaping walks the
 * exited list from its old end and stops at the first entry to keep.
 *
 * Seeding reads /proc once at start; the hot path (apply/get) never does
 * I/O or allocation.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vigil/proctab.h"

#define NIL UINT32_MAX

enum { L_FREE = 0, L_LIVE = 1, L_EXITED = 2 };

struct pent {
	uint32_t tgid;
	uint32_t hnext;	     /* hash chain, or free list */
	uint32_t prev, next; /* live / exited list */
	uint8_t list;
};

struct pcold {
	uint64_t exit_ns; /* first: in the line insert() clears anyway */
	struct vg_proc p;
};

struct plist {
	uint32_t head, tail; /* head = newest */
};

struct vg_proctab {
	struct pent *e;	 /* hot */
	struct pcold *c; /* cold, same index */
	uint32_t *bucket;
	uint32_t cap, nbucket, count, free, hiwat;
	uint32_t nexited, exited_max; /* on the exited list; most kept there */
	struct plist lists[3];
	uint64_t evictions;
	char v2_root[PATH_MAX];
	char v1_root[PATH_MAX];
};

/*
 * The low bits as they are: the kernel hands out pids in sequence, so the
 * processes of a storm share bucket lines (sixteen to a line) instead of
 * each missing the cache on a line of its own, as a multiplicative hash
 * made them do (the bucket loads were ~60% of apply's time under an exec
 * storm).  Live pids are distinct, so a chain holds only pids that differ
 * by multiples of nbucket.
 */
static inline uint32_t hash_tgid(const struct vg_proctab *pt, uint32_t tgid)
{
	return tgid & (pt->nbucket - 1);
}

static uint32_t find(const struct vg_proctab *pt, uint32_t tgid)
{
	uint32_t i = pt->bucket[hash_tgid(pt, tgid)];

	while (i != NIL && pt->e[i].tgid != tgid)
		i = pt->e[i].hnext;
	return i;
}

static void list_unlink(struct vg_proctab *pt, uint32_t i)
{
	struct pent *x = &pt->e[i];
	struct plist *l = &pt->lists[x->list];

	if (x->prev != NIL)
		pt->e[x->prev].next = x->next;
	else
		l->head = x->next;
	if (x->next != NIL)
		pt->e[x->next].prev = x->prev;
	else
		l->tail = x->prev;
	x->prev = x->next = NIL;
}

static void list_push(struct vg_proctab *pt, uint32_t i, uint8_t which)
{
	struct pent *x = &pt->e[i];
	struct plist *l = &pt->lists[which];

	x->list = which;
	x->prev = NIL;
	x->next = l->head;
	if (l->head != NIL)
		pt->e[l->head].prev = i;
	l->head = i;
	if (l->tail == NIL)
		l->tail = i;
}

static void hash_unlink(struct vg_proctab *pt, uint32_t i)
{
	uint32_t *pp = &pt->bucket[hash_tgid(pt, pt->e[i].tgid)];

	while (*pp != i)
		pp = &pt->e[*pp].hnext;
	*pp = pt->e[i].hnext;
}

static void remove_entry(struct vg_proctab *pt, uint32_t i)
{
	if (pt->e[i].list == L_EXITED)
		pt->nexited--;
	hash_unlink(pt, i);
	list_unlink(pt, i);
	pt->e[i].list = L_FREE;
	pt->e[i].hnext = pt->free;
	pt->free = i;
	pt->count--;
}

/*
 * The lines of slot i that insert() and the first strings write.  The
 * slot freed by an exit is the next one taken, by the next fork, and was
 * last touched a thousand exits ago: its lines have left the cache, and
 * insert()'s stores waited on them (~8% of the agent under an exec
 * storm).  Fetched at the exit, they arrive while that record is encoded.
 */
static void prefetch_slot(const struct vg_proctab *pt, uint32_t i)
{
	const struct pcold *c = &pt->c[i];

	__builtin_prefetch(c, 1);
	__builtin_prefetch(c->p.comm, 1);
	__builtin_prefetch(c->p.args, 1);
}

/* a new entry for tgid (not present), evicting when full */
static uint32_t insert(struct vg_proctab *pt, uint32_t tgid)
{
	uint32_t i, h;

	if (pt->free == NIL && pt->hiwat == pt->cap) {
		uint32_t victim = pt->lists[L_EXITED].tail;

		if (victim == NIL)
			victim = pt->lists[L_LIVE].tail;
		remove_entry(pt, victim);
		__atomic_fetch_add(&pt->evictions, 1, __ATOMIC_RELAXED);
	}
	if (pt->free != NIL) {
		i = pt->free;
		pt->free = pt->e[i].hnext;
	} else {
		i = pt->hiwat++;
	}
	pt->e[i].tgid = tgid;
	/* the numbers cleared, the strings emptied: not 800 bytes of memset */
	memset(&pt->c[i], 0, offsetof(struct pcold, p.comm));
	pt->c[i].p.comm[0] = pt->c[i].p.exe[0] = pt->c[i].p.args[0] = '\0';
	pt->c[i].p.prev_name[0] = pt->c[i].p.img[0] = '\0';
	pt->c[i].p.prev_sh = false;
	pt->c[i].p.tgid = tgid;
	h = hash_tgid(pt, tgid);
	pt->e[i].hnext = pt->bucket[h];
	pt->bucket[h] = i;
	list_push(pt, i, L_LIVE);
	pt->count++;
	return i;
}

int vg_proctab_new(size_t capacity, struct vg_proctab **out)
{
	struct vg_proctab *pt;
	uint32_t i;

	if (!out || !capacity || capacity > (1u << 26))
		return -EINVAL;
	pt = calloc(1, sizeof(*pt));
	if (!pt)
		return -ENOMEM;
	pt->cap = (uint32_t)capacity;
	pt->exited_max = pt->cap;
	pt->nbucket = 1;
	while (pt->nbucket < 2 * pt->cap)
		pt->nbucket <<= 1;
	pt->e = calloc(pt->cap, sizeof(*pt->e));
	pt->c = calloc(pt->cap, sizeof(*pt->c));
	pt->bucket = malloc(pt->nbucket * sizeof(*pt->bucket));
	if (!pt->e || !pt->c || !pt->bucket) {
		vg_proctab_free(&pt);
		return -ENOMEM;
	}
	for (i = 0; i < pt->nbucket; i++)
		pt->bucket[i] = NIL;
	pt->free = NIL; /* slots come from hiwat first: untouched pages stay unused */
	for (i = 0; i < 3; i++)
		pt->lists[i].head = pt->lists[i].tail = NIL;
	*out = pt;
	return 0;
}

void vg_proctab_free(struct vg_proctab **ptp)
{
	struct vg_proctab *pt = ptp ? *ptp : NULL;

	if (!pt)
		return;
	free(pt->e);
	free(pt->c);
	free(pt->bucket);
	free(pt);
	*ptp = NULL;
}

static void set_root(char *dst, const char *src)
{
	dst[0] = '\0';
	if (src && strlen(src) < PATH_MAX)
		strcpy(dst, src);
}

void vg_proctab_set_cgroup_roots(struct vg_proctab *pt, const char *v2_root,
				 const char *v1_mem_root)
{
	set_root(pt->v2_root, v2_root);
	set_root(pt->v1_root, v1_mem_root);
}

/* ---- events ---------------------------------------------------------- */

static void copy_str(char *dst, size_t dstsz, const char *src, size_t n)
{
	if (n >= dstsz)
		n = dstsz - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* NUL separated argv -> one space separated line, bounded */
static void join_args(char *dst, size_t dstsz, const char *args, size_t n)
{
	while (n && args[n - 1] == '\0')
		n--;
	if (n >= dstsz)
		n = dstsz - 1;
	memcpy(dst, args, n);
	dst[n] = '\0';
	/*
	 * The separators, a word at a time: z gets 0x80 in exactly the bytes
	 * of w that are 0 (no carry crosses a byte), and 0x80 >> 2 is the
	 * space.  A memchr per argument cost more than the copy.
	 */
	size_t j = 0;
	for (; j + 8 <= n; j += 8) {
		const uint64_t lo7 = 0x7f7f7f7f7f7f7f7full;
		uint64_t w, z;

		memcpy(&w, dst + j, 8);
		z = ~(((w & lo7) + lo7) | w | lo7);
		w |= z >> 2;
		memcpy(dst + j, &w, 8);
	}
	for (; j < n; j++)
		if (!dst[j])
			dst[j] = ' ';
}

/* Before an exec: what it replaces (a rule tells a container's entry
 * point, which execs through its start-up chain at once, from a service
 * that turned into something else after running a while). */
const char *vg_exe_base(const char *path, size_t *len)
{
	const char *slash = strrchr(path, '/'), *b = slash ? slash + 1 : path;
	size_t n;

	if (len) {
		n = strlen(b);
		*len = n >= 10 && !memcmp(b + n - 10, " (deleted)", 10) ? n - 10 : n;
	}
	return b;
}

static void keep_prev(struct vg_proc *p)
{
	size_t n, e;
	const char *name = p->img[0]   ? vg_exe_base(p->img, &n)
			   : p->exe[0] ? vg_exe_base(p->exe, &n) /* a seeded readlink's */
				       : (n = strlen(p->comm), p->comm);

	copy_str(p->prev_name, sizeof(p->prev_name), name, n);
	/* a script's name counts only while its interpreter is unknown */
	p->prev_sh = !p->img[0] && (e = strlen(p->exe)) > 3 && !strcmp(p->exe + e - 3, ".sh");
	p->prev_ns = p->exec_ns ? p->exec_ns : p->start_ns;
}

static void fill_from_hdr(struct vg_proc *p, const struct vg_hdr *h)
{
	/*
	 * comm is the name of the thread the record came from: the process's
	 * name is its main thread's (fork and exec are the main thread's by
	 * then).  A worker thread's connect, or the exit of the last thread
	 * to leave, would otherwise rename the process for every later
	 * record that names it as a parent or an ancestor.
	 */
	if (h->tid == h->tgid || h->type == VG_EV_FORK || h->type == VG_EV_EXEC || !p->comm[0])
		copy_str(p->comm, sizeof(p->comm), h->comm, strnlen(h->comm, sizeof(h->comm)));
	if (h->flags & VG_HF_NO_TASK)
		return; /* only tgid and comm are known */
	p->ptgid = h->ptgid;
	p->ns_pid = h->ns_pid;
	p->ns_ppid = h->ns_ppid;
	p->uid = h->uid;
	p->pidns = h->pidns;
	p->mntns = h->mntns;
	p->flags = h->flags;
	p->cgroup_id = h->cgroup_id;
	p->cgroup_v1_id = h->cgroup_v1_id;
}

static void copy_cstr(char *dst, const char *src, size_t dstsz)
{
	copy_str(dst, dstsz, src, strnlen(src, dstsz - 1));
}

static void inherit(struct vg_proc *p, const struct vg_proc *par)
{
	copy_cstr(p->exe, par->exe, sizeof(p->exe));
	copy_cstr(p->img, par->img, sizeof(p->img));
	copy_cstr(p->args, par->args, sizeof(p->args));
}

static void touch(struct vg_proctab *pt, uint32_t i)
{
	if (pt->e[i].list == L_LIVE && pt->lists[L_LIVE].head != i) {
		list_unlink(pt, i);
		list_push(pt, i, L_LIVE);
	}
}

const struct vg_proc *vg_proctab_apply(struct vg_proctab *pt, const struct vg_hdr *hdr,
				       const char *exe, const char *args, size_t args_len)
{
	return vg_proctab_apply_exec(pt, hdr, exe, NULL, args, args_len);
}

const struct vg_proc *vg_proctab_apply_exec(struct vg_proctab *pt, const struct vg_hdr *hdr,
					    const char *exe, const char *img, const char *args,
					    size_t args_len)
{
	uint32_t i;
	struct vg_proc *p;

	if (!pt || !hdr)
		return NULL;
	i = find(pt, hdr->tgid);
	if (hdr->type == VG_EV_FORK) {
		uint32_t par = find(pt, hdr->ptgid);
		struct vg_proc saved; /* exe/args only, when the parent may go */
		bool save = par != NIL && (par == i || (pt->free == NIL && pt->hiwat == pt->cap));

		if (save)
			inherit(&saved, &pt->c[par].p);
		if (par != NIL)
			touch(pt, par);
		if (i != NIL) /* a tgid reused, or a duplicate: start afresh */
			remove_entry(pt, i);
		i = insert(pt, hdr->tgid);
		p = &pt->c[i].p;
		/* the parent's exe/args, the used part only (the insert may
		 * have evicted the parent: then from the copy) */
		if (save)
			inherit(p, &saved);
		else if (par != NIL)
			inherit(p, &pt->c[par].p);
		p->start_ns = hdr->ts_ns;
		fill_from_hdr(p, hdr);
		return p;
	}
	/*
	 * An exited process does not exec: the pid was reused and the new
	 * process's fork record lost (a full ring buffer).  It starts afresh,
	 * live, its start unknown, instead of taking over the old entry's
	 * exited mark (and being reaped with it) and its start.
	 */
	if (i != NIL && hdr->type == VG_EV_EXEC && pt->c[i].p.exited) {
		remove_entry(pt, i);
		i = NIL;
	}
	if (i == NIL)
		i = insert(pt, hdr->tgid);
	else
		touch(pt, i);
	p = &pt->c[i].p;
	if (hdr->type == VG_EV_EXEC)
		keep_prev(p);
	fill_from_hdr(p, hdr);
	switch (hdr->type) {
	case VG_EV_EXEC:
		copy_str(p->exe, sizeof(p->exe), exe ? exe : "", exe ? strlen(exe) : 0);
		img = img ? vg_exe_base(img, NULL) : "";
		copy_str(p->img, sizeof(p->img), img, strnlen(img, sizeof(p->img) - 1));
		join_args(p->args, sizeof(p->args), args ? args : "", args ? args_len : 0);
		p->exec_ns = hdr->ts_ns;
		break;
	case VG_EV_EXIT:
		if (!p->exited) {
			p->exited = true;
			pt->c[i].exit_ns = hdr->ts_ns;
			list_unlink(pt, i);
			list_push(pt, i, L_EXITED);
			/* past the bound the oldest exited entry goes now, not at
			 * reap: its slot is the next one taken (free list) */
			if (++pt->nexited > pt->exited_max) {
				remove_entry(pt, pt->lists[L_EXITED].tail);
				prefetch_slot(pt, pt->free);
			}
		}
		break;
	default:
		break;
	}
	return p;
}

const struct vg_proc *vg_proctab_get(const struct vg_proctab *pt, uint32_t tgid)
{
	uint32_t i = pt ? find(pt, tgid) : NIL;

	return i == NIL ? NULL : &pt->c[i].p;
}

void vg_proctab_reap(struct vg_proctab *pt, uint64_t now_ns, uint64_t keep_ns)
{
	uint32_t i;

	if (now_ns < keep_ns)
		return; /* nothing is older than the keep window yet */
	while ((i = pt->lists[L_EXITED].tail) != NIL && pt->c[i].exit_ns < now_ns - keep_ns)
		remove_entry(pt, i);
}

void vg_proctab_set_exited_max(struct vg_proctab *pt, size_t n)
{
	pt->exited_max = n && n < pt->cap ? (uint32_t)n : pt->cap;
	while (pt->nexited > pt->exited_max)
		remove_entry(pt, pt->lists[L_EXITED].tail);
}

size_t vg_proctab_count(const struct vg_proctab *pt)
{
	return pt->count;
}

uint64_t vg_proctab_evictions(const struct vg_proctab *pt)
{
	/* read by the metrics thread too */
	return __atomic_load_n(&pt->evictions, __ATOMIC_RELAXED);
}

/* ---- seeding from procfs -------------------------------------------- */

/* read a small file relative to dirfd; returns bytes (NUL added) or -errno */
static ssize_t read_at(int dirfd, const char *name, char *buf, size_t sz)
{
	ssize_t n, got = 0;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while ((size_t)got < sz - 1) {
		n = read(fd, buf + got, sz - 1 - (size_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	close(fd);
	buf[got] = '\0';
	return got;
}

/* "pid (comm) S ppid pgrp session tty_nr ...": comm may hold ')' and
 * spaces, so the fields after it are found from the last ')' */
static int parse_stat(const char *buf, struct vg_proc *p, unsigned long long *start_ticks)
{
	const char *open = strchr(buf, '('), *close = strrchr(buf, ')');
	unsigned long ppid;
	char *end;

	if (!open || !close || close < open || close[1] != ' ' || !close[2] || close[3] != ' ')
		return -EINVAL;
	copy_str(p->comm, sizeof(p->comm), open + 1, (size_t)(close - open - 1));
	ppid = strtoul(close + 4, &end, 10);
	if (end == close + 4)
		return -EINVAL;
	p->ptgid = (uint32_t)ppid;
	/* pgrp, session, then tty_nr: non-zero with a controlling terminal */
	strtol(end, &end, 10);
	strtol(end, &end, 10);
	if (strtol(end, &end, 10) != 0)
		p->flags |= VG_HF_TTY;
	/* fields 8 to 21, then 22: starttime, in clock ticks after boot */
	*start_ticks = 0;
	for (int f = 8; f <= 22; f++) {
		char *next;
		unsigned long long v = strtoull(end, &next, 10);

		if (next == end)
			break;
		end = next;
		if (f == 22)
			*start_ticks = v;
	}
	return 0;
}

/*
 * A process that was running before the agent started: its start
 * (starttime, boot-clock ticks) on the monotonic clock records are stamped
 * with, which its current image cannot precede.  Time suspended before it
 * started is taken as none, so the age is never overstated by a suspend.
 * 0 when it cannot be told.
 */
static uint64_t seeded_start_ns(unsigned long long ticks)
{
	struct timespec m;
	long hz = sysconf(_SC_CLK_TCK);
	uint64_t start, mono_now;

	if (!ticks || hz <= 0 || clock_gettime(CLOCK_MONOTONIC, &m))
		return 0;
	start = ticks / (unsigned long long)hz * 1000000000ull +
		ticks % (unsigned long long)hz * (1000000000ull / (unsigned long long)hz);
	mono_now = (uint64_t)m.tv_sec * 1000000000ull + (uint64_t)m.tv_nsec;
	return start < mono_now ? start : mono_now;
}

/* Uid (real) and the innermost NSpid from /proc/PID/status */
static void parse_status(const char *buf, struct vg_proc *p)
{
	const char *l;

	l = strstr(buf, "\nUid:");
	if (l)
		p->uid = (uint32_t)strtoul(l + 5, NULL, 10);
	l = strstr(buf, "\nNSpid:");
	if (l) {
		const char *s = l + 7;
		char *end;

		for (;;) {
			unsigned long v = strtoul(s, &end, 10);

			if (end == s)
				break;
			p->ns_pid = (uint32_t)v;
			s = end;
			if (*s == '\n')
				break;
		}
	}
}

/* "mnt:[4026531840]" -> 4026531840 */
static uint32_t ns_inode(int dirfd, const char *name)
{
	char buf[64];
	const char *b;
	ssize_t n = readlinkat(dirfd, name, buf, sizeof(buf) - 1);

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	b = strchr(buf, '[');
	return b ? (uint32_t)strtoul(b + 1, NULL, 10) : 0;
}

/* does a /proc/PID/cgroup controller list "a,b,c" hold name? */
static bool has_controller(const char *list, size_t n, const char *name)
{
	size_t nl = strlen(name), i = 0;

	while (i < n) {
		size_t j = i;

		while (j < n && list[j] != ',')
			j++;
		if (j - i == nl && !memcmp(list + i, name, nl))
			return true;
		i = j + 1;
	}
	return false;
}

static uint64_t cgroup_ino(const char *root, const char *path, size_t n)
{
	char full[PATH_MAX];
	struct stat st;
	int len;

	if (!root[0])
		return 0;
	len = snprintf(full, sizeof(full), "%s%.*s", root, (int)n, path);
	if (len < 0 || (size_t)len >= sizeof(full) || stat(full, &st) < 0)
		return 0;
	return (uint64_t)st.st_ino;
}

/* cgroup ids: v2 from "0::/path", v1 from the memory controller's line */
static void parse_cgroup(const struct vg_proctab *pt, char *buf, struct vg_proc *p)
{
	char *line = buf;

	while (line && *line) {
		char *nl = strchr(line, '\n'), *c1 = strchr(line, ':'), *c2, *path;
		size_t plen;

		if (!nl)
			nl = line + strlen(line);
		if (!c1 || c1 > nl)
			break;
		c2 = memchr(c1 + 1, ':', (size_t)(nl - c1 - 1));
		if (!c2)
			break;
		path = c2 + 1;
		plen = (size_t)(nl - path);
		if (c1 - line == 1 && line[0] == '0' && c2 == c1 + 1)
			p->cgroup_id = cgroup_ino(pt->v2_root, path, plen);
		else if (has_controller(c1 + 1, (size_t)(c2 - c1 - 1), "memory"))
			p->cgroup_v1_id = cgroup_ino(pt->v1_root, path, plen);
		line = *nl ? nl + 1 : NULL;
	}
}

static int seed_one(struct vg_proctab *pt, int procfd, const char *name, uint32_t tgid)
{
	char buf[4096];
	struct vg_proc p;
	unsigned long long ticks;
	ssize_t n;
	uint32_t i;
	int fd = openat(procfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	memset(&p, 0, sizeof(p));
	p.tgid = tgid;
	if (read_at(fd, "stat", buf, sizeof(buf)) <= 0 || parse_stat(buf, &p, &ticks) < 0) {
		close(fd);
		return -ENOENT; /* gone, or not a process */
	}
	/* its image is at most this old: what an exec that replaces it is
	 * measured from (start_ns stays 0: the table did not see the start) */
	p.exec_ns = seeded_start_ns(ticks);
	if (read_at(fd, "status", buf, sizeof(buf)) > 0)
		parse_status(buf, &p);
	n = readlinkat(fd, "exe", p.exe, sizeof(p.exe) - 1);
	p.exe[n > 0 ? n : 0] = '\0';
	n = read_at(fd, "cmdline", buf, sizeof(p.args));
	if (n > 0)
		join_args(p.args, sizeof(p.args), buf, (size_t)n);
	p.mntns = ns_inode(fd, "ns/mnt");
	p.pidns = ns_inode(fd, "ns/pid");
	if (read_at(fd, "cgroup", buf, sizeof(buf)) > 0)
		parse_cgroup(pt, buf, &p);
	close(fd);

	i = find(pt, tgid);
	if (i != NIL)
		remove_entry(pt, i);
	i = insert(pt, tgid);
	pt->c[i].p = p;
	return 0;
}

int vg_proctab_seed_pid(struct vg_proctab *pt, const char *proc_root, uint32_t tgid)
{
	char name[16];
	int fd, rc;

	if (!pt || !proc_root || !tgid)
		return -EINVAL;
	fd = open(proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	snprintf(name, sizeof(name), "%u", tgid);
	rc = seed_one(pt, fd, name, tgid);
	close(fd);
	return rc;
}

int vg_proctab_seed(struct vg_proctab *pt, const char *proc_root)
{
	struct dirent *de;
	uint32_t i;
	int added = 0, fd;
	DIR *d;

	if (!pt || !proc_root)
		return -EINVAL;
	fd = open(proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		char *end;
		unsigned long pid = strtoul(de->d_name, &end, 10);

		if (*end || end == de->d_name || !pid || pid > UINT32_MAX)
			continue;
		if (seed_one(pt, dirfd(d), de->d_name, (uint32_t)pid) == 0)
			added++;
	}
	closedir(d);

	/* the parent's pid inside the namespace, where it shares it */
	for (i = 0; i < pt->hiwat; i++) {
		struct vg_proc *p = &pt->c[i].p;
		uint32_t par;

		if (pt->e[i].list == L_FREE)
			continue;
		par = find(pt, p->ptgid);
		if (par != NIL && pt->c[par].p.pidns == p->pidns)
			p->ns_ppid = pt->c[par].p.ns_pid;
	}
	return added;
}
