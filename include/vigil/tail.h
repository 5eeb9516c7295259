/*
 * tail: the live-tail server.  The agent publishes every JSON line it
 * emits; the server keeps a bounded backlog of recent lines (for --since)
 * and fans each line out to the connected `vigil tail` clients whose
 * filter takes it.  It runs on its own thread with its own epoll loop:
 * vg_tail_publish() only copies the line into a bounded intake queue and
 * never blocks.  Every client has its own bounded queue; a client that
 * stops reading is cut off when its queue fills (counted) and never slows
 * the agent or the other clients.  One that still reads but falls behind
 * a burst loses lines instead (counted) and is told how many, and so is
 * every streaming client when the intake itself is full.
 *
 * Socket: a unix stream socket, default /run/vigil/vigil.sock, mode 0660,
 * group "vigil" when that group exists (owner: the agent, root).
 *
 * Protocol (text lines, '\n' terminated, at most VG_TAIL_FILTER_MAX bytes):
 *   client -> server, once, first:
 *     VIGIL-TAIL 1 [container=V] [rule=V] [severity=V] [alerts=1]
 *                  [since=SECONDS] [format=json|view] [stats=1]
 *     values are %XX-encoded (bytes other than [A-Za-z0-9._:/@+-]);
 *     container: a container's name exactly, NAME* for every name that
 *     starts with NAME, an id prefix of at least 4 hex digits (either
 *     case), or "host" (the host's records, and a container named exactly
 *     "host");
 *     severity: minimum, a name or 0..4 (vg_out_sev_parse);
 *     alerts=1: alerts and incidents only; stats=1: also stats records
 *     (left out by default); since: replay what the backlog holds of the
 *     last SECONDS: the newest matching lines that fit in half the
 *     client's queue (1 MiB by default).
 *   server -> client, once:  "VIGIL-TAIL 1 OK" or "VIGIL-TAIL 1 ERR reason"
 *   server -> client, then: "VIGIL-TAIL 1 LOST n since" when the replay
 *   leaves out n older matching lines (they do not fit in it); the lines
 *   replayed; matching JSON lines as they come, one per record;
 *   "VIGIL-TAIL 1 LOST n" when n lines could not be queued for it;
 *   "VIGIL-TAIL 1 LOST n intake" when the server's intake dropped n lines
 *   while it streamed (the server fell behind, not the client; its filter
 *   might not have taken all of them); and
 *   "VIGIL-TAIL 1 END" when the agent stops (a stream that ends without
 *   it was cut off).
 * A client that sends no filter line within 2 s is closed.  At most 64
 * clients: past that, the one waiting longest for its filter line is
 * closed to make room, and only when all of them stream is the newcomer
 * refused ("VIGIL-TAIL 1 ERR too many tail clients").
 */
#ifndef VIGIL_TAIL_H
#define VIGIL_TAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vigil/out.h"
#include "vigil/stats.h"

#define VG_TAIL_SOCKET "/run/vigil/vigil.sock"
#define VG_TAIL_FILTER_MAX 1024
#define VG_TAIL_MAGIC "VIGIL-TAIL 1"

/*
 * The file a socket took at its path.  The path is removed only while it
 * still names that file: after the socket was removed by hand (rm -rf
 * /run/vigil), another agent may have bound the path, and its socket is
 * not ours to remove.
 */
struct vg_tail_file {
	dev_t dev;
	ino_t ino;
};

struct vg_tail_opts {
	const char *path;	/* NULL: VG_TAIL_SOCKET; its folder is created */
	size_t client_queue;	/* bytes per client, 0: 2 MiB */
	unsigned stall_ms;	/* a client whose socket takes nothing this long
				 * while its queue is full is cut off; 0: 2000 */
	size_t backlog_bytes;	/* 0: 4 MiB */
	size_t intake_bytes;	/* lines on their way to the server thread, 0: 4 MiB
				 * (at least one line of the largest size) */
	unsigned max_clients;	/* 0: 64 */
	unsigned mode;		/* socket mode, 0: 0660 */
	const char *group;	/* NULL: "vigil" (ignored when it does not exist) */
	const char *group_file; /* NULL: /etc/group */
	int filter_timeout_ms;	/* 0: 2000 */
	/* a socket vg_tail_listen made (bound at path as listen_file,
	 * listening): the server takes it over, closed and its path unlinked
	 * with the server, even when vg_tail_new fails */
	bool prebound;
	int listen_fd;
	struct vg_tail_file listen_file;
};

/* What a client asked for; parsed from its filter line. */
struct vg_tail_filter {
	char container[256]; /* "" = any */
	char rule[64];	     /* "" = any */
	enum vg_out_sev min_sev;
	bool alerts_only;
	bool stats;
	bool view;	  /* format=view (informational) */
	unsigned since_s; /* 0: no replay */
};

struct vg_tail;

/*
 * Bind the socket and start the server thread.  An existing socket at path
 * that answers is another running agent: -EADDRINUSE; a stale one is
 * replaced.  stats may be NULL.  Returns 0 or -errno.
 */
int vg_tail_new(const struct vg_tail_opts *opts, struct vg_stats *stats, struct vg_tail **out);

/*
 * The listening socket alone, at opts->path (defaults as vg_tail_new's):
 * made while the agent still holds the capabilities that setting its group
 * needs (CAP_CHOWN: root is no member of "vigil"), before they are
 * dropped.  Returns 0, *fd and the file it took at the path, or -errno
 * (nothing left at the path).
 */
int vg_tail_listen(const struct vg_tail_opts *opts, int *fd, struct vg_tail_file *file);

/* Remove path if it still names file (call it before closing the socket
 * bound there: while it is open, no other file can have its number). */
void vg_tail_unlink(const char *path, const struct vg_tail_file *file);

/* Hand one JSON line (with '\n') to the server.  Never blocks. */
void vg_tail_publish(struct vg_tail *t, const char *line, size_t len,
		     const struct vg_out_meta *meta);

/* Stop the thread, close every client, remove the socket. */
void vg_tail_free(struct vg_tail **t);

const struct vg_tail_counters *vg_tail_counters(const struct vg_tail *t);

/* Filter line helpers, shared with the client (tailcli.c). */
/* Parse one filter line (without '\n').  Returns 0 or -EINVAL with a
 * reason in err. */
int vg_tail_filter_parse(const char *line, struct vg_tail_filter *f, char *err, size_t errsz);
/* Write f as a filter line with '\n' into dst.  Returns length or -ENOSPC. */
int vg_tail_filter_format(const struct vg_tail_filter *f, char *dst, size_t cap);
/* gid of group name in file (NULL: /etc/group), read without NSS.
 * Returns 0, -ENOENT when there is no such group, or -errno. */
int vg_tail_group_gid(const char *file, const char *name, gid_t *gid);
/* Bind the AF_UNIX socket fd at path, the file already with mode and,
 * when gid is not NULL, that group; file (may be NULL) gets which file it
 * is.  Returns 0, -EADDRINUSE when something is at path, or -errno. */
int vg_tail_bind(int fd, const char *path, mode_t mode, const gid_t *gid,
		 struct vg_tail_file *file);
/* Tests only (NULL): called with stage 0 once the private directory priv
 * is made, 1 once it is held and checked, 2 after the bind, before the
 * mode and the link. */
extern void (*vg_tail_bind_hook)(int stage, const char *path, const char *priv);
/* Tests only (NULL): called on the server's thread with stage 0 when it
 * has just gone idle (its intake's eventfd efd now written at the first
 * line), before it looks at the intake once more; 1 when that look found
 * lines and it is busy again. */
extern void (*vg_tail_idle_hook)(int stage, int efd);

/* Does a record with this meta pass f?  (since is not checked here.) */
bool vg_tail_filter_match(const struct vg_tail_filter *f, const struct vg_out_meta *m);

#endif
