// SPDX-License-Identifier: GPL-2.0
/*
 * metrics: a deliberately small HTTP/1.x responder.
 *
 * Only the request line matters: "METHOD SP TARGET SP HTTP/1.D CRLF".
 * Header lines are checked for shape (a name of token characters, ':',
 * printable bytes) and otherwise ignored; a bare LF anywhere, a control
 * byte, or a missing field is a 400.  No body is ever parsed: a request
 * that announces one is answered anyway, and what follows is read and
 * dropped until the client's EOF before the close.  Each connection is
 * non-blocking and owns a fixed input buffer of max_request bytes while
 * it reads, then the one response it gets while that is written, so a
 * slow or hostile client costs at most that memory for three deadlines
 * (request, answer, drain).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "vigil/log.h"
#include "vigil/metrics.h"

#define BODY_MAX (512u * 1024u)

int vg_metrics_parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[64] = "127.0.0.1";
	const char *port;
	char *end;
	long p;

	if (!addr || !*addr)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (addr[0] == '[') {
		const char *rb = strchr(addr, ']');

		if (!rb || rb[1] != ':' || (size_t)(rb - addr - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, addr + 1, (size_t)(rb - addr - 1));
		host[rb - addr - 1] = '\0';
		port = rb + 2;
	} else {
		const char *colon = strrchr(addr, ':');

		if (colon) {
			if ((size_t)(colon - addr) >= sizeof(host) ||
			    memchr(addr, ':', (size_t)(colon - addr)))
				return -EINVAL;
			if (colon > addr) {
				memcpy(host, addr, (size_t)(colon - addr));
				host[colon - addr] = '\0';
			}
			port = colon + 1;
		} else {
			port = addr;
		}
	}
	p = strtol(port, &end, 10);
	if (!*port || *end || p < 0 || p > 65535)
		return -EINVAL;
	return vg_out_sockaddr(host, (unsigned)p, ss, len);
}

static bool tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* One header line [p, e) (without CRLF): "name: value". */
static bool header_ok(const char *p, const char *e)
{
	const char *c = p;

	while (c < e && tchar((unsigned char)*c))
		c++;
	if (c == p || c == e || *c != ':')
		return false;
	for (c++; c < e; c++) {
		unsigned char b = (unsigned char)*c;

		if ((b < 0x20 && b != '\t') || b == 0x7f)
			return false;
	}
	return true;
}

int vg_metrics_classify(const char *buf, size_t len, size_t cap, int *head)
{
	const char *p = buf, *end = buf + len, *eol, *sp1, *sp2;
	size_t mlen;

	*head = 0;
	/* headers complete? */
	const char *term = memmem(buf, len, "\r\n\r\n", 4);
	/* a bare LF or a NUL in the head so far is malformed at once; what
	 * follows the blank line (a body, a pipelined request) is not read */
	size_t hlen = term ? (size_t)(term - buf) + 4 : len;
	for (size_t i = 0; i < hlen; i++) {
		if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r'))
			return 400;
		if (buf[i] == '\0')
			return 400;
		if (buf[i] == '\r' && i + 1 < hlen && buf[i + 1] != '\n')
			return 400;
	}
	if (!term)
		return len >= cap ? 431 : 0;

	eol = memchr(p, '\r', (size_t)(end - p));
	sp1 = memchr(p, ' ', (size_t)(eol - p));
	if (!sp1)
		return 400;
	sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
	if (!sp2 || memchr(sp2 + 1, ' ', (size_t)(eol - sp2 - 1)))
		return 400;
	mlen = (size_t)(sp1 - p);
	for (const char *c = p; c < sp1; c++)
		if (!tchar((unsigned char)*c))
			return 400;
	if (mlen == 0 || sp2 == sp1 + 1)
		return 400;
	if ((size_t)(eol - sp2 - 1) != 8 || strncmp(sp2 + 1, "HTTP/1.", 7) || sp2[8] < '0' ||
	    sp2[8] > '9')
		return 400;
	for (const char *c = sp1 + 1; c < sp2; c++)
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c == 0x7f)
			return 400;
	/* header lines between the request line and the blank line */
	for (const char *h = eol + 2; h < term + 2;) {
		const char *he = memchr(h, '\r', (size_t)(term + 2 - h));

		if (!he)
			break;
		if (!header_ok(h, he))
			return 400;
		h = he + 2;
	}
	if (mlen == 4 && !strncmp(p, "HEAD", 4))
		*head = 1;
	else if (!(mlen == 3 && !strncmp(p, "GET", 3)))
		return 405;
	size_t tl = (size_t)(sp2 - sp1 - 1);
	const char *t = sp1 + 1;
	if ((tl == 8 && !strncmp(t, "/metrics", 8)) || (tl > 8 && !strncmp(t, "/metrics?", 9)))
		return 200;
	return 404;
}

/*
 * A connection's life: READ until the request is whole (or its deadline:
 * 408), WRITE the one answer, then DRAIN: the write side is shut and what
 * the client still sends (a body, the rest of a 431'd head) is read and
 * dropped until its EOF, so the close sends a FIN and not the reset that
 * unread input makes, which could destroy the answer on its way.
 */
enum conn_state { C_READ, C_WRITE, C_DRAIN };

/* a client that keeps sending after its answer is closed past this */
#define DRAIN_MAX (1024u * 1024u)
/* accept failing for want of file descriptors or memory: the listener
 * rests this long instead of waking poll at once, again and again */
#define ACCEPT_REST_MS 100
/* poll's array stays small */
#define MAX_CONNS 1024u

struct conn {
	int fd;
	enum conn_state state;
	unsigned batch; /* the accept batch that took it in */
	uint64_t deadline_ms;
	char *in;
	size_t inlen, drained;
	char *out;
	size_t outlen, outoff;
};

struct vg_metrics {
	struct vg_metrics_opts o;
	struct vg_stats *st;
	int lfd, efd, port;
	pthread_t th;
	bool started;
	_Atomic int stop;
	struct conn *conns;
	unsigned nconns;
	unsigned batch;		 /* accept batches so far */
	uint64_t accept_rest_ms; /* the listener is not polled before this */
	struct pollfd *pf;	 /* max_conns + 3 */
	unsigned poll_failed;	 /* told once */
	char *body;
};

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 431:
		return "Request Header Fields Too Large";
	default:
		return "Internal Server Error";
	}
}

static uint64_t now_ms(void)
{
	return vg_out_mono_ns() / 1000000u;
}

/* Build the whole response for a connection. */
static void answer(struct vg_metrics *m, struct conn *c, int status, int head)
{
	const char *ctype = "text/plain; charset=utf-8";
	size_t blen = 0;
	char hdr[256];
	int hn;

	c->state = C_WRITE;
	free(c->in); /* read no more */
	c->in = NULL;
	/* the answer gets a deadline of its own, not what is left of the
	 * request's: one asked late would be cut off at once */
	c->deadline_ms = now_ms() + (uint64_t)m->o.read_timeout_ms;
	if (status == 200) {
		struct vg_buf b;

		vg_buf_init(&b, m->body, BODY_MAX);
		if (vg_stats_prometheus(m->st, &b) < 0) {
			status = 500;
		} else {
			blen = b.len;
			ctype = "text/plain; version=0.0.4; charset=utf-8";
		}
	}
	if (status != 200) {
		blen = (size_t)snprintf(m->body, BODY_MAX, "%d %s\n", status, reason(status));
	}
	hn = snprintf(hdr, sizeof(hdr),
		      "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
		      "Connection: close\r\n\r\n",
		      status, reason(status), ctype, blen,
		      status == 405 ? "Allow: GET, HEAD\r\n" : "");
	if (head)
		blen = 0;
	c->out = malloc((size_t)hn + blen);
	if (!c->out) {
		c->outlen = 0; /* an empty answer, then the drain as ever */
		return;
	}
	memcpy(c->out, hdr, (size_t)hn);
	memcpy(c->out + hn, m->body, blen);
	c->outlen = (size_t)hn + blen;
	c->outoff = 0;
}

static void conn_close(struct vg_metrics *m, unsigned i)
{
	struct conn *c = &m->conns[i];

	close(c->fd);
	free(c->in);
	free(c->out);
	m->conns[i] = m->conns[--m->nconns];
}

/* Read and drop what the client still sends.  Returns -1 when the
 * connection is finished: its EOF (the close then sends a FIN), an error,
 * or more than DRAIN_MAX. */
static int conn_drain(struct vg_metrics *m, struct conn *c)
{
	for (;;) {
		/* one byte past DRAIN_MAX at most: that is the end of it */
		size_t want = DRAIN_MAX - c->drained + 1;
		ssize_t n = recv(c->fd, m->body, want < BODY_MAX ? want : BODY_MAX, MSG_DONTWAIT);

		if (n == 0)
			return -1;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -1;
		}
		c->drained += (size_t)n;
		if (c->drained > DRAIN_MAX)
			return -1;
	}
}

/* Returns -1 when the connection is finished. */
static int conn_write(struct vg_metrics *m, struct conn *c)
{
	while (c->outoff < c->outlen) {
		ssize_t n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -1;
		}
		c->outoff += (size_t)n;
	}
	/* all sent: the client sees its EOF, and we read to its own */
	shutdown(c->fd, SHUT_WR);
	free(c->out);
	c->out = NULL;
	c->state = C_DRAIN;
	c->deadline_ms = now_ms() + (uint64_t)m->o.read_timeout_ms;
	return conn_drain(m, c);
}

static int conn_read(struct vg_metrics *m, struct conn *c)
{
	int head, status;
	ssize_t n = recv(c->fd, c->in + c->inlen, m->o.max_request - c->inlen, MSG_DONTWAIT);

	if (n == 0)
		return -1;
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	c->inlen += (size_t)n;
	status = vg_metrics_classify(c->in, c->inlen, m->o.max_request, &head);
	if (status == 0)
		return 0;
	answer(m, c, status, head);
	return conn_write(m, c);
}

/*
 * The connection a newcomer may take the place of when the table is full,
 * or -1: the oldest one draining (its answer is out), else the oldest one
 * still without a whole request that came in an earlier accept batch (one
 * of this batch has had only the read at its accept).  Without the first,
 * idle clients reconnecting every read_timeout_ms would refuse every
 * scrape; without the second, a burst of them would close a scraper's
 * connection before its request had a turn to be read.
 */
static int victim(const struct vg_metrics *m)
{
	int best = -1;

	for (unsigned i = 0; i < m->nconns; i++) {
		const struct conn *c = &m->conns[i], *b;

		if (c->state == C_WRITE || (c->state == C_READ && c->batch == m->batch))
			continue;
		if (best < 0) {
			best = (int)i;
			continue;
		}
		b = &m->conns[best];
		if (c->state != b->state ? c->state == C_DRAIN : c->deadline_ms < b->deadline_ms)
			best = (int)i;
	}
	return best;
}

/*
 * Close victims until a slot is free; false when none is left.  Each gets
 * a last turn first: a request that came since poll is answered, not lost
 * (the connection is then looked at again as what it has become), and a
 * client that has finished sending gets a FIN, not a reset.
 */
static bool make_room(struct vg_metrics *m)
{
	while (m->nconns >= m->o.max_conns) {
		int v = victim(m);
		struct conn *c;

		if (v < 0)
			return false;
		c = &m->conns[v];
		if (c->state == C_READ) {
			if (conn_read(m, c) == 0 && c->state != C_READ)
				continue;
		} else {
			conn_drain(m, c);
		}
		conn_close(m, (unsigned)v);
	}
	return true;
}

/* Room for a newcomer at the next batch: a free slot, or one that is not
 * being written to (the batch then is another). */
static bool has_room(const struct vg_metrics *m)
{
	if (m->nconns < m->o.max_conns)
		return true;
	for (unsigned i = 0; i < m->nconns; i++)
		if (m->conns[i].state != C_WRITE)
			return true;
	return false;
}

/* At most max_conns tries a batch, so that a steady stream of clients
 * cannot keep the loop from the connections being answered (and stop). */
static void accept_conns(struct vg_metrics *m)
{
	m->batch++;
	for (unsigned n = 0; n < m->o.max_conns; n++) {
		struct conn *c;
		char *in;
		int fd;

		if (m->nconns >= m->o.max_conns && victim(m) < 0)
			return; /* the rest wait in the backlog */
		fd = accept4(m->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (vg_out_accept_retry(errno))
				continue;
			/* out of descriptors (EMFILE, ENFILE) or memory: the
			 * listener stays readable, so rest rather than spin */
			if (errno != EAGAIN)
				m->accept_rest_ms = now_ms() + ACCEPT_REST_MS;
			return;
		}
		in = malloc(m->o.max_request + 1);
		if (!in) {
			m->accept_rest_ms = now_ms() + ACCEPT_REST_MS;
			close(fd);
			return;
		}
		/* every victim answered at its last turn: the table holds one
		 * more (it has the slot), and the next accept waits for room */
		if (!make_room(m) && m->nconns > m->o.max_conns) {
			free(in); /* cannot happen: one over at most */
			close(fd);
			return;
		}
		c = &m->conns[m->nconns++];
		*c = (struct conn){.fd = fd,
				   .state = C_READ,
				   .batch = m->batch,
				   .in = in,
				   .deadline_ms = now_ms() + (uint64_t)m->o.read_timeout_ms};
		/* a request that came with the connection is answered at once */
		if (conn_read(m, c) < 0)
			conn_close(m, m->nconns - 1);
	}
}

/* One connection's turn after poll: re is its revents (0: none), then its
 * deadline.  Returns -1 when it is to be closed. */
static int conn_turn(struct vg_metrics *m, struct conn *c, short re, uint64_t now)
{
	int rc = 0;

	if (re)
		rc = c->state == C_READ	   ? conn_read(m, c)
		     : c->state == C_WRITE ? conn_write(m, c)
					   : conn_drain(m, c);
	/* the deadline holds even for a client that trickles bytes */
	if (rc < 0 || now < c->deadline_ms)
		return rc;
	if (c->state != C_READ)
		return -1;    /* too slow to read the answer, or still sending */
	answer(m, c, 408, 0); /* too slow to send a request: say so and go */
	return conn_write(m, c);
}

static void *metrics_main(void *arg)
{
	struct vg_metrics *m = arg;
	struct pollfd *pf = m->pf;

	while (!atomic_load(&m->stop)) {
		uint64_t now = now_ms();
		bool listening = now >= m->accept_rest_ms && has_room(m);
		unsigned n = 0, base;

		pf[n++] = (struct pollfd){.fd = m->efd, .events = POLLIN};
		pf[n++] = (struct pollfd){.fd = listening ? m->lfd : -1, .events = POLLIN};
		base = n;
		for (unsigned i = 0; i < m->nconns; i++)
			pf[n++] = (struct pollfd){.fd = m->conns[i].fd,
						  .events = m->conns[i].state == C_WRITE ? POLLOUT
											 : POLLIN};
		/* connections have deadlines and a resting listener a time to
		 * wake; with neither, sleep until a connection comes or stop
		 * (the eventfd) */
		if (poll(pf, n, m->nconns || !listening ? 100 : -1) < 0) {
			if (errno != EINTR) {
				/* ENOMEM: rest, and try again */
				struct timespec ts = {.tv_nsec = 100 * 1000000L};

				if (!m->poll_failed++)
					vg_log_warn("metrics: poll: %s (trying again every 100 ms)",
						    strerror(errno));
				nanosleep(&ts, NULL);
			}
			continue;
		}
		if (pf[0].revents)
			break;
		now = now_ms();
		/* walk backwards: conn_close moves the last connection into i */
		for (unsigned i = m->nconns; i-- > 0;)
			if (conn_turn(m, &m->conns[i], pf[base + i].revents, now) < 0)
				conn_close(m, i);
		if (pf[1].revents & POLLIN)
			accept_conns(m);
	}
	return NULL;
}

int vg_metrics_listen(const char *addr, int *fd)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1, lfd;

	if (!fd || vg_metrics_parse_addr(addr, &ss, &sl))
		return -EINVAL;
	lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -errno;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&ss, sl) < 0 || listen(lfd, 16) < 0) {
		int err = -errno;

		close(lfd);
		return err;
	}
	*fd = lfd;
	return 0;
}

int vg_metrics_new(const struct vg_metrics_opts *o, struct vg_stats *st, struct vg_metrics **out)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct vg_metrics *m;
	int err;

	if (!o || !st || !out || (!o->prebound && vg_metrics_parse_addr(o->addr, &ss, &sl))) {
		if (o && o->prebound)
			close(o->listen_fd);
		return -EINVAL;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		if (o->prebound)
			close(o->listen_fd);
		return -ENOMEM;
	}
	m->o = *o;
	m->st = st;
	m->lfd = o->prebound ? o->listen_fd : -1;
	m->efd = -1;
	if (m->o.read_timeout_ms <= 0)
		m->o.read_timeout_ms = 5000;
	if (m->o.max_request < 64)
		m->o.max_request = 8192;
	if (!m->o.max_conns)
		m->o.max_conns = 16;
	if (m->o.max_conns > MAX_CONNS)
		m->o.max_conns = MAX_CONNS;
	/* one slot over max_conns: see accept_conns() */
	m->conns = calloc(m->o.max_conns + 1, sizeof(*m->conns));
	m->pf = calloc(m->o.max_conns + 3, sizeof(*m->pf));
	m->body = malloc(BODY_MAX);
	if (!m->conns || !m->pf || !m->body) {
		err = -ENOMEM;
		goto fail;
	}
	if (!o->prebound && (err = vg_metrics_listen(o->addr, &m->lfd)) < 0)
		goto fail;
	m->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->efd < 0) {
		err = -errno;
		goto fail;
	}
	sl = sizeof(ss);
	getsockname(m->lfd, (struct sockaddr *)&ss, &sl);
	m->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
						: ((struct sockaddr_in6 *)&ss)->sin6_port);
	err = -pthread_create(&m->th, NULL, metrics_main, m);
	if (err)
		goto fail;
	m->started = true;
	*out = m;
	return 0;
fail:
	vg_metrics_free(&m);
	return err;
}

void vg_metrics_free(struct vg_metrics **mp)
{
	struct vg_metrics *m;

	if (!mp || !*mp)
		return;
	m = *mp;
	if (m->started) {
		uint64_t one = 1;

		atomic_store(&m->stop, 1);
		if (write(m->efd, &one, sizeof(one)) < 0) {
			/* cannot fail: a counter of 1 on a fresh eventfd */
		}
		pthread_join(m->th, NULL);
	}
	while (m->nconns)
		conn_close(m, m->nconns - 1);
	if (m->lfd >= 0)
		close(m->lfd);
	if (m->efd >= 0)
		close(m->efd);
	free(m->conns);
	free(m->pf);
	free(m->body);
	free(m);
	*mp = NULL;
}

int vg_metrics_port(const struct vg_metrics *m)
{
	return m->port;
}
