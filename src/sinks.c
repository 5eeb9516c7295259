// SPDX-License-Identifier: GPL-2.0
/*
 * sinks: one thread per sink.
 *
 * The caller's side is vg_sinks_emit(): an item header (time, severity,
 * kind) and the line are copied into each sink's queue; a full queue drops
 * the line and counts it.  The sink's side is sink_main(): while its
 * destination is down it sleeps out a backoff and retries the open; while
 * up it takes lines off the queue.  The backoff grows with every failed
 * open and every connection that breaks, and only a connection that had
 * stayed up STABLE_MS earns the shortest wait back: a collector that
 * accepts and then closes would otherwise be reconnected to for every
 * other line.  A syslog sink also looks for the collector's close before
 * each batch, so that no line goes into a connection already gone.
 *
 * File and stdout sinks batch lines into one write (up to BATCH bytes,
 * flushed when the queue runs empty); syslog sends one message per
 * record.  "handled" counts every queued line that was written or lost
 * after queueing, which is what vg_sinks_flush() waits on.
 *
 * Wakeups are most of what a busy agent spends (a sleep and a wakeup cost
 * more than formatting a record), so a file or stdout that is a regular
 * file is written by the kicking thread itself when that is a plain append
 * (vg_file_sink_quick: no rotation due, nothing that blocks): one wakeup
 * per drain instead of two.  The io lock makes the two writers take turns;
 * the kick only tries it, and wakes the thread when it is busy, when the
 * destination is down or a rotation is due, or when lines are left.
 *
 * Such a sink whose queue is empty skips the queue altogether: the first
 * line of a round takes the io lock (try only), and the round's lines go
 * straight into the batch until the kick writes it and lets go of the
 * lock; one copy per line instead of two, and the queue's pages are never
 * touched.  A round past DIRECT_MAX bytes lets go early and queues the
 * rest for the thread, which writes the batch first (order is kept).  This
 * relies on one thread calling emit and kick, which the agent does.
 *
 * A burst is held where it is cheapest to hold.  A full queue of a sink
 * that writes to a regular file (file:, or stdout redirected to one) makes
 * the emitting thread wait for room, up to PUSH_WAIT_MS: the agent then
 * stops draining the ring buffer, whose records take a quarter of the room
 * of their JSON lines, and what even the ring buffer cannot take is counted
 * there, by event type.  A sink that kept it waiting that long without
 * taking a line (a disk that hangs, a rotation compressing a large file)
 * is not waited for again until its queue takes a line at once; its lines
 * are then dropped and counted, as every other sink's are when its queue
 * is full (a collector or a pipe must never hold the sensor up).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "vigil/queue.h"
#include "vigil/sink_file.h"
#include "vigil/sink_syslog.h"
#include "vigil/sinks.h"

#define BATCH (256 * 1024)
#define BACKOFF_MIN_MS 100u
#define BACKOFF_MAX_MS 30000u
/* a connection that broke after this long resets the backoff; one that
 * broke sooner doubles it.  A collector that accepts and closes (a
 * TLS-only port, a load balancer without backends, a session limit)
 * does so within milliseconds, while a healthy one that restarts has
 * been up far longer than this */
#define STABLE_MS 10000u
#define DRAIN_MS 2000
/* rounds up to this many queued bytes are written by the kicking thread
 * (an exec storm's 15 ms round is 60-90 KB; a faster stream's rounds go on
 * to the sink's thread, one more wakeup over hundreds of records) */
#define DIRECT_MAX (96 * 1024)
/* the longest a full file sink holds the emitting thread (see the top);
 * the ring buffer fills in ~70 ms at a million records a second */
#define PUSH_WAIT_MS 250

enum sink_kind {
	SINK_STDOUT = 1,
	SINK_FILE = 2,
	SINK_SYSLOG = 3,
};

struct item_hdr {
	uint64_t wall_ns;
	uint8_t sev;
	uint8_t kind;
	uint8_t pad[6];
};

struct sink {
	char name[256];
	enum sink_kind kind;
	struct vg_sink_counters c;
	_Atomic uint64_t handled;
	struct vg_queue *q;
	pthread_t th;
	bool started;
	bool stuck; /* its thread did not end at stop: see park_stuck */
	_Atomic int stop;
	enum vg_out_sev min;
	bool alerts_only;
	size_t queue_bytes;
	size_t wake_bytes; /* wake the thread early past this much queued */

	char path[VG_FILE_PATH_MAX];
	struct vg_file_sink_opts fo;
	bool gzip_asked; /* gzip=1 given, which keep=0 leaves nothing to do */
	struct vg_file_sink *file;
	struct vg_syslog_opts so;
	struct vg_syslog *sl;
	int fd;		    /* stdout */
	bool broken_line;   /* stdout: the last write ended inside a line */
	bool stdout_reg;    /* stdout is a regular file or /dev/null (writes never
			     * block long) */
	bool may_wait;	    /* a full queue holds the emitter (a regular file, as
			     * opened at start) */
	bool stalled;	    /* ... but did not make room in time: drop instead */
	pthread_mutex_t io; /* the batch and the destination: thread or kicker */

	bool direct;   /* the emitting thread holds io; lines go into the batch */
	bool tried;    /* this round already went to the queue */
	size_t dbytes; /* put into the batch directly this round */

	bool up;
	bool ever_up;
	bool last_try;	      /* stopping: the one open tried without waiting */
	unsigned backoff_ms;  /* the wait after the next failure */
	uint64_t up_since_ms; /* monotonic: when the destination came up */
	uint64_t retry_at_ms; /* monotonic: no open before this */
	char *batch;
	size_t blen;
	unsigned blines;
	char *item; /* pop buffer */
};

struct vg_sinks {
	struct vg_stats *stats;
	bool stopped;
	unsigned n;
	struct sink *s[VG_SINKS_MAX];
	char err[256];
};

#define ADD(x, v) atomic_fetch_add_explicit(&(x), (v), memory_order_relaxed)
#define SET(x, v) atomic_store_explicit(&(x), (v), memory_order_relaxed)
#define GET(x) atomic_load_explicit(&(x), memory_order_relaxed)

int vg_sinks_new(struct vg_stats *stats, struct vg_sinks **out)
{
	struct vg_sinks *s;

	if (!out)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->stats = stats;
	*out = s;
	return 0;
}

const char *vg_sinks_error(const struct vg_sinks *s)
{
	return s->err;
}

unsigned vg_sinks_count(const struct vg_sinks *s)
{
	return s->n;
}

const struct vg_sink_counters *vg_sinks_counters(const struct vg_sinks *s, unsigned i)
{
	return i < s->n ? &s->s[i]->c : NULL;
}

const char *vg_sinks_name(const struct vg_sinks *s, unsigned i)
{
	return i < s->n ? s->s[i]->name : NULL;
}

/* "64M" -> 67108864; returns 0 or -EINVAL */
static int parse_size(const char *v, uint64_t *out)
{
	char *end;
	unsigned long long n;
	unsigned shift = 0;

	if (!v || *v < '0' || *v > '9')
		return -EINVAL;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	default:
		break;
	}
	if (shift) {
		if (n > UINT64_MAX >> shift)
			return -EINVAL; /* would wrap to a small size */
		n <<= shift;
		end++;
	}
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end)
		return -EINVAL;
	*out = n;
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on"))
		*out = true;
	else if (!strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

#define FAIL(...)                                                                                  \
	do {                                                                                       \
		snprintf(set->err, sizeof(set->err), __VA_ARGS__);                                 \
		return -EINVAL;                                                                    \
	} while (0)

/* key=value options after the target */
static int parse_option(struct vg_sinks *set, struct sink *k, char *opt)
{
	char *eq = strchr(opt, '=');
	const char *key = opt, *val = eq ? eq + 1 : NULL;
	uint64_t n;

	if (eq)
		*eq = '\0';
	if (!strcmp(key, "alerts")) {
		/* alone, or with a value as the tail's filter line has it */
		k->alerts_only = true;
		if (val && parse_bool(val, &k->alerts_only))
			FAIL("alerts=%s: 1 or 0, or alerts alone", val);
	} else if (!val) {
		FAIL("option '%s' needs a value (%s=...)", key, key);
	} else if (!strcmp(key, "queue")) {
		if (parse_size(val, &n) || n < 4096 || n > (1u << 30))
			FAIL("queue=%s: a size from 4K to 1G", val);
		k->queue_bytes = (size_t)n;
	} else if (!strcmp(key, "min")) {
		if (vg_out_sev_parse(val, &k->min))
			FAIL("min=%s: info, low, medium, high or critical", val);
	} else if (k->kind == SINK_FILE && !strcmp(key, "size")) {
		if (parse_size(val, &n))
			FAIL("size=%s: a size such as 100M", val);
		k->fo.max_bytes = n;
	} else if (k->kind == SINK_FILE && !strcmp(key, "keep")) {
		char *end;
		unsigned long v = strtoul(val, &end, 10);

		if (*end || !*val || v > 1000)
			FAIL("keep=%s: a count from 0 to 1000", val);
		k->fo.keep = (unsigned)v;
	} else if (k->kind == SINK_FILE && !strcmp(key, "gzip")) {
		if (parse_bool(val, &k->fo.gzip))
			FAIL("gzip=%s: 1 or 0", val);
		k->gzip_asked = k->fo.gzip;
	} else if (k->kind == SINK_SYSLOG && !strcmp(key, "facility")) {
		int f = vg_syslog_facility(val);

		if (f <= 0)
			FAIL("facility=%s: a name such as daemon, auth or local0", val);
		k->so.facility = (unsigned)f;
	} else if (k->kind == SINK_SYSLOG && !strcmp(key, "app")) {
		if (!*val || strlen(val) > VG_SYSLOG_APP_MAX)
			FAIL("app=%s: 1 to %d characters", val, VG_SYSLOG_APP_MAX);
		snprintf(k->so.app, sizeof(k->so.app), "%s", val);
	} else if (k->kind == SINK_SYSLOG && !strcmp(key, "format")) {
		if (!strcmp(val, "rfc5424") || !strcmp(val, "5424"))
			k->so.format = VG_SYSLOG_FMT_5424;
		else if ((!strcmp(val, "rfc3164") || !strcmp(val, "3164")) &&
			 k->so.transport == VG_SYSLOG_UNIX)
			FAIL("format=%s: a unix socket's reader (journald, rsyslog's imuxsock) "
			     "parses the local form: format=local",
			     val);
		else if (!strcmp(val, "rfc3164") || !strcmp(val, "3164"))
			k->so.format = VG_SYSLOG_FMT_3164;
		else if (!strcmp(val, "local"))
			k->so.format = VG_SYSLOG_FMT_LOCAL;
		else
			FAIL("format=%s: rfc5424, rfc3164 or local", val);
	} else if (k->kind == SINK_SYSLOG && !strcmp(key, "framing")) {
		if (k->so.transport != VG_SYSLOG_TCP)
			FAIL("framing=%s: for syslog:tcp:// only (a datagram holds one message, "
			     "a unix stream ends each with NUL)",
			     val);
		if (!strcmp(val, "octet"))
			k->so.framing = VG_SYSLOG_OCTET;
		else if (!strcmp(val, "lf"))
			k->so.framing = VG_SYSLOG_LF;
		else
			FAIL("framing=%s: octet or lf", val);
	} else {
		FAIL("unknown option '%s' for this output", key);
	}
	return 0;
}

static int parse_spec(struct vg_sinks *set, struct sink *k, const char *spec)
{
	char buf[4096], *opts, *tok, *save = NULL;
	int err;

	if (strlen(spec) >= sizeof(buf))
		FAIL("output spec too long");
	snprintf(buf, sizeof(buf), "%s", spec);
	opts = strchr(buf, ',');
	if (opts)
		*opts++ = '\0';
	snprintf(k->name, sizeof(k->name), "%.255s", buf);
	k->queue_bytes = 4u << 20;
	if (!strcmp(buf, "stdout") || !strcmp(buf, "-")) {
		k->kind = SINK_STDOUT;
		snprintf(k->name, sizeof(k->name), "stdout");
	} else if (!strncmp(buf, "file:", 5)) {
		k->kind = SINK_FILE;
		if (!buf[5])
			FAIL("file: needs a path (file:/var/log/vigil.json)");
		if (strlen(buf + 5) >= sizeof(k->path))
			FAIL("file: path too long");
		snprintf(k->path, sizeof(k->path), "%.3999s", buf + 5);
		k->fo.path = k->path;
		k->fo.max_bytes = 100u << 20;
		k->fo.keep = 5;
		k->fo.gzip = true;
	} else if (!strncmp(buf, "syslog:", 7)) {
		k->kind = SINK_SYSLOG;
		if (vg_syslog_parse_target(buf + 7, &k->so))
			FAIL("'%.64s': expected syslog:udp://ADDR[:PORT], syslog:tcp://ADDR[:PORT] "
			     "(ADDR an IP address) or syslog:unix:/PATH",
			     buf);
	} else {
		FAIL("unknown output '%.64s': stdout, file:PATH or syslog:...", buf);
	}
	for (tok = opts ? strtok_r(opts, ",", &save) : NULL; tok;
	     tok = strtok_r(NULL, ",", &save)) {
		err = parse_option(set, k, tok);
		if (err)
			return err;
	}
	if (k->gzip_asked && k->fo.keep == 0)
		FAIL("gzip=1 with keep=0: no rotated file is kept to compress (keep=1 or more, or "
		     "gzip=0)");
	return 0;
}

static uint64_t now_ms(void)
{
	return vg_out_mono_ns() / 1000000u;
}

static void sink_close(struct sink *k)
{
	vg_file_sink_close(&k->file);
	vg_syslog_close(&k->sl);
	k->up = false;
	SET(k->c.up, 0);
}

/* No open before the current backoff is over; the next one waits twice as
 * long. */
static void back_off(struct sink *k)
{
	k->retry_at_ms = now_ms() + k->backoff_ms;
	k->backoff_ms = k->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : k->backoff_ms * 2;
}

/* The destination failed while up: close it and reopen after the backoff,
 * which starts over only if it had stayed up long enough (see STABLE_MS). */
static void sink_broke(struct sink *k)
{
	if (now_ms() - k->up_since_ms >= STABLE_MS)
		k->backoff_ms = BACKOFF_MIN_MS;
	sink_close(k);
	back_off(k);
}

static int sink_open(struct sink *k)
{
	int err = 0;

	switch (k->kind) {
	case SINK_STDOUT: {
		struct stat sb;

		k->fd = STDOUT_FILENO;
		/* the null device takes any write at once, too */
		k->stdout_reg = fstat(k->fd, &sb) == 0 &&
				(S_ISREG(sb.st_mode) ||
				 (S_ISCHR(sb.st_mode) && sb.st_rdev == makedev(1, 3)));
		break;
	}
	case SINK_FILE:
		err = vg_file_sink_open(&k->fo, &k->file);
		break;
	case SINK_SYSLOG:
		err = vg_syslog_open(&k->so, &k->sl);
		break;
	}
	if (err)
		return err;
	if (k->ever_up)
		ADD(k->c.reconnects, 1);
	k->ever_up = true;
	k->up = true;
	k->up_since_ms = now_ms();
	SET(k->c.up, 1);
	return 0;
}

static void lost(struct sink *k, uint64_t n)
{
	ADD(k->c.dropped, n);
	ADD(k->handled, n);
}

static void delivered(struct sink *k, uint64_t n)
{
	ADD(k->c.written, n);
	ADD(k->handled, n);
}

/* Write the batch; lines that made it in full are written, the rest lost. */
static void flush_batch(struct sink *k)
{
	ssize_t n;
	unsigned whole = 0;

	if (!k->blen)
		return;
	/* either way the batch starts on a line of its own, not glued to the
	 * half line a cut write left */
	if (k->kind == SINK_FILE) {
		n = vg_file_sink_write(k->file, k->batch, k->blen);
		/* a rotation or a compression that failed is an error too,
		 * though the lines were written */
		ADD(k->c.errors, vg_file_sink_take_errors(k->file));
	} else
		n = vg_file_write_lines(k->fd, &k->broken_line, k->batch, k->blen, NULL);
	if (n == (ssize_t)k->blen) {
		whole = k->blines; /* the usual case: all of it went out */
	} else if (n > 0) {
		/* a partial write: count the lines that made it whole */
		const char *p = k->batch, *end = k->batch + n;
		while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
			whole++;
			p++;
		}
	}
	if (whole > k->blines)
		whole = k->blines;
	delivered(k, whole);
	if (whole < k->blines) {
		lost(k, k->blines - whole);
		ADD(k->c.errors, 1);
		/* ENOSPC / EFBIG: the disk is full, keep the file and go on;
		 * anything else: reopen (a removed or broken destination) */
		if (k->kind == SINK_FILE && n < 0 && n != -ENOSPC && n != -EFBIG && n != -EDQUOT)
			sink_broke(k);
		if (k->kind == SINK_STDOUT && n == -EPIPE)
			sink_broke(k);
	}
	k->blen = 0;
	k->blines = 0;
}

static void deliver(struct sink *k, const struct item_hdr *h, const char *line, size_t len)
{
	int err;

	if (k->kind == SINK_SYSLOG) {
		err = vg_syslog_send(k->sl, line, len, (enum vg_out_sev)h->sev,
				     (enum vg_out_kind)h->kind, h->wall_ns);
		/*
		 * A connection found lost before any of the line went out (a
		 * unix socket's reader that bound its path anew, a refusal an
		 * earlier datagram brought back, a reset or close since the
		 * check before the line): one reconnect and one more try, as
		 * syslog(3) does.
		 */
		if (vg_syslog_resend(err)) {
			sink_close(k);
			if (sink_open(k) == 0)
				err = vg_syslog_send(k->sl, line, len, (enum vg_out_sev)h->sev,
						     (enum vg_out_kind)h->kind, h->wall_ns);
		}
		if (!err) {
			delivered(k, 1);
			return;
		}
		lost(k, 1);
		ADD(k->c.errors, 1);
		if (err != -EMSGSIZE && err != -ENOBUFS)
			sink_broke(k);
		return;
	}
	if (k->blen + len > BATCH)
		flush_batch(k);
	if (!k->up) {
		lost(k, 1);
		return;
	}
	memcpy(k->batch + k->blen, line, len);
	k->blen += len;
	k->blines++;
}

/* One queued item straight into the batch (under the queue's lock). */
static int take_line(const void *p, size_t n, void *ctx)
{
	struct sink *k = ctx;

	if (n < sizeof(struct item_hdr)) {
		lost(k, 1);
		return 0;
	}
	n -= sizeof(struct item_hdr);
	if (k->blen + n > BATCH)
		return 1; /* write what we have first */
	memcpy(k->batch + k->blen, (const char *)p + sizeof(struct item_hdr), n);
	k->blen += n;
	k->blines++;
	return 0;
}

/*
 * File and stdout: lines go from the queue into the batch in one lock per
 * batch (no copy per line into a pop buffer), one write per batch.
 */
static void drain_to_batch(struct sink *k)
{
	while (k->up) {
		int got = vg_queue_drain(k->q, take_line, k);

		flush_batch(k);
		if (!got)
			break;
	}
}

/* Sleep out a backoff; stopping (which closes the queue) ends it early. */
static void nap(struct sink *k, unsigned ms)
{
	if (!GET(k->stop))
		vg_queue_sleep(k->q, (int)ms);
}

/* Drop everything still queued (stopping while the destination is down). */
static void discard_queue(struct sink *k)
{
	ssize_t n;

	while ((n = vg_queue_pop(k->q, k->item, sizeof(struct item_hdr) + VG_SINK_LINE_MAX)) > 0)
		lost(k, 1);
}

/* An open failed: wait longer next time; stopping drops what is queued
 * (returns -1 then, else 0). */
static int open_failed(struct sink *k)
{
	ADD(k->c.errors, 1);
	back_off(k);
	if (!GET(k->stop))
		return 0;
	discard_queue(k);
	return -1;
}

/* ms until the next open may be tried.  Stopping skips the wait once: a
 * collector that only closed an idle connection still gets what is
 * queued. */
static unsigned retry_wait(struct sink *k)
{
	uint64_t now = now_ms();

	if (GET(k->stop)) {
		k->last_try = true;
		return 0;
	}
	return now < k->retry_at_ms ? (unsigned)(k->retry_at_ms - now) : 0;
}

/*
 * Bring a destination that is down back up once its retry time has come.
 * Returns 1 when up (*opened: just now), 0 when not yet (the wait was
 * slept out, or the open failed), -1 when stopping with the destination
 * down after its last try (what was queued is dropped).
 */
static int bring_up(struct sink *k, bool *opened)
{
	unsigned wait = 0;
	int ret = 1;

	*opened = false;
	pthread_mutex_lock(&k->io);
	if (k->up)
		goto out;
	if (GET(k->stop) && k->last_try) {
		discard_queue(k);
		ret = -1;
	} else if ((wait = retry_wait(k)) > 0) {
		ret = 0;
	} else if (sink_open(k) == 0) {
		*opened = true;
	} else {
		ret = open_failed(k);
	}
out:
	pthread_mutex_unlock(&k->io);
	if (wait)
		nap(k, wait);
	return ret;
}

/*
 * Syslog: one message per line.  The collector's close is looked for
 * before each line is taken (one non-blocking peek, a syscall a line on
 * the sink's own thread): a line sent into a connection the peer has
 * closed is taken by the kernel all the same, and lost.  Found closed, the
 * line stays queued for the next connection.
 */
static void send_queued(struct sink *k)
{
	const size_t icap = sizeof(struct item_hdr) + VG_SINK_LINE_MAX;
	ssize_t n;

	while (k->up) {
		struct vg_queue_stats qs;

		/* nothing to send: the peek waits for the next line */
		vg_queue_stats(k->q, &qs);
		if (!qs.lines)
			break;
		if (!vg_syslog_alive(k->sl)) {
			ADD(k->c.errors, 1);
			sink_broke(k);
			return;
		}
		if ((n = vg_queue_pop(k->q, k->item, icap)) <= 0)
			break; /* only this thread takes lines: not reached */
		if ((size_t)n < sizeof(struct item_hdr)) {
			lost(k, 1);
			continue;
		}
		deliver(k, (const struct item_hdr *)(void *)k->item,
			k->item + sizeof(struct item_hdr), (size_t)n - sizeof(struct item_hdr));
	}
}

static void *sink_main(void *arg)
{
	struct sink *k = arg;

	for (;;) {
		bool opened;
		int rc = bring_up(k, &opened);

		if (rc < 0)
			break;
		if (rc == 0)
			continue;
		/* woken by the producer's kick (once per drain of the ring
		 * buffer, unless the kicker wrote the lines itself), early when
		 * a quarter full, or by close; no timer: every emit is followed
		 * by a kick (vg_sinks_kick, flush and free kick), and an idle
		 * sink costs no wakeups.  Lines that waited out a reconnect
		 * are taken at once, kicked or not. */
		rc = vg_queue_wait_for(k->q, opened ? 1 : k->wake_bytes, -1);
		if (rc < 0)
			break; /* closed and drained */
		pthread_mutex_lock(&k->io);
		if (rc == 0)
			flush_batch(k);
		else if (k->kind != SINK_SYSLOG)
			drain_to_batch(k);
		else if (k->up)
			send_queued(k);
		pthread_mutex_unlock(&k->io);
	}
	pthread_mutex_lock(&k->io);
	if (k->up)
		flush_batch(k);
	sink_close(k);
	pthread_mutex_unlock(&k->io);
	return NULL;
}

static void sink_destroy(struct sink *k)
{
	if (!k)
		return;
	sink_close(k);
	vg_queue_free(&k->q);
	pthread_mutex_destroy(&k->io);
	free(k->batch);
	free(k->item);
	free(k);
}

int vg_sinks_add(struct vg_sinks *set, const char *spec)
{
	struct sink *k;
	int err;

	set->err[0] = '\0';
	if (!spec || !*spec) {
		snprintf(set->err, sizeof(set->err), "empty output spec");
		return -EINVAL;
	}
	if (set->n >= VG_SINKS_MAX) {
		snprintf(set->err, sizeof(set->err), "at most %d outputs", VG_SINKS_MAX);
		return -ENOSPC;
	}
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->fd = -1;
	k->backoff_ms = BACKOFF_MIN_MS;
	pthread_mutex_init(&k->io, NULL);
	err = parse_spec(set, k, spec);
	if (err)
		goto fail;
	err = vg_queue_new(k->queue_bytes, sizeof(struct item_hdr) + VG_SINK_LINE_MAX, 0, &k->q);
	if (err == -EINVAL) /* queue smaller than one maximal line */
		err = vg_queue_new(k->queue_bytes, k->queue_bytes / 2, 0, &k->q);
	if (err)
		goto fail;
	k->wake_bytes = k->queue_bytes / 4;
	k->batch = malloc(BATCH);
	k->item = malloc(sizeof(struct item_hdr) + VG_SINK_LINE_MAX);
	if (!k->batch || !k->item) {
		err = -ENOMEM;
		goto fail;
	}
	/* A file that cannot be opened at all is a configuration error the
	 * user wants to hear about now; a collector may come up later, and so
	 * may the reader of a FIFO (ENXIO): that sink starts down and retries */
	if (k->kind == SINK_FILE) {
		struct stat sb;

		err = sink_open(k);
		/* ENXIO is a socket too, which never takes a write: say so */
		if (err == -ENXIO && stat(k->path, &sb) == 0 && S_ISSOCK(sb.st_mode)) {
			snprintf(set->err, sizeof(set->err),
				 "%.200s: a socket, not a file (syslog:unix: writes to one)",
				 k->path);
			goto fail;
		}
		if (err == -ENXIO) {
			ADD(k->c.errors, 1);
			back_off(k);
			err = 0;
		} else if (err) {
			snprintf(set->err, sizeof(set->err), "%.200s: %s", k->path, strerror(-err));
			goto fail;
		}
		k->may_wait = vg_file_sink_regular(k->file);
	} else if (k->kind == SINK_STDOUT) {
		struct stat sb;

		k->may_wait = fstat(STDOUT_FILENO, &sb) == 0 && S_ISREG(sb.st_mode);
	}
	err = pthread_create(&k->th, NULL, sink_main, k);
	if (err) {
		err = -err;
		goto fail;
	}
	k->started = true;
	if (set->stats)
		vg_stats_add_sink(set->stats, k->name, &k->c);
	set->s[set->n++] = k;
	return 0;
fail:
	sink_destroy(k);
	return err;
}

/* Can the kicking thread write this sink's lines itself?  Caller holds io. */
static bool quick_here(const struct sink *k)
{
	if (!k->up)
		return false;
	if (k->kind == SINK_STDOUT)
		return k->stdout_reg;
	if (k->kind == SINK_FILE)
		return vg_file_sink_quick(k->file, BATCH);
	return false;
}

static void end_direct(struct sink *k)
{
	k->direct = false;
	k->tried = true;
	pthread_mutex_unlock(&k->io);
}

/* The line straight into the batch (see the top of the file)?  Only the
 * emitting thread gets here. */
static bool emit_direct(struct sink *k, const char *line, size_t len)
{
	if (!k->direct) {
		struct vg_queue_stats qs;

		if (k->tried || k->kind == SINK_SYSLOG)
			return false;
		k->tried = true;
		if (pthread_mutex_trylock(&k->io) != 0)
			return false;
		vg_queue_stats(k->q, &qs);
		if (qs.used || !quick_here(k)) {
			pthread_mutex_unlock(&k->io);
			return false;
		}
		k->direct = true;
		k->dbytes = 0;
	}
	if (k->dbytes + len > DIRECT_MAX || k->blen + len > BATCH) {
		end_direct(k); /* a burst: the thread writes the rest */
		return false;
	}
	memcpy(k->batch + k->blen, line, len);
	k->blen += len;
	k->blines++;
	k->dbytes += len;
	return true;
}

/* Queue the line, waiting for room where that is allowed (see the top). */
static int push(struct sink *k, const struct iovec *iov)
{
	bool wait = k->may_wait && !k->stalled && GET(k->c.up);
	int err = vg_queue_pushv_wait(k->q, iov, 2, wait ? PUSH_WAIT_MS : 0);

	if (err == -ENOBUFS)
		k->stalled = k->may_wait;
	else if (!err)
		k->stalled = false;
	return err;
}

int vg_sinks_emit(struct vg_sinks *set, const char *line, size_t len,
		  const struct vg_out_meta *meta)
{
	struct item_hdr h = {0};
	struct iovec iov[2];
	int dropped = 0;

	if (!set)
		return 0;
	h.wall_ns = meta && meta->wall_ns ? meta->wall_ns : vg_out_now_ns();
	h.sev = meta ? (uint8_t)meta->severity : 0;
	h.kind = meta ? (uint8_t)meta->kind : 0;
	iov[0].iov_base = &h;
	iov[0].iov_len = sizeof(h);
	iov[1].iov_base = (void *)line;
	iov[1].iov_len = len;
	for (unsigned i = 0; i < set->n; i++) {
		struct sink *k = set->s[i];

		if (meta && (unsigned)meta->severity < (unsigned)k->min)
			continue;
		if (k->alerts_only &&
		    (!meta || (meta->kind != VG_OUT_ALERT && meta->kind != VG_OUT_INCIDENT)))
			continue;
		if (emit_direct(k, line, len) || push(k, iov) == 0) {
			ADD(k->c.queued, 1);
		} else {
			ADD(k->c.dropped, 1);
			dropped++;
		}
	}
	return dropped;
}

void vg_sinks_kick(struct vg_sinks *set)
{
	if (!set)
		return;
	for (unsigned i = 0; i < set->n; i++) {
		struct sink *k = set->s[i];

		k->tried = false;
		if (k->direct) {
			/* the round went into the batch: nothing is queued */
			flush_batch(k);
			k->direct = false;
			pthread_mutex_unlock(&k->io);
			continue;
		}
		/* a small round only (a burst is written by the thread, in
		 * parallel with the next drain); what is left wakes the thread
		 * (a kick of an empty queue wakes nobody) */
		if (k->kind != SINK_SYSLOG && pthread_mutex_trylock(&k->io) == 0) {
			struct vg_queue_stats qs;

			vg_queue_stats(k->q, &qs);
			if (qs.used <= DIRECT_MAX && quick_here(k)) {
				vg_queue_drain(k->q, take_line, k);
				flush_batch(k);
			}
			pthread_mutex_unlock(&k->io);
		}
		vg_queue_kick(k->q);
	}
}

/*
 * Wait until every sink handled what it was given, at most timeout_ms;
 * with stall_ms > 0, give up earlier once no sink made progress for that
 * long (a destination that takes nothing will not start at shutdown).
 */
static int flush_wait(struct vg_sinks *set, int timeout_ms, bool only_up, int stall_ms)
{
	uint64_t now = vg_out_mono_ns() / 1000000u;
	uint64_t until = now + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
	uint64_t last_sum = 0, last_change = now;

	for (;;) {
		bool done = true;
		uint64_t sum = 0;

		for (unsigned i = 0; i < set->n; i++) {
			sum += GET(set->s[i]->handled);
			if (only_up && !GET(set->s[i]->c.up))
				continue;
			if (GET(set->s[i]->handled) < GET(set->s[i]->c.queued))
				done = false;
		}
		if (done)
			return 0;
		now = vg_out_mono_ns() / 1000000u;
		if (sum != last_sum) {
			last_sum = sum;
			last_change = now;
		}
		if (now >= until || (stall_ms > 0 && now - last_change >= (uint64_t)stall_ms))
			return -ETIMEDOUT;
		struct timespec ts = {.tv_nsec = 5 * 1000000L};
		nanosleep(&ts, NULL);
	}
}

int vg_sinks_flush(struct vg_sinks *set, int timeout_ms)
{
	vg_sinks_kick(set); /* a round still in a batch */
	return flush_wait(set, timeout_ms, false, 0);
}

/*
 * Sinks whose thread did not end at stop: never freed (the thread still
 * uses the sink, its queue and its lock), kept here so that they stay
 * reachable.  Only the thread that stops sets adds to it.
 */
static struct sink *g_stuck[VG_SINKS_MAX * 4];
static unsigned g_nstuck;

static void park_stuck(struct sink *k)
{
	k->stuck = true;
	if (g_nstuck < sizeof(g_stuck) / sizeof(g_stuck[0]))
		g_stuck[g_nstuck++] = k;
}

void vg_sinks_stop(struct vg_sinks *set)
{
	struct timespec until;

	if (!set || set->stopped)
		return;
	set->stopped = true;
	vg_sinks_kick(set);
	/* a sink that is down now is not waited for: it drops what it holds */
	flush_wait(set, DRAIN_MS, true, 500);
	for (unsigned i = 0; i < set->n; i++) {
		SET(set->s[i]->stop, 1);
		vg_queue_close(set->s[i]->q);
	}
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 1;
	for (unsigned i = 0; i < set->n; i++) {
		struct sink *k = set->s[i];

		if (k->started && pthread_timedjoin_np(k->th, NULL, &until) != 0) {
			/* stuck in a write to a destination that does not drain */
			struct timespec more;

			pthread_cancel(k->th);
			clock_gettime(CLOCK_REALTIME, &more);
			more.tv_sec += 1;
			/* a write the kernel does not interrupt (a hung NFS
			 * mount, a dead disk) never reaches a cancellation
			 * point: the thread is left to it, and the sink kept */
			if (pthread_timedjoin_np(k->th, NULL, &more) != 0)
				park_stuck(k);
		}
		/* what a cancelled thread still held (its batch), or anything
		 * else queued and neither written nor dropped, is dropped now */
		uint64_t queued = GET(k->c.queued), handled = GET(k->handled);
		if (queued > handled)
			lost(k, queued - handled);
	}
}

void vg_sinks_free(struct vg_sinks **sp)
{
	struct vg_sinks *set;

	if (!sp || !*sp)
		return;
	set = *sp;
	vg_sinks_stop(set);
	for (unsigned i = 0; i < set->n; i++) {
		struct sink *k = set->s[i];

		if (set->stats)
			vg_stats_remove_sink(set->stats, &k->c);
		if (!k->stuck)
			sink_destroy(k);
	}
	free(set);
	*sp = NULL;
}
