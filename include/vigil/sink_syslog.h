/*
 * sink_syslog: RFC 5424 syslog messages carrying one JSON record each as
 * MSG, over a unix socket (/dev/log style: datagrams, or a stream with
 * each message ended by a NUL byte as syslog(3) sends them), UDP, or TCP
 * with RFC 6587 octet-counting framing ("LEN SP MSG") or LF framing.  The
 * formatter is pure code; the connection is synchronous and run by
 * sinks.c on its own thread, which also notices a collector's close
 * (vg_syslog_alive) and reconnects with backoff.
 */
#ifndef VIGIL_SINK_SYSLOG_H
#define VIGIL_SINK_SYSLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vigil/out.h"

enum vg_syslog_transport {
	VG_SYSLOG_UNIX = 1, /* AF_UNIX SOCK_DGRAM (or SOCK_STREAM), e.g. /dev/log */
	VG_SYSLOG_UDP = 2,
	VG_SYSLOG_TCP = 3,
};

/*
 * Message format.  Local /dev/log readers (rsyslog's imuxsock with its
 * default special parser, syslog-ng, journald) expect the traditional
 * local form that glibc's syslog(3) writes and mangle an RFC 5424 header
 * into the message; collectors on the network parse RFC 5424.  So the
 * default is local on unix sockets and RFC 5424 elsewhere.  RFC 3164 (the
 * BSD form: the local one with the sender's HOSTNAME) is for collectors
 * that take nothing newer.
 */
enum vg_syslog_fmt {
	VG_SYSLOG_FMT_DEFAULT = 0,
	VG_SYSLOG_FMT_5424 = 1,	 /* <PRI>1 TIMESTAMP HOST APP PROCID MSGID - MSG */
	VG_SYSLOG_FMT_LOCAL = 2, /* <PRI>Mmm dd hh:mm:ss APP[PROCID]: MSG */
	VG_SYSLOG_FMT_3164 = 3,	 /* <PRI>Mmm dd hh:mm:ss HOST APP[PROCID]: MSG */
};

enum vg_syslog_framing {
	VG_SYSLOG_OCTET = 0, /* RFC 6587 3.4.1, the default on TCP */
	VG_SYSLOG_LF = 1,    /* RFC 6587 3.4.2, message + '\n' */
	VG_SYSLOG_NUL = 2,   /* message + '\0': a unix stream, as syslog(3) */
};

#define VG_SYSLOG_APP_MAX 48
#define VG_SYSLOG_HOST_MAX 255
#define VG_SYSLOG_UDP_MAX 65000 /* larger records are dropped, not cut */

struct vg_syslog_opts {
	enum vg_syslog_transport transport;
	char host[256];	   /* UDP/TCP: numeric address or name */
	char port[8];	   /* UDP/TCP */
	char path[108];	   /* UNIX */
	unsigned facility; /* 1..23; 0 (kern, not for userspace) = daemon (3) */
	enum vg_syslog_framing framing;
	enum vg_syslog_fmt format;
	char app[VG_SYSLOG_APP_MAX + 1];       /* APP-NAME, default "vigil" */
	char hostname[VG_SYSLOG_HOST_MAX + 1]; /* HOSTNAME, default gethostname() */
	int timeout_ms;			       /* connect/send timeout, default 2000 */
};

/*
 * Parse "udp://HOST:PORT", "tcp://HOST:PORT" (HOST an IPv4 address, [IPv6]
 * or localhost, never a name: see vg_out_sockaddr; port defaults to 514)
 * or "unix:PATH" into o (other fields untouched).  Returns 0 or -EINVAL.
 */
int vg_syslog_parse_target(const char *s, struct vg_syslog_opts *o);

/* Facility by name ("kern", "user", "daemon", "auth", "authpriv",
 * "local0".."local7", ...) or number; -1 if unknown. */
int vg_syslog_facility(const char *name);

/* PRI = facility * 8 + syslog severity (critical -> 2 crit, high -> 3 err,
 * medium -> 4 warning, low -> 5 notice, info -> 6 info). */
unsigned vg_syslog_pri(unsigned facility, enum vg_out_sev sev);

struct vg_syslog_msg {
	unsigned pri;
	uint64_t wall_ns;     /* TIMESTAMP, microsecond precision; 0 = now */
	const char *hostname; /* sanitised: printable ASCII, no spaces */
	const char *app;
	unsigned procid;   /* 0 = "-" */
	const char *msgid; /* e.g. "alert"; NULL = "-" */
	const char *msg;   /* the JSON, without trailing '\n' */
	size_t msg_len;
	/* DEFAULT is RFC 5424; LOCAL and 3164: local time, no msgid */
	enum vg_syslog_fmt format;
};

/*
 * Write one message into dst: "<PRI>1 TIMESTAMP HOST APP PROCID MSGID - MSG"
 * (or the local or RFC 3164 form, as m->format says),
 * framed: octet counting prefixes "LEN ", LF appends '\n', NUL a '\0', and
 * datagrams (framing < 0) take it bare.  A trailing '\n' of msg is not sent.
 * Returns the length or -ENOSPC.
 */
ssize_t vg_syslog_format(char *dst, size_t cap, const struct vg_syslog_msg *m, int framing);

struct vg_syslog;

/* Open the connection now.  Returns 0 or -errno (the caller retries). */
int vg_syslog_open(const struct vg_syslog_opts *o, struct vg_syslog **out);
void vg_syslog_close(struct vg_syslog **s);

/*
 * Is the connection still there?  Asks the socket without waiting or
 * reading: false when the peer closed the stream or the socket holds an
 * error (reset; a refused datagram), true when it is open, even with data
 * waiting.  A line sent into a stream the peer closed is accepted by the
 * kernel and lost, so the caller asks before each batch (a syscall per
 * batch, not per line).
 */
bool vg_syslog_alive(struct vg_syslog *s);

/*
 * Send one record (line: a JSON line, newline optional).  Returns 0,
 * -EMSGSIZE or -ENOBUFS when this record was lost but the connection is
 * fine (too large for a datagram; receiver busy past the timeout), or
 * another -errno when the connection is lost (close and reopen):
 * -ECONNABORTED when it broke after part of this record went out.
 */
int vg_syslog_send(struct vg_syslog *s, const char *line, size_t len, enum vg_out_sev sev,
		   enum vg_out_kind kind, uint64_t wall_ns);

/*
 * Did vg_syslog_send() return err for a connection found lost before any
 * of the record went out?  Then a new connection may take it again.
 */
bool vg_syslog_resend(int err);

#endif
