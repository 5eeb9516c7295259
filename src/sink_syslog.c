// SPDX-License-Identifier: GPL-2.0
/*
 * sink_syslog: RFC 5424 over three transports.
 *
 * A message is  <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG
 * with TIMESTAMP in UTC with microseconds (RFC 5424 allows at most six
 * fractional digits), SD always "-" and MSG the JSON record without a BOM
 * (MSG-ANY), so a collector that stores MSG stores parseable JSON.  Header
 * fields are PRINTUSASCII without spaces: anything else becomes '_'.
 * Datagrams carry one bare message; TCP frames it by octet counting
 * ("123 <13>1 ...") unless LF framing was asked for; a unix stream socket
 * gets each message ended by a NUL byte, what syslog(3) sends there and
 * what its readers (syslog-ng's unix-stream()) split on.  The JSON never
 * holds a raw newline or NUL (the encoder escapes control characters),
 * which is what makes LF and NUL framing safe at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vigil/sink_syslog.h"

#define BUF_CAP (VG_SYSLOG_UDP_MAX + 1024)

struct vg_syslog {
	struct vg_syslog_opts o;
	int fd;
	bool stream; /* TCP, or a unix socket that turned out a stream one */
	unsigned pid;
	char *buf;
};

static const struct {
	const char *name;
	unsigned code;
} facilities[] = {
	{"kern", 0},	  {"user", 1},	  {"mail", 2},	  {"daemon", 3},    {"auth", 4},
	{"syslog", 5},	  {"lpr", 6},	  {"news", 7},	  {"uucp", 8},	    {"cron", 9},
	{"authpriv", 10}, {"ftp", 11},	  {"ntp", 12},	  {"security", 13}, {"console", 14},
	{"local0", 16},	  {"local1", 17}, {"local2", 18}, {"local3", 19},   {"local4", 20},
	{"local5", 21},	  {"local6", 22}, {"local7", 23},
};

int vg_syslog_facility(const char *name)
{
	char *end;
	long v;

	if (!name || !*name)
		return -1;
	for (size_t i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
		if (!strcasecmp(name, facilities[i].name))
			return (int)facilities[i].code;
	v = strtol(name, &end, 10);
	if (*end || v < 0 || v > 23)
		return -1;
	return (int)v;
}

unsigned vg_syslog_pri(unsigned facility, enum vg_out_sev sev)
{
	static const unsigned map[VG_OUT_SEV__MAX] = {
		[VG_OUT_SEV_INFO] = 6, [VG_OUT_SEV_LOW] = 5,	  [VG_OUT_SEV_MEDIUM] = 4,
		[VG_OUT_SEV_HIGH] = 3, [VG_OUT_SEV_CRITICAL] = 2,
	};

	if (facility == 0 || facility > 23)
		facility = 3;
	return facility * 8 + ((unsigned)sev < VG_OUT_SEV__MAX ? map[sev] : 6);
}

int vg_syslog_parse_target(const char *s, struct vg_syslog_opts *o)
{
	const char *hp, *colon;
	size_t hl;

	if (!s || !o)
		return -EINVAL;
	if (!strncmp(s, "unix:", 5)) {
		s += 5;
		if (!strncmp(s, "//", 2)) /* unix:///dev/log */
			s += 2;
		if (*s != '/' || strlen(s) >= sizeof(o->path))
			return -EINVAL;
		o->transport = VG_SYSLOG_UNIX;
		snprintf(o->path, sizeof(o->path), "%s", s);
		return 0;
	}
	if (!strncmp(s, "udp://", 6))
		o->transport = VG_SYSLOG_UDP;
	else if (!strncmp(s, "tcp://", 6))
		o->transport = VG_SYSLOG_TCP;
	else
		return -EINVAL;
	hp = s + 6;
	if (*hp == '[') {
		const char *rb = strchr(hp, ']');

		if (!rb)
			return -EINVAL;
		hl = (size_t)(rb - hp - 1);
		hp++;
		colon = rb[1] == ':' ? rb + 1 : NULL;
		if (rb[1] && !colon)
			return -EINVAL;
	} else {
		colon = strrchr(hp, ':');
		hl = colon ? (size_t)(colon - hp) : strlen(hp);
		if (colon && memchr(hp, ':', hl)) /* bare IPv6 needs brackets */
			return -EINVAL;
	}
	if (hl == 0 || hl >= sizeof(o->host))
		return -EINVAL;
	memcpy(o->host, hp, hl);
	o->host[hl] = '\0';
	{
		struct sockaddr_storage ss;
		socklen_t sl;

		if (vg_out_sockaddr(o->host, 0, &ss, &sl))
			return -EINVAL; /* an address, not a name */
	}
	if (colon) {
		const char *p = colon + 1;
		char *end;
		long port = strtol(p, &end, 10);

		if (!*p || *end || port <= 0 || port > 65535)
			return -EINVAL;
		snprintf(o->port, sizeof(o->port), "%ld", port);
	} else {
		snprintf(o->port, sizeof(o->port), "514");
	}
	return 0;
}

/* Copy a header field: printable ASCII without spaces, '-' when empty. */
static size_t put_field(char *dst, size_t cap, const char *s, size_t max)
{
	size_t n = 0;

	for (; s && *s && n < max && n + 1 < cap; s++)
		dst[n++] = (*s > 32 && *s < 127) ? *s : '_';
	if (n == 0 && cap > 1)
		dst[n++] = '-';
	dst[n] = '\0';
	return n;
}

static void format_time(char *dst, size_t cap, uint64_t wall_ns)
{
	struct tm tm;
	time_t sec;

	if (!wall_ns)
		wall_ns = vg_out_now_ns();
	sec = (time_t)(wall_ns / 1000000000ull);
	gmtime_r(&sec, &tm);
	snprintf(dst, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned)(wall_ns % 1000000000ull / 1000u));
}

/* "Dec  4 13:52:23", local time, C-locale month names (as syslog(3)) */
static void format_local_time(char *dst, size_t cap, uint64_t wall_ns)
{
	static const char mon[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;
	time_t sec;

	if (!wall_ns)
		wall_ns = vg_out_now_ns();
	sec = (time_t)(wall_ns / 1000000000ull);
	localtime_r(&sec, &tm);
	snprintf(dst, cap, "%s %2d %02d:%02d:%02d", mon[tm.tm_mon % 12], tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec);
}

ssize_t vg_syslog_format(char *dst, size_t cap, const struct vg_syslog_msg *m, int framing)
{
	char host[VG_SYSLOG_HOST_MAX + 1], app[VG_SYSLOG_APP_MAX + 1], msgid[33], ts[96],
		procid[16], head[512];
	size_t mlen = m->msg_len, total;
	int hn;

	while (mlen && (m->msg[mlen - 1] == '\n' || m->msg[mlen - 1] == '\r'))
		mlen--;
	put_field(host, sizeof(host), m->hostname, VG_SYSLOG_HOST_MAX);
	put_field(app, sizeof(app), m->app, VG_SYSLOG_APP_MAX);
	put_field(msgid, sizeof(msgid), m->msgid, 32);
	if (m->procid)
		snprintf(procid, sizeof(procid), "%u", m->procid);
	else
		snprintf(procid, sizeof(procid), "-");
	if (m->format == VG_SYSLOG_FMT_LOCAL || m->format == VG_SYSLOG_FMT_3164) {
		bool bsd = m->format == VG_SYSLOG_FMT_3164; /* HOSTNAME after the time */

		/* RFC 3164's TAG: at most 32 characters, none that ends it
		 * (':', '['); its HOSTNAME without the domain */
		app[strnlen(app, 32)] = '\0';
		for (char *c = app; *c; c++)
			if (*c == ':' || *c == '[' || *c == ']')
				*c = '_';
		if (bsd && host[0] != '.')
			host[strcspn(host, ".")] = '\0';
		format_local_time(ts, sizeof(ts), m->wall_ns);
		hn = snprintf(head, sizeof(head),
			      "<%u>%s %s%s%s[%s]: ", m->pri > 191 ? 191 : m->pri, ts,
			      bsd ? host : "", bsd ? " " : "", app, procid);
	} else {
		format_time(ts, sizeof(ts), m->wall_ns);
		hn = snprintf(head, sizeof(head), "<%u>1 %s %s %s %s %s - ",
			      m->pri > 191 ? 191 : m->pri, ts, host, app, procid, msgid);
	}
	if (hn < 0 || (size_t)hn >= sizeof(head))
		return -ENOSPC;
	total = (size_t)hn + mlen;

	if (framing == VG_SYSLOG_OCTET) {
		char pre[24];
		int pn = snprintf(pre, sizeof(pre), "%zu ", total);

		if ((size_t)pn + total > cap)
			return -ENOSPC;
		memcpy(dst, pre, (size_t)pn);
		memcpy(dst + pn, head, (size_t)hn);
		memcpy(dst + pn + hn, m->msg, mlen);
		return (ssize_t)((size_t)pn + total);
	}
	bool end = framing == VG_SYSLOG_LF || framing == VG_SYSLOG_NUL;

	if (total + end > cap)
		return -ENOSPC;
	memcpy(dst, head, (size_t)hn);
	memcpy(dst + hn, m->msg, mlen);
	if (end)
		dst[total++] = framing == VG_SYSLOG_LF ? '\n' : '\0';
	return (ssize_t)total;
}

static void set_timeouts(int fd, int ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* connect with a timeout; returns 0 or -errno, fd left blocking */
static int connect_timeout(int fd, const struct sockaddr *sa, socklen_t len, int ms)
{
	int fl = fcntl(fd, F_GETFL), err = 0;
	socklen_t el = sizeof(err);
	struct pollfd p = {.fd = fd, .events = POLLOUT};

	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	if (connect(fd, sa, len) < 0) {
		if (errno != EINPROGRESS)
			return -errno;
		int rc = poll(&p, 1, ms);

		if (rc == 0)
			return -ETIMEDOUT;
		if (rc < 0)
			return -errno;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
			return -errno;
		if (err)
			return -err;
	}
	fcntl(fd, F_SETFL, fl);
	return 0;
}

static int open_inet(struct vg_syslog *s)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, err;

	if (vg_out_sockaddr(s->o.host, (unsigned)atoi(s->o.port), &ss, &sl))
		return -EINVAL;
	fd = socket(ss.ss_family,
		    (s->o.transport == VG_SYSLOG_TCP ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	err = connect_timeout(fd, (struct sockaddr *)&ss, sl, s->o.timeout_ms);
	if (err) {
		close(fd);
		return err;
	}
	set_timeouts(fd, s->o.timeout_ms);
	s->fd = fd;
	return 0;
}

/*
 * A datagram socket, as /dev/log mostly is; one that refuses a datagram
 * peer (EPROTOTYPE: syslog-ng's unix-stream(), some /dev/log set-ups) is
 * a stream socket, and is connected to as one, as syslog(3) does.
 */
static int open_unix(struct vg_syslog *s)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd, err;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", s->o.path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	err = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ? -errno : 0;
	if (err == -EPROTOTYPE) {
		close(fd);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		err = connect_timeout(fd, (struct sockaddr *)&sun, sizeof(sun), s->o.timeout_ms);
		s->stream = true;
	}
	if (err) {
		close(fd);
		return err;
	}
	set_timeouts(fd, s->o.timeout_ms);
	s->fd = fd;
	return 0;
}

int vg_syslog_open(const struct vg_syslog_opts *o, struct vg_syslog **out)
{
	struct vg_syslog *s;
	int err;

	if (!o || !out)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->buf = malloc(BUF_CAP);
	if (!s->buf) {
		err = -ENOMEM;
		goto fail;
	}
	s->o = *o;
	s->fd = -1;
	s->pid = (unsigned)getpid();
	if (!s->o.app[0])
		snprintf(s->o.app, sizeof(s->o.app), "vigil");
	if (!s->o.hostname[0] && gethostname(s->o.hostname, sizeof(s->o.hostname) - 1) < 0)
		s->o.hostname[0] = '\0';
	if (s->o.timeout_ms <= 0)
		s->o.timeout_ms = 2000;
	if (s->o.format == VG_SYSLOG_FMT_DEFAULT) /* see enum vg_syslog_fmt */
		s->o.format =
			o->transport == VG_SYSLOG_UNIX ? VG_SYSLOG_FMT_LOCAL : VG_SYSLOG_FMT_5424;
	if (o->transport == VG_SYSLOG_UNIX)
		err = open_unix(s);
	else if (o->transport == VG_SYSLOG_UDP || o->transport == VG_SYSLOG_TCP)
		err = open_inet(s);
	else
		err = -EINVAL;
	s->stream = s->stream || o->transport == VG_SYSLOG_TCP;
	if (err)
		goto fail;
	*out = s;
	return 0;
fail:
	free(s->buf);
	free(s);
	return err;
}

void vg_syslog_close(struct vg_syslog **sp)
{
	if (!sp || !*sp)
		return;
	if ((*sp)->fd >= 0)
		close((*sp)->fd);
	free((*sp)->buf);
	free(*sp);
	*sp = NULL;
}

/*
 * Look without waiting: a stream the peer closed reads as end of file, a
 * reset or a refused datagram (ICMP port unreachable) as a pending error.
 * An empty datagram also reads as 0 bytes, so 0 means closed on a stream
 * only.  Syslog over a stream is one way: whatever a collector sent (a
 * TLS-only port's alert, an HTTP port's 400) is read and dropped, or a
 * close behind it would never be seen (a peek stops at the first byte).
 */
bool vg_syslog_alive(struct vg_syslog *s)
{
	bool stream = s && s->stream;
	char buf[512];
	ssize_t n;

	if (!s || s->fd < 0)
		return false;
	for (int round = 0; round < 64; round++) {
		do
			n = recv(s->fd, buf, stream ? sizeof(buf) : 1,
				 stream ? MSG_DONTWAIT : MSG_PEEK | MSG_DONTWAIT);
		while (n < 0 && errno == EINTR);
		if (n > 0 && stream)
			continue; /* dropped: look behind it */
		if (n > 0)
			return true;
		if (n == 0)
			return !stream;
		return errno == EAGAIN || errno == EWOULDBLOCK;
	}
	return true; /* a collector that keeps talking: still there */
}

int vg_syslog_send(struct vg_syslog *s, const char *line, size_t len, enum vg_out_sev sev,
		   enum vg_out_kind kind, uint64_t wall_ns)
{
	struct vg_syslog_msg m = {
		.pri = vg_syslog_pri(s->o.facility, sev),
		.wall_ns = wall_ns,
		.hostname = s->o.hostname,
		.app = s->o.app,
		.procid = s->pid,
		.msgid = vg_out_kind_name(kind),
		.msg = line,
		.msg_len = len,
		.format = s->o.format,
	};
	bool stream = s->stream;
	/* a unix stream ends each message with a NUL byte, as syslog(3) */
	int framing = s->o.transport == VG_SYSLOG_TCP ? (int)s->o.framing : VG_SYSLOG_NUL;
	ssize_t n = vg_syslog_format(s->buf, stream ? BUF_CAP : VG_SYSLOG_UDP_MAX, &m,
				     stream ? framing : -1);
	size_t done = 0;

	if (n < 0)
		return -EMSGSIZE;
	while (done < (size_t)n) {
		ssize_t w = send(s->fd, s->buf + done, (size_t)n - done, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (!stream && (errno == EAGAIN || errno == ENOBUFS))
				return -ENOBUFS;
			if (!stream && errno == EMSGSIZE)
				return -EMSGSIZE;
			/* a stream cut inside a frame cannot resync: reconnect.
			 * Cut after part of this message went out, the message
			 * is lost with the connection: never sent again */
			if (errno == EAGAIN)
				return -ETIMEDOUT;
			return done ? -ECONNABORTED : -errno;
		}
		done += (size_t)w;
	}
	return 0;
}

bool vg_syslog_resend(int err)
{
	/* a unix socket's reader gone, a refusal an earlier datagram brought
	 * back (UDP), a stream closed or reset: none of the message
	 * went out (vg_syslog_send says -ECONNABORTED when some did) */
	return err == -ECONNREFUSED || err == -ECONNRESET || err == -EPIPE;
}
