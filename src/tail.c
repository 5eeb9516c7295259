// SPDX-License-Identifier: GPL-2.0
/*
 * tail: one server thread, one epoll loop.
 *
 * Items.  A published line travels as one queue entry: struct item (time,
 * kind, severity, lengths) followed by the rule name, container id and
 * container name and then the line itself, so filters run on the copy
 * without parsing JSON.  The same encoding sits in the intake queue (any
 * thread -> server thread, eventfd-signalled) and in the backlog (a queue
 * in evict-oldest mode, the last backlog_bytes of lines).
 *
 * Raw events are for the clients streaming at the time only: they never
 * enter the backlog (an exec storm would push the incident a late client
 * attaches for out of it within seconds), and with no client connected
 * they are not even queued, so the feed's busiest kind costs the tail
 * nothing when nobody watches.
 *
 * Clients.  Each starts in FILTER state: it has filter_timeout_ms to send
 * its one filter line.  Then it streams: matching lines go into its own
 * queue, and the loop writes from that queue whenever the socket takes
 * data (EPOLLOUT is armed only while something is pending).  A line that
 * does not fit in the client's queue cuts the client off: the queue holds
 * far more than a reading client ever lags, so a full one means the client
 * stopped reading, and it must not hold memory or slow anyone.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vigil/queue.h"
#include "vigil/jsonp.h"
#include "vigil/tail.h"

#define LINE_MAX_BYTES (256 * 1024)
#define INTAKE_BYTES (4u << 20)
#define TICK_MS 10 /* drain period while lines keep coming */

struct item {
	uint64_t wall_ns;
	uint8_t kind;
	uint8_t sev;
	uint8_t rule_len;
	uint8_t id_len;
	uint8_t name_len;
	uint8_t pad[3];
};

#define ITEM_MAX (sizeof(struct item) + 3 * 255 + LINE_MAX_BYTES)

enum cstate { C_FILTER = 0, C_STREAM = 1 };

struct client {
	int fd;
	enum cstate state;
	uint64_t deadline_ms;
	char in[VG_TAIL_FILTER_MAX + 1];
	size_t inlen;
	struct vg_tail_filter f;
	struct vg_queue *q;
	char *out; /* line being written */
	size_t out_len, out_off;
	bool want_out;
	uint64_t retried_ms;	   /* the last flush a full queue asked for */
	bool rd_shut;		   /* the client shut its writing side: not read again */
	bool closing;		   /* close once the queue is written (refusals) */
	uint64_t last_progress_ms; /* last time the socket took bytes */
	uint64_t lost;		   /* lines not queued since the last LOST notice */
	uint64_t lost_intake;	   /* lines the intake dropped, not yet told */
};

struct vg_tail {
	char path[108];
	struct vg_tail_opts o;
	int lfd, efd, epfd;
	bool named;		  /* the socket has its name: ours to unlink */
	struct vg_tail_file file; /* the file it took there */
	_Atomic int stop;
	pthread_t th;
	bool started;
	struct vg_queue *intake;
	_Atomic uint64_t intake_lost; /* intake drops the clients are not told of yet */
	struct vg_queue *backlog;
	struct client **clients;
	unsigned nclients;
	struct vg_tail_counters c;
	struct vg_stats *stats; /* where c is registered, or NULL */
	char *item;		/* scratch for one item */
	bool lfd_resting;	/* out of descriptors: not polled until */
	uint64_t accept_rest_ms;
};

/* accepts a round at most: a client that keeps the backlog full cannot
 * keep the thread from the lines it is there to send */
#define ACCEPT_BATCH 16
/* accept failing for want of descriptors or memory: the listener is taken
 * off the poll set this long (it stays readable: the thread would spin) */
#define ACCEPT_REST_MS 100

#define ADD(x, v) atomic_fetch_add_explicit(&(x), (v), memory_order_relaxed)
#define SUB(x, v) atomic_fetch_sub_explicit(&(x), (v), memory_order_relaxed)

static uint64_t now_ms(void)
{
	return vg_out_mono_ns() / 1000000u;
}

/* ---- filter lines ---- */

static bool plain_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("._:/@+-", c);
}

/* %XX-decode src[0..n) into dst; returns 0 or -EINVAL */
static int decode_value(const char *src, size_t n, char *dst, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= n)
				return -EINVAL;
			hi = vg_jsonp_hexval(src[i + 1]);
			lo = vg_jsonp_hexval(src[i + 2]);
			if (hi < 0 || lo < 0)
				return -EINVAL;
			c = (unsigned char)(hi * 16 + lo);
			i += 2;
			if (c == 0)
				return -EINVAL;
		} else if (!plain_byte(c)) {
			return -EINVAL;
		}
		if (o + 1 >= cap)
			return -EINVAL;
		dst[o++] = (char)c;
	}
	dst[o] = '\0';
	return 0;
}

static int encode_value(const char *s, char *dst, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (plain_byte(c)) {
			if (o + 1 >= cap)
				return -ENOSPC;
			dst[o++] = (char)c;
		} else {
			if (o + 3 >= cap)
				return -ENOSPC;
			dst[o++] = '%';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	dst[o] = '\0';
	return (int)o;
}

#define PERR(...)                                                                                  \
	do {                                                                                       \
		if (err && errsz)                                                                  \
			snprintf(err, errsz, __VA_ARGS__);                                         \
		return -EINVAL;                                                                    \
	} while (0)

int vg_tail_filter_parse(const char *line, struct vg_tail_filter *f, char *err, size_t errsz)
{
	const char *p = line;
	size_t ml = strlen(VG_TAIL_MAGIC);

	memset(f, 0, sizeof(*f));
	if (strncmp(p, VG_TAIL_MAGIC, ml) || (p[ml] != ' ' && p[ml] != '\0'))
		PERR("not a vigil tail client (protocol %s expected)", VG_TAIL_MAGIC);
	p += ml;
	while (*p) {
		const char *tok, *eq, *end;
		char val[256];
		size_t kl;

		while (*p == ' ')
			p++;
		if (!*p)
			break;
		tok = p;
		end = strchr(p, ' ');
		if (!end)
			end = p + strlen(p);
		p = end;
		eq = memchr(tok, '=', (size_t)(end - tok));
		if (!eq)
			PERR("filter item without '='");
		kl = (size_t)(eq - tok);
		if (decode_value(eq + 1, (size_t)(end - eq - 1), val, sizeof(val)))
			PERR("bad value encoding in filter");
#define KEY(k) (kl == sizeof(k) - 1 && !strncmp(tok, k, kl))
		if (KEY("container")) {
			if (strlen(val) >= sizeof(f->container))
				PERR("container filter too long");
			snprintf(f->container, sizeof(f->container), "%s", val);
		} else if (KEY("rule")) {
			if (strlen(val) >= sizeof(f->rule))
				PERR("rule filter too long");
			snprintf(f->rule, sizeof(f->rule), "%s", val);
		} else if (KEY("severity")) {
			if (vg_out_sev_parse(val, &f->min_sev))
				PERR("unknown severity '%.32s'", val);
		} else if (KEY("alerts")) {
			f->alerts_only = !strcmp(val, "1");
		} else if (KEY("stats")) {
			f->stats = !strcmp(val, "1");
		} else if (KEY("format")) {
			if (!strcmp(val, "view"))
				f->view = true;
			else if (strcmp(val, "json"))
				PERR("format must be json or view");
		} else if (KEY("since")) {
			char *e;
			unsigned long s = strtoul(val, &e, 10);

			if (*e || !*val || s > 86400)
				PERR("since must be 0..86400 seconds");
			f->since_s = (unsigned)s;
		} else {
			/* newer clients may ask for more: ignore what we do not know */
		}
#undef KEY
	}
	return 0;
}

int vg_tail_filter_format(const struct vg_tail_filter *f, char *dst, size_t cap)
{
	char c[3 * sizeof(f->container) + 1], r[3 * sizeof(f->rule) + 1];
	int n;

	if (encode_value(f->container, c, sizeof(c)) < 0 || encode_value(f->rule, r, sizeof(r)) < 0)
		return -ENOSPC;
	n = snprintf(dst, cap, "%s%s%s%s%s severity=%u alerts=%d stats=%d since=%u format=%s\n",
		     VG_TAIL_MAGIC, f->container[0] ? " container=" : "", c,
		     f->rule[0] ? " rule=" : "", r, (unsigned)f->min_sev, f->alerts_only ? 1 : 0,
		     f->stats ? 1 : 0, f->since_s, f->view ? "view" : "json");
	if (n < 0 || (size_t)n >= cap || (size_t)n > VG_TAIL_FILTER_MAX)
		return -ENOSPC;
	return n;
}

/*
 * --container: a name exactly, names that start with NAME when it is given
 * as NAME*, or an id prefix of at least 4 hex digits (either case, as
 * docker takes them).  Not a prefix of any name or id: "db" would take
 * db-backup, and one id in 256.
 */
#define ID_PREFIX_MIN 4

static bool ctr_match(const char *want, const char *id, const char *name)
{
	size_t n = strlen(want), i;

	if (n > 1 && want[n - 1] == '*')
		return name && !strncmp(name, want, n - 1);
	if (name && !strcmp(name, want))
		return true;
	if (n < ID_PREFIX_MIN || !id)
		return false;
	for (i = 0; i < n && id[i]; i++)
		if (!isxdigit((unsigned char)want[i]) ||
		    tolower((unsigned char)want[i]) != tolower((unsigned char)id[i]))
			return false;
	return i == n;
}

bool vg_tail_filter_match(const struct vg_tail_filter *f, const struct vg_out_meta *m)
{
	if (m->kind == VG_OUT_STATS && !f->stats)
		return false;
	if (f->alerts_only && m->kind != VG_OUT_ALERT && m->kind != VG_OUT_INCIDENT)
		return false;
	if ((unsigned)m->severity < (unsigned)f->min_sev)
		return false;
	if (f->rule[0] && (!m->rule || strcmp(m->rule, f->rule)))
		return false;
	if (f->container[0]) {
		bool host = !m->ctr_id || !*m->ctr_id;

		/* the host's own records, and a container named exactly "host";
		 * not every name that starts with it ("hostile", "hosting") */
		if (!strcmp(f->container, "host"))
			return host || (m->ctr_name && !strcmp(m->ctr_name, "host"));
		if (host || !ctr_match(f->container, m->ctr_id, m->ctr_name))
			return false;
	}
	return true;
}

/* ---- items ---- */

static size_t clip255(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n > 255 ? 255 : n;
}

void vg_tail_publish(struct vg_tail *t, const char *line, size_t len,
		     const struct vg_out_meta *meta)
{
	struct item it = {0};
	struct iovec iov[5];

	if (!t)
		return;
	if (!line || len > LINE_MAX_BYTES) {
		ADD(t->c.dropped, 1); /* never sent: not for the clients either */
		return;
	}
	if (meta && meta->kind == VG_OUT_EVENT &&
	    atomic_load_explicit(&t->c.clients, memory_order_relaxed) == 0)
		return;
	it.wall_ns = meta && meta->wall_ns ? meta->wall_ns : vg_out_now_ns();
	it.kind = meta ? (uint8_t)meta->kind : 0;
	it.sev = meta ? (uint8_t)meta->severity : 0;
	it.rule_len = (uint8_t)clip255(meta ? meta->rule : NULL);
	it.id_len = (uint8_t)clip255(meta ? meta->ctr_id : NULL);
	it.name_len = (uint8_t)clip255(meta ? meta->ctr_name : NULL);
	iov[0] = (struct iovec){&it, sizeof(it)};
	iov[1] = (struct iovec){(void *)(meta ? meta->rule : ""), it.rule_len};
	iov[2] = (struct iovec){(void *)(meta ? meta->ctr_id : ""), it.id_len};
	iov[3] = (struct iovec){(void *)(meta ? meta->ctr_name : ""), it.name_len};
	iov[4] = (struct iovec){(void *)line, len};
	if (vg_queue_pushv(t->intake, iov, 5) == 0)
		return;
	ADD(t->c.dropped, 1);
	/* owed to the clients streaming now (fan_out tells them) */
	if (atomic_load_explicit(&t->c.clients, memory_order_relaxed))
		ADD(t->intake_lost, 1);
}

struct view {
	struct vg_out_meta m;
	char rule[256], id[256], name[256];
	const char *line;
	size_t len;
};

static int item_view(const void *p, size_t n, struct view *v)
{
	const struct item *it = p;
	const char *s = (const char *)p + sizeof(*it);
	size_t meta = (size_t)it->rule_len + it->id_len + it->name_len;

	if (n < sizeof(*it) + meta)
		return -EINVAL;
	memcpy(v->rule, s, it->rule_len);
	v->rule[it->rule_len] = '\0';
	memcpy(v->id, s + it->rule_len, it->id_len);
	v->id[it->id_len] = '\0';
	memcpy(v->name, s + it->rule_len + it->id_len, it->name_len);
	v->name[it->name_len] = '\0';
	v->m = (struct vg_out_meta){.kind = (enum vg_out_kind)it->kind,
				    .severity = (enum vg_out_sev)it->sev,
				    .rule = v->rule,
				    .ctr_id = v->id,
				    .ctr_name = v->name,
				    .wall_ns = it->wall_ns};
	v->line = s + meta;
	v->len = n - sizeof(*it) - meta;
	return 0;
}

/* ---- clients ---- */

static void client_close(struct vg_tail *t, unsigned i)
{
	struct client *cl = t->clients[i];

	epoll_ctl(t->epfd, EPOLL_CTL_DEL, cl->fd, NULL);
	close(cl->fd);
	if (cl->state == C_STREAM)
		SUB(t->c.clients, 1);
	vg_queue_free(&cl->q);
	free(cl->out);
	free(cl);
	t->clients[i] = t->clients[--t->nclients];
}

static void set_interest(struct vg_tail *t, struct client *cl)
{
	struct epoll_event ev = {.events = (cl->rd_shut ? 0 : EPOLLIN | EPOLLRDHUP) |
					   (cl->want_out ? EPOLLOUT : 0),
				 .data.ptr = cl};

	epoll_ctl(t->epfd, EPOLL_CTL_MOD, cl->fd, &ev);
}

static void set_out_interest(struct vg_tail *t, struct client *cl, bool want)
{
	if (cl->want_out == want)
		return;
	cl->want_out = want;
	set_interest(t, cl);
}

static int client_send(struct client *cl, const char *s, size_t n);

static bool client_owed(const struct client *cl)
{
	return cl->lost || cl->lost_intake;
}

/* Queue "VIGIL-TAIL 1 LOST n<what>" for *count lines, if any. */
static int client_note(struct client *cl, uint64_t *count, const char *what)
{
	char note[64];
	int n;

	if (!*count)
		return 0;
	n = snprintf(note, sizeof(note), "%s LOST %llu%s\n", VG_TAIL_MAGIC,
		     (unsigned long long)*count, what);
	if (client_send(cl, note, (size_t)n) != 0)
		return -1;
	*count = 0;
	return 0;
}

/*
 * Queue the notices a client is owed: "VIGIL-TAIL 1 LOST n intake" for
 * lines the server's intake dropped while it streamed (some of which its
 * filter may not have passed), "VIGIL-TAIL 1 LOST n" for lines that did
 * not fit in its own queue.  -1 while one does not fit either.
 */
static int client_notes(struct client *cl)
{
	if (client_note(cl, &cl->lost_intake, " intake") || client_note(cl, &cl->lost, ""))
		return -1;
	return 0;
}

/* Write what the socket takes.  Returns -1 when the client is gone. */
static int client_flush(struct vg_tail *t, struct client *cl)
{
	for (;;) {
		if (cl->out_off == cl->out_len) {
			ssize_t n = vg_queue_pop(cl->q, cl->out, LINE_MAX_BYTES);

			if (n <= 0 && client_owed(cl) && !cl->closing && client_notes(cl) == 0)
				continue; /* caught up: say what it missed */
			if (n <= 0) {
				set_out_interest(t, cl, false);
				return cl->closing ? -1 : 0;
			}
			cl->out_len = (size_t)n;
			cl->out_off = 0;
		}
		ssize_t w = send(cl->fd, cl->out + cl->out_off, cl->out_len - cl->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				set_out_interest(t, cl, true);
				return 0;
			}
			return -1;
		}
		cl->out_off += (size_t)w;
		if (w > 0)
			cl->last_progress_ms = now_ms();
	}
}

static int client_send(struct client *cl, const char *s, size_t n)
{
	return vg_queue_push(cl->q, s, n);
}

static bool client_stalled(const struct vg_tail *t, const struct client *cl, uint64_t now)
{
	/* now may be older than the last progress (taken before a flush) */
	return now > cl->last_progress_ms && now - cl->last_progress_ms >= (uint64_t)t->o.stall_ms;
}

/*
 * Queue one line for a streaming client.  A full queue means the client
 * is behind: if its socket has taken nothing for stall_ms it stopped
 * reading and is cut off (returns -1); a client that still reads, only
 * slower than a burst, loses the line instead and is told how many with
 * a "VIGIL-TAIL 1 LOST n" line as soon as there is room again.
 */
static int client_deliver(struct vg_tail *t, struct client *cl, const char *line, size_t len,
			  uint64_t now)
{
	for (int pass = 0; pass < 2; pass++) {
		/* the second time, with what the socket took out of the queue;
		 * when it was found full (waiting for EPOLLOUT), once a
		 * millisecond at most: a slow reader would cost a send() per
		 * line, and never trying again would lose what a reader that
		 * caught up meanwhile could take */
		if (pass && cl->want_out && cl->retried_ms == now)
			break;
		if (pass)
			cl->retried_ms = now;
		if (pass && client_flush(t, cl) < 0)
			return -1;
		if (client_owed(cl))
			client_notes(cl);
		if (!client_owed(cl) && client_send(cl, line, len) == 0) {
			ADD(t->c.sent, 1);
			return 0;
		}
	}
	if (client_stalled(t, cl, now)) {
		ADD(t->c.cut_off, 1);
		return -1;
	}
	cl->lost++;
	ADD(t->c.lost, 1);
	return 0;
}

struct replay {
	struct client *cl;
	uint64_t from_ns;
	size_t budget;	  /* bytes to skip (oldest first) so the rest fits */
	size_t bytes;	  /* first pass: matching bytes */
	uint64_t skipped; /* matching lines left out, not told yet */
	bool count_only;
};

static int replay_one(const void *p, size_t n, void *ctx)
{
	struct replay *r = ctx;
	struct view v;

	if (item_view(p, n, &v) || v.m.wall_ns < r->from_ns ||
	    !vg_tail_filter_match(&r->cl->f, &v.m))
		return 0;
	if (r->count_only) {
		r->bytes += v.len + 16;
		return 0;
	}
	if (r->budget) {
		r->budget = r->budget > v.len + 16 ? r->budget - (v.len + 16) : 0;
		r->skipped++;
		return 0;
	}
	/* the lines left out are older: told first */
	if (client_note(r->cl, &r->skipped, " since") || client_send(r->cl, v.line, v.len))
		r->skipped++;
	return 0;
}

/*
 * Replay the backlog from since_s ago: the newest matching lines that fit
 * in half of the client's queue, so a replay never cuts the client off;
 * the older ones are told as "VIGIL-TAIL 1 LOST n since".
 */
static void client_replay(struct vg_tail *t, struct client *cl)
{
	struct vg_queue_stats qs;
	struct replay r = {.cl = cl, .count_only = true};
	uint64_t now = vg_out_now_ns(), span = (uint64_t)cl->f.since_s * 1000000000ull;

	r.from_ns = now > span ? now - span : 0;
	vg_queue_foreach(t->backlog, replay_one, &r);
	vg_queue_stats(cl->q, &qs);
	r.budget = r.bytes > qs.cap / 2 ? r.bytes - qs.cap / 2 : 0;
	r.count_only = false;
	vg_queue_foreach(t->backlog, replay_one, &r);
	client_note(cl, &r.skipped, " since");
}

static void client_refuse(struct vg_tail *t, struct client *cl, const char *why)
{
	char msg[256];
	int n = snprintf(msg, sizeof(msg), "%s ERR %s\n", VG_TAIL_MAGIC, why);

	client_send(cl, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
	cl->closing = true;
	ADD(t->c.refused, 1);
}

/* Input from a client.  Returns -1 when it must be closed. */
static int client_read(struct vg_tail *t, struct client *cl)
{
	char junk[512];

	if (cl->state == C_STREAM || cl->closing) {
		/* nothing more is expected: drain and watch for EOF */
		ssize_t n = recv(cl->fd, junk, sizeof(junk), MSG_DONTWAIT);

		if (n == 0 && cl->state == C_STREAM && !cl->closing) {
			/* its writing side only (a script that sent the
			 * filter line and closed stdin): it still reads */
			cl->rd_shut = true;
			set_interest(t, cl);
			return 0;
		}
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return -1;
		return 0;
	}
	ssize_t n = recv(cl->fd, cl->in + cl->inlen, VG_TAIL_FILTER_MAX - cl->inlen, MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		return -1;
	if (n < 0)
		return 0;
	cl->inlen += (size_t)n;
	cl->in[cl->inlen] = '\0';
	char *nl = memchr(cl->in, '\n', cl->inlen);
	if (!nl) {
		if (cl->inlen >= VG_TAIL_FILTER_MAX) {
			client_refuse(t, cl, "filter line too long");
			return client_flush(t, cl);
		}
		return 0;
	}
	if (memchr(cl->in, '\0', (size_t)(nl - cl->in))) {
		/* parsing would stop there, and drop what follows unread */
		client_refuse(t, cl, "NUL byte in the filter line");
		return client_flush(t, cl);
	}
	*nl = '\0';
	if (nl > cl->in && nl[-1] == '\r')
		nl[-1] = '\0';
	char err[128];
	if (vg_tail_filter_parse(cl->in, &cl->f, err, sizeof(err))) {
		client_refuse(t, cl, err);
		return client_flush(t, cl);
	}
	cl->state = C_STREAM;
	ADD(t->c.clients, 1);
	ADD(t->c.accepted, 1);
	client_send(cl, VG_TAIL_MAGIC " OK\n", strlen(VG_TAIL_MAGIC) + 4);
	if (cl->f.since_s)
		client_replay(t, cl);
	return client_flush(t, cl);
}

/*
 * Past max_clients, the client that has waited longest for its filter
 * line (a real client sends it at once) makes room for the new one, so
 * silent connections cannot hold the server full; true when one did.
 */
static bool make_room(struct vg_tail *t, const struct client *fresh)
{
	unsigned oldest = t->nclients;

	for (unsigned i = 0; i < t->nclients; i++) {
		const struct client *cl = t->clients[i];

		if (cl == fresh || cl->state != C_FILTER || cl->closing)
			continue;
		if (oldest == t->nclients || cl->deadline_ms < t->clients[oldest]->deadline_ms)
			oldest = i;
	}
	if (oldest == t->nclients)
		return false;
	ADD(t->c.refused, 1);
	client_close(t, oldest);
	return true;
}

static void listener_rest(struct vg_tail *t, bool rest)
{
	struct epoll_event ev = {.events = rest ? 0 : EPOLLIN, .data.ptr = &t->lfd};

	if (t->lfd_resting == rest)
		return;
	epoll_ctl(t->epfd, EPOLL_CTL_MOD, t->lfd, &ev);
	t->lfd_resting = rest;
	if (rest)
		t->accept_rest_ms = now_ms() + ACCEPT_REST_MS;
}

static void accept_clients(struct vg_tail *t)
{
	for (unsigned n = 0; n < ACCEPT_BATCH; n++) {
		int fd = accept4(t->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct client *cl;

		if (fd < 0) {
			if (vg_out_accept_retry(errno))
				continue;
			if (errno != EAGAIN) /* EMFILE, ENFILE, ENOMEM */
				listener_rest(t, true);
			return;
		}
		if (t->nclients > t->o.max_clients) {
			/* one over already (a refusal still being sent): the
			 * table has no slot for another */
			close(fd);
			ADD(t->c.refused, 1);
			continue;
		}
		cl = calloc(1, sizeof(*cl));
		if (!cl || vg_queue_new(t->o.client_queue, LINE_MAX_BYTES, 0, &cl->q) ||
		    !(cl->out = malloc(LINE_MAX_BYTES))) {
			if (cl) {
				vg_queue_free(&cl->q);
				free(cl);
			}
			close(fd);
			ADD(t->c.refused, 1);
			continue;
		}
		cl->fd = fd;
		cl->last_progress_ms = now_ms();
		cl->deadline_ms = cl->last_progress_ms + (uint64_t)t->o.filter_timeout_ms;
		struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = cl};
		epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev);
		t->clients[t->nclients++] = cl;
		if (t->nclients > t->o.max_clients && !make_room(t, cl)) {
			client_refuse(t, cl, "too many tail clients");
			if (client_flush(t, cl) < 0)
				client_close(t, t->nclients - 1);
		}
	}
}

static unsigned client_index(struct vg_tail *t, struct client *cl)
{
	for (unsigned i = 0; i < t->nclients; i++)
		if (t->clients[i] == cl)
			return i;
	return t->nclients;
}

/*
 * Hand the intake's drops counted so far to the streaming clients, as a
 * notice owed before their next line.  Called after each pop: a drop
 * counted before a line was pushed (the queue's lock orders the two) is
 * told before that line.
 */
static void intake_losses(struct vg_tail *t)
{
	uint64_t gone = atomic_exchange_explicit(&t->intake_lost, 0, memory_order_relaxed);

	for (unsigned i = 0; gone && i < t->nclients; i++) {
		if (t->clients[i]->state == C_STREAM)
			t->clients[i]->lost_intake += gone;
	}
}

/* Move everything from the intake to the backlog and the clients;
 * returns the number of lines moved. */
static unsigned fan_out(struct vg_tail *t)
{
	uint64_t now = now_ms();
	unsigned moved = 0;
	ssize_t n;

	while ((n = vg_queue_pop(t->intake, t->item, ITEM_MAX)) > 0) {
		struct view v;

		moved++;
		intake_losses(t);
		if (item_view(t->item, (size_t)n, &v))
			continue;
		if (v.m.kind != VG_OUT_EVENT)
			vg_queue_push(t->backlog, t->item, (size_t)n);
		for (unsigned i = 0; i < t->nclients; i++) {
			struct client *cl = t->clients[i];

			if (cl->state != C_STREAM || cl->closing ||
			    !vg_tail_filter_match(&cl->f, &v.m))
				continue;
			if (client_deliver(t, cl, v.line, v.len, now) < 0) {
				client_close(t, i);
				i--;
			}
		}
	}
	intake_losses(t);
	for (unsigned i = 0; i < t->nclients; i++) {
		if (t->clients[i]->state == C_STREAM && client_flush(t, t->clients[i]) < 0) {
			client_close(t, i);
			i--;
		}
	}
	return moved;
}

static void expire_filters(struct vg_tail *t)
{
	uint64_t now = now_ms();

	for (unsigned i = 0; i < t->nclients; i++) {
		struct client *cl = t->clients[i];

		if (cl->state == C_FILTER && !cl->closing && now >= cl->deadline_ms) {
			ADD(t->c.refused, 1);
			client_close(t, i);
			i--;
			continue;
		}
		/* behind, with a queue at least 3/4 full, and not reading */
		if (cl->state == C_STREAM && !cl->closing && client_stalled(t, cl, now)) {
			struct vg_queue_stats qs;

			vg_queue_stats(cl->q, &qs);
			if (cl->lost || qs.used >= qs.cap / 4 * 3) {
				ADD(t->c.cut_off, 1);
				client_close(t, i);
				i--;
			}
		}
	}
}

void (*vg_tail_idle_hook)(int stage, int efd);

/* Busy: the intake wakes the thread only once it is a quarter full (the
 * thread drains on a timer meanwhile); idle: at its first line. */
static void intake_wakeup(struct vg_tail *t, bool busy)
{
	vg_queue_set_notify(t->intake, t->efd, busy ? t->o.intake_bytes / 4 : 0);
}

static void *tail_main(void *arg)
{
	struct vg_tail *t = arg;
	struct epoll_event evs[32];

	bool busy = false;

	/*
	 * Idle: sleep until the first published line (eventfd on empty ->
	 * non-empty), a connection, or stop (the eventfd too); with clients,
	 * also every 200 ms to expire filters and stalled readers.  Busy:
	 * drain on a TICK_MS timer, and early only when the intake is a
	 * quarter full, so publishers do not pay a wakeup per line.
	 */
	while (!atomic_load(&t->stop)) {
		int timeout = busy ? TICK_MS : t->nclients ? 200 : -1;

		if (t->lfd_resting) {
			uint64_t now = now_ms();
			int left = now >= t->accept_rest_ms ? 0 : (int)(t->accept_rest_ms - now);

			if (!left)
				listener_rest(t, false);
			else if (timeout < 0 || left < timeout)
				timeout = left;
		}
		int n = epoll_wait(t->epfd, evs, 32, timeout);
		bool was_busy = busy, incoming = false;

		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;

			if (p == &t->lfd) {
				incoming = true;
				continue;
			}
			if (p == &t->efd) {
				uint64_t junk;

				if (read(t->efd, &junk, sizeof(junk)) < 0 && errno != EAGAIN)
					break;
				continue;
			}
			struct client *cl = p;
			unsigned idx = client_index(t, cl);
			int rc = 0;

			if (idx == t->nclients)
				continue; /* closed earlier in this round */
			if (evs[i].events & EPOLLOUT)
				rc = client_flush(t, cl);
			if (rc == 0 &&
			    (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
				rc = client_read(t, cl);
			if (rc == 0 && (evs[i].events & (EPOLLHUP | EPOLLERR)))
				rc = -1;
			if (rc < 0)
				client_close(t, idx);
		}
		/*
		 * After this round's events: accepting may close a client to
		 * make room, and the newcomer's calloc may reuse its memory, which
		 * an event of this round still pointing at it would then hit.
		 */
		if (incoming)
			accept_clients(t);
		busy = fan_out(t) > 0;
		if (busy != was_busy)
			intake_wakeup(t, busy);
		if (!busy && was_busy) {
			if (vg_tail_idle_hook)
				vg_tail_idle_hook(0, t->efd);
			/* a line that came while switching to idle: take it now,
			 * and busy again, with the busy wake-up back (else a
			 * steady stream would wake the thread once a line) */
			if (fan_out(t) > 0) {
				busy = true;
				intake_wakeup(t, true);
				if (vg_tail_idle_hook)
					vg_tail_idle_hook(1, t->efd);
			}
		}
		expire_filters(t);
	}
	return NULL;
}

/* ---- setup ---- */

static int make_parent(const char *path)
{
	char dir[108], *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* A socket file that nobody answers on is stale; one that answers is a
 * running agent. */
static int clear_stale(const struct sockaddr_un *sun)
{
	struct stat sb;
	int fd, rc;

	if (lstat(sun->sun_path, &sb) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(sb.st_mode))
		return -EEXIST;
	/* non-blocking: an agent that is stopped (or swamped) with its
	 * backlog full would keep a blocking connect waiting for good */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	if (rc < 0)
		rc = -errno;
	close(fd);
	if (rc == 0 || rc == -EAGAIN)
		return -EADDRINUSE;
	return unlink(sun->sun_path) < 0 ? -errno : 0;
}

/*
 * The group file read by hand, not through getgrnam(): the sensor is a
 * static binary, where NSS is not available.  Lines are NAME:PW:GID:...;
 * the file is read up to 256 KiB, longer lines are skipped.
 */
int vg_tail_group_gid(const char *file, const char *name, gid_t *gid)
{
	char line[1024];
	size_t nl, total = 0;
	FILE *f;
	int rc = -ENOENT;

	if (!name || !*name || strchr(name, ':'))
		return -EINVAL;
	nl = strlen(name);
	f = fopen(file ? file : "/etc/group", "re");
	if (!f)
		return -errno;
	while (total < (256u << 10) && fgets(line, sizeof(line), f)) {
		size_t ll = strlen(line);
		char *p, *end;
		unsigned long v;

		total += ll;
		if (ll && line[ll - 1] != '\n' && !feof(f)) {
			int c;

			while ((c = fgetc(f)) != EOF && c != '\n')
				total++;
			continue;
		}
		if (strncmp(line, name, nl) || line[nl] != ':')
			continue;
		p = strchr(line + nl + 1, ':');
		if (!p)
			break;
		v = strtoul(p + 1, &end, 10);
		if (end == p + 1 || (*end != ':' && *end != '\n' && *end) || v > 0xfffffffeul)
			break;
		*gid = (gid_t)v;
		rc = 0;
		break;
	}
	fclose(f);
	return rc;
}

void (*vg_tail_bind_hook)(int stage, const char *path, const char *priv);

/*
 * Bind fd at path with mode and group set where nobody else can reach the
 * file: in a fresh 0700 directory beside path (mkdtemp), then linked to
 * path, and link() never replaces what is there.  Set on path itself,
 * after a bind() there, a directory others may write (a --tail-socket
 * outside /run/vigil) would give them the time to put a symlink or a hard
 * link in its place, and the mode and group would go to what it leads to.
 * Without a sticky bit they may also move the private directory away and
 * put their own under its name: so it is held open, checked to be this
 * euid's and 0700, and everything after bind() goes through that
 * descriptor.  No one else can make an entry in it; a bind() that went
 * into a stand-in leaves no "s" there, and the call fails.
 */
int vg_tail_bind(int fd, const char *path, mode_t mode, const gid_t *gid, struct vg_tail_file *file)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char priv[sizeof(sun.sun_path)];
	const char *slash = strrchr(path, '/');
	int dl = slash ? (int)(slash - path) : 0, dfd, err = 0, n;
	struct stat sb, made;

	n = snprintf(priv, sizeof(priv), "%.*s%s.vigil-XXXXXX", dl, path, slash ? "/" : "");
	if (n < 0 || (size_t)n >= sizeof(priv))
		return -ENAMETOOLONG;
	if (!mkdtemp(priv))
		return -errno;
	if (vg_tail_bind_hook)
		vg_tail_bind_hook(0, path, priv);
	dfd = open(priv, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -errno; /* not ours to remove any more */
	/* a setgid parent passes its bit on: only the permissions count */
	if (fstat(dfd, &sb) < 0 || sb.st_uid != geteuid() || (sb.st_mode & 0777) != 0700) {
		close(dfd);
		return -EPERM;
	}
	if (vg_tail_bind_hook)
		vg_tail_bind_hook(1, path, priv);
	n = snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/s", priv);
	if (n < 0 || (size_t)n >= sizeof(sun.sun_path)) /* "/s" past the limit */
		err = -ENAMETOOLONG;
	else if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		err = -errno;
	if (!err && vg_tail_bind_hook)
		vg_tail_bind_hook(2, path, priv);
	if (!err && (fchmodat(dfd, "s", mode, 0) < 0 ||
		     (gid && fchownat(dfd, "s", (uid_t)-1, *gid, AT_SYMLINK_NOFOLLOW) < 0) ||
		     fstatat(dfd, "s", &made, AT_SYMLINK_NOFOLLOW) < 0))
		err = -errno;
	else if (!err && linkat(dfd, "s", AT_FDCWD, path, 0) < 0)
		err = errno == EEXIST ? -EADDRINUSE : -errno;
	if (!err && file) /* the link is that file under another name */
		*file = (struct vg_tail_file){.dev = made.st_dev, .ino = made.st_ino};
	unlinkat(dfd, "s", 0);
	close(dfd);
	rmdir(priv);
	return err;
}

/* The defaults of what vg_tail_listen and vg_tail_new both read. */
static void listen_defaults(struct vg_tail_opts *o)
{
	if (!o->path)
		o->path = VG_TAIL_SOCKET;
	if (!o->mode)
		o->mode = 0660;
	if (!o->group)
		o->group = "vigil";
}

void vg_tail_unlink(const char *path, const struct vg_tail_file *file)
{
	struct stat sb;

	if (lstat(path, &sb) == 0 && S_ISSOCK(sb.st_mode) && sb.st_dev == file->dev &&
	    sb.st_ino == file->ino)
		unlink(path);
}

int vg_tail_listen(const struct vg_tail_opts *opts, int *fd, struct vg_tail_file *file)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct vg_tail_opts o = {0};
	bool have_gid;
	gid_t gid;
	int err, lfd;

	if (opts)
		o = *opts;
	listen_defaults(&o);
	if (strlen(o.path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", o.path);
	err = make_parent(o.path);
	if (err)
		return err;
	err = clear_stale(&sun);
	if (err)
		return err;
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -errno;
	have_gid = vg_tail_group_gid(o.group_file, o.group, &gid) == 0;
	err = vg_tail_bind(lfd, o.path, o.mode, have_gid ? &gid : NULL, file);
	if (!err && listen(lfd, 64) < 0) {
		err = -errno;
		vg_tail_unlink(o.path, file);
	}
	if (err) {
		close(lfd);
		return err;
	}
	*fd = lfd;
	return 0;
}

int vg_tail_new(const struct vg_tail_opts *opts, struct vg_stats *stats, struct vg_tail **out)
{
	struct vg_tail *t;
	struct epoll_event ev;
	int err;

	if (!out)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t) {
		if (opts && opts->prebound) {
			vg_tail_unlink(opts->path ? opts->path : VG_TAIL_SOCKET,
				       &opts->listen_file);
			close(opts->listen_fd);
		}
		return -ENOMEM;
	}
	t->lfd = t->efd = t->epfd = -1;
	if (opts)
		t->o = *opts;
	listen_defaults(&t->o);
	if (strlen(t->o.path) >= sizeof(t->path)) {
		if (t->o.prebound)
			close(t->o.listen_fd);
		free(t);
		return -ENAMETOOLONG;
	}
	snprintf(t->path, sizeof(t->path), "%s", t->o.path);
	t->o.path = t->path;
	if (t->o.prebound) { /* ours from here, whatever happens */
		t->lfd = t->o.listen_fd;
		t->file = t->o.listen_file;
		t->named = true;
	}
	if (!t->o.client_queue)
		t->o.client_queue = 2u << 20;
	if (!t->o.stall_ms)
		t->o.stall_ms = 2000;
	if (t->o.client_queue < 2 * LINE_MAX_BYTES + 64)
		t->o.client_queue = 2 * LINE_MAX_BYTES + 64;
	if (!t->o.backlog_bytes)
		t->o.backlog_bytes = 4u << 20;
	if (!t->o.intake_bytes)
		t->o.intake_bytes = INTAKE_BYTES;
	if (t->o.intake_bytes < ITEM_MAX + 64)
		t->o.intake_bytes = ITEM_MAX + 64;
	if (t->o.backlog_bytes < 2 * ITEM_MAX + 64)
		t->o.backlog_bytes = 2 * ITEM_MAX + 64;
	if (!t->o.max_clients)
		t->o.max_clients = 64;
	if (t->o.filter_timeout_ms <= 0)
		t->o.filter_timeout_ms = 2000;

	t->clients = calloc(t->o.max_clients + 1, sizeof(*t->clients));
	t->item = malloc(ITEM_MAX);
	if (!t->clients || !t->item) {
		err = -ENOMEM;
		goto fail;
	}
	err = vg_queue_new(t->o.intake_bytes, ITEM_MAX, 0, &t->intake);
	if (!err)
		err = vg_queue_new(t->o.backlog_bytes, ITEM_MAX, VG_QUEUE_EVICT, &t->backlog);
	if (err)
		goto fail;
	t->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (t->efd < 0 || t->epfd < 0) {
		err = -errno;
		goto fail;
	}
	vg_queue_set_notify(t->intake, t->efd, 0);
	if (!t->o.prebound) {
		err = vg_tail_listen(&t->o, &t->lfd, &t->file);
		if (err)
			goto fail;
		t->named = true;
	}
	ev = (struct epoll_event){.events = EPOLLIN, .data.ptr = &t->lfd};
	epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->lfd, &ev);
	ev = (struct epoll_event){.events = EPOLLIN, .data.ptr = &t->efd};
	epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->efd, &ev);
	err = -pthread_create(&t->th, NULL, tail_main, t);
	if (err)
		goto fail;
	t->started = true;
	if (stats) {
		vg_stats_set_tail(stats, &t->c);
		t->stats = stats;
	}
	*out = t;
	return 0;
fail:
	vg_tail_free(&t); /* unlinks the path only if the socket got it */
	return err;
}

void vg_tail_free(struct vg_tail **tp)
{
	struct vg_tail *t;

	if (!tp || !*tp)
		return;
	t = *tp;
	if (t->stats)
		vg_stats_set_tail(t->stats, NULL);
	if (t->started) {
		uint64_t one = 1;

		atomic_store(&t->stop, 1);
		/* wakes an idle thread (refused only when the counter would
		 * overflow, and then the thread is awake already) */
		ssize_t w = write(t->efd, &one, sizeof(one));
		(void)w;
		pthread_join(t->th, NULL);
		/* the last lines published before the stop, and their notices */
		fan_out(t);
	}
	while (t->nclients) {
		struct client *cl = t->clients[t->nclients - 1];

		/* say goodbye to clients that are caught up, so they can tell
		 * a sensor that stopped from one that cut them off; what they
		 * are still owed goes before */
		if (cl->state == C_STREAM && !cl->closing && client_notes(cl) == 0 &&
		    client_send(cl, VG_TAIL_MAGIC " END\n", strlen(VG_TAIL_MAGIC) + 5) == 0)
			client_flush(t, cl);
		client_close(t, t->nclients - 1);
	}
	if (t->lfd >= 0) {
		/* only while the path is still this socket's: removed by
		 * hand, it may be another agent's now */
		if (t->named)
			vg_tail_unlink(t->path, &t->file);
		close(t->lfd);
	}
	if (t->efd >= 0)
		close(t->efd);
	if (t->epfd >= 0)
		close(t->epfd);
	vg_queue_free(&t->intake);
	vg_queue_free(&t->backlog);
	free(t->clients);
	free(t->item);
	free(t);
	*tp = NULL;
}

const struct vg_tail_counters *vg_tail_counters(const struct vg_tail *t)
{
	return &t->c;
}
