// SPDX-License-Identifier: GPL-2.0
/*
 * metrics: a deliberately small HTTP/1.x responder.
 *
 * Only the request line matters: "METHOD SP TARGET SP HTTP/1.D CRLF".
 * Header lines are checked for shape (a name of token characters, ':',
 * printable bytes) and otherwise ignored; a bare LF anywhere, a control
 * byte, or a missing field is a 400.  No body is ever read: a request
 * that announces one is answered anyway and the connection closed.  Each
 * connection is non-blocking and owns a fixed input buffer of max_request
 * bytes and the one response it gets, so a slow or hostile client costs
 * at most that memory until its deadline.
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

struct conn {
	int fd;
	uint64_t deadline_ms;
	char *in;
	size_t inlen;
	char *out;
	size_t outlen, outoff;
	bool answering;
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

/* Build the whole response for a connection. */
static void answer(struct vg_metrics *m, struct conn *c, int status, int head)
{
	const char *ctype = "text/plain; charset=utf-8";
	size_t blen = 0;
	char hdr[256];
	int hn;

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
		c->outlen = 0;
		c->answering = true;
		return;
	}
	memcpy(c->out, hdr, (size_t)hn);
	memcpy(c->out + hn, m->body, blen);
	c->outlen = (size_t)hn + blen;
	c->outoff = 0;
	c->answering = true;
}

static void conn_close(struct vg_metrics *m, unsigned i)
{
	struct conn *c = &m->conns[i];

	close(c->fd);
	free(c->in);
	free(c->out);
	m->conns[i] = m->conns[--m->nconns];
}

/* Returns -1 when the connection is finished. */
static int conn_write(struct conn *c)
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
	return -1;
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
	/* the answer gets a read timeout of its own, not what is left of the
	 * request's: one asked late would be cut off at once */
	c->deadline_ms = vg_out_mono_ns() / 1000000u + (uint64_t)m->o.read_timeout_ms;
	shutdown(c->fd, SHUT_RD);
	return conn_write(c);
}

/*
 * The oldest connection still without a whole request, or -1.  A full
 * table gives its slot to a newcomer: otherwise max_conns idle clients,
 * reconnecting every read_timeout_ms, would refuse every scrape.
 */
static int oldest_unasked(const struct vg_metrics *m)
{
	int old = -1;

	for (unsigned i = 0; i < m->nconns; i++) {
		const struct conn *c = &m->conns[i];

		/* not answering: the deadline is still accept time + timeout */
		if (!c->answering && (old < 0 || c->deadline_ms < m->conns[old].deadline_ms))
			old = (int)i;
	}
	return old;
}

static void accept_conns(struct vg_metrics *m)
{
	for (;;) {
		int fd = accept4(m->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;
		int old;

		if (fd < 0)
			return;
		if (m->nconns >= m->o.max_conns) {
			old = oldest_unasked(m);
			if (old < 0) {
				close(fd); /* all being answered: the scraper retries */
				continue;
			}
			conn_close(m, (unsigned)old);
		}
		c = &m->conns[m->nconns];
		memset(c, 0, sizeof(*c));
		c->in = malloc(m->o.max_request + 1);
		if (!c->in) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->deadline_ms = vg_out_mono_ns() / 1000000u + (uint64_t)m->o.read_timeout_ms;
		m->nconns++;
	}
}

static void *metrics_main(void *arg)
{
	struct vg_metrics *m = arg;
	struct pollfd *pf = calloc(m->o.max_conns + 2, sizeof(*pf));

	if (!pf)
		return NULL;
	while (!atomic_load(&m->stop)) {
		unsigned n = 0, base;
		uint64_t now;

		pf[n++] = (struct pollfd){.fd = m->efd, .events = POLLIN};
		pf[n++] = (struct pollfd){.fd = m->lfd, .events = POLLIN};
		base = n;
		for (unsigned i = 0; i < m->nconns; i++)
			pf[n++] =
				(struct pollfd){.fd = m->conns[i].fd,
						.events = m->conns[i].answering ? POLLOUT : POLLIN};
		/* connections have deadlines; with none, sleep until one
		 * comes or stop (the eventfd) */
		if (poll(pf, n, m->nconns ? 100 : -1) < 0 && errno != EINTR)
			break;
		if (pf[0].revents)
			break;
		/* walk backwards: conn_close moves the last connection into i */
		for (unsigned i = m->nconns; i-- > 0;) {
			struct conn *c = &m->conns[i];
			short re = pf[base + i].revents;
			int rc = 0;

			if (!re)
				continue;
			if (c->answering)
				rc = conn_write(c);
			else if (re & (POLLIN | POLLHUP | POLLERR))
				rc = conn_read(m, c);
			if (rc < 0)
				conn_close(m, i);
		}
		now = vg_out_mono_ns() / 1000000u;
		for (unsigned i = m->nconns; i-- > 0;) {
			struct conn *c = &m->conns[i];

			if (now < c->deadline_ms)
				continue;
			if (!c->answering) {
				/* too slow to send a request: say so and go */
				answer(m, c, 408, 0);
				c->deadline_ms = now + (uint64_t)m->o.read_timeout_ms;
				if (conn_write(c) < 0)
					conn_close(m, i);
			} else {
				conn_close(m, i); /* too slow to read the answer */
			}
		}
		if (pf[1].revents & POLLIN)
			accept_conns(m);
	}
	free(pf);
	return NULL;
}

int vg_metrics_new(const struct vg_metrics_opts *o, struct vg_stats *st, struct vg_metrics **out)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct vg_metrics *m;
	int one = 1, err;

	if (!o || !st || !out || vg_metrics_parse_addr(o->addr, &ss, &sl))
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->o = *o;
	m->st = st;
	m->lfd = m->efd = -1;
	if (m->o.read_timeout_ms <= 0)
		m->o.read_timeout_ms = 5000;
	if (m->o.max_request < 64)
		m->o.max_request = 8192;
	if (!m->o.max_conns)
		m->o.max_conns = 16;
	m->conns = calloc(m->o.max_conns, sizeof(*m->conns));
	m->body = malloc(BODY_MAX);
	if (!m->conns || !m->body) {
		err = -ENOMEM;
		goto fail;
	}
	m->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	m->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->lfd < 0 || m->efd < 0) {
		err = -errno;
		goto fail;
	}
	setsockopt(m->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(m->lfd, (struct sockaddr *)&ss, sl) < 0 || listen(m->lfd, 16) < 0) {
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
			/* the loop also checks stop every 100 ms */
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
	free(m->body);
	free(m);
	*mp = NULL;
}

int vg_metrics_port(const struct vg_metrics *m)
{
	return m->port;
}
