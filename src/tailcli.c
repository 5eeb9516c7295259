// SPDX-License-Identifier: GPL-2.0
/*
 * tailcli: `vigil tail`.  The stream is read in chunks and cut into lines
 * in a fixed buffer; a line longer than that is skipped whole (never
 * printed in pieces).  The first line is the server's handshake.  Nothing
 * received is written to the terminal without going through the view
 * renderer, which escapes every field; --json writes the lines as they
 * came, which is what a pipe wants (the agent's JSON escapes control
 * characters, and the handshake has checked we talk to a vigil agent).
 */
#include <errno.h>
#include <getopt.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vigil/json.h"
#include "vigil/out.h"
#include "vigil/tailcli.h"
#include "vigil/view.h"

#define LINE_CAP (256 * 1024)

/* the stream ended before the server's handshake line */
static const char closed_early[] = "the sensor closed the connection";

static const char usage[] =
	"usage: vigil tail [options]\n"
	"  --socket PATH      agent socket (default " VG_TAIL_SOCKET ", or $VIGIL_SOCKET)\n"
	"  --json             print the JSON lines instead of the live view\n"
	"  --container X      only this container: its name, NAME* for names that\n"
	"                     start so, an id prefix of 4+ hex digits; \"host\"\n"
	"  --rule NAME        only alerts of this rule\n"
	"  --severity MIN     only records at or above info|low|medium|high|critical\n"
	"  --alerts           only alerts and incidents\n"
	"  --since DUR        first replay the last DUR (e.g. 30s, 5m) from the backlog\n"
	"  --stats            also show the periodic stats records\n"
	"  --no-color         no colour even on a terminal (also: NO_COLOR=1)\n"
	"  --color            colour even when not on a terminal\n";

int vg_tailcli_duration(const char *s, unsigned *out)
{
	char *end;
	unsigned long v, mul = 1;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	v = strtoul(s, &end, 10);
	if (*end == 's')
		end++;
	else if (*end == 'm')
		mul = 60, end++;
	else if (*end == 'h')
		mul = 3600, end++;
	if (*end || v > 86400 || v * mul > 86400)
		return -EINVAL;
	*out = (unsigned)(v * mul);
	return 0;
}

#define PERR(...)                                                                                  \
	do {                                                                                       \
		snprintf(err, errsz, __VA_ARGS__);                                                 \
		return -EINVAL;                                                                    \
	} while (0)

int vg_tailcli_parse(int argc, char **argv, struct vg_tailcli_opts *o, char *err, size_t errsz,
		     FILE *out)
{
	enum {
		O_SOCKET = 256,
		O_JSON,
		O_CONTAINER,
		O_RULE,
		O_SEV,
		O_ALERTS,
		O_SINCE,
		O_STATS,
		O_NOCOLOR,
		O_COLOR,
		O_HELP
	};
	static const struct option lo[] = {
		{"socket", required_argument, NULL, O_SOCKET},
		{"json", no_argument, NULL, O_JSON},
		{"container", required_argument, NULL, O_CONTAINER},
		{"rule", required_argument, NULL, O_RULE},
		{"severity", required_argument, NULL, O_SEV},
		{"alerts", no_argument, NULL, O_ALERTS},
		{"since", required_argument, NULL, O_SINCE},
		{"stats", no_argument, NULL, O_STATS},
		{"no-color", no_argument, NULL, O_NOCOLOR},
		{"no-colour", no_argument, NULL, O_NOCOLOR},
		{"color", no_argument, NULL, O_COLOR},
		{"help", no_argument, NULL, O_HELP},
		{NULL, 0, NULL, 0},
	};
	const char *env = getenv("VIGIL_SOCKET");
	bool socket_given = false;
	int c;

	memset(o, 0, sizeof(*o));
	o->color = -1;
	snprintf(o->socket, sizeof(o->socket), "%s", env && *env ? env : VG_TAIL_SOCKET);
	err[0] = '\0';
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
		switch (c) {
		case O_SOCKET:
			if (strlen(optarg) >= sizeof(o->socket))
				PERR("--socket: path too long");
			snprintf(o->socket, sizeof(o->socket), "%s", optarg);
			socket_given = true;
			break;
		case O_JSON:
			o->json = true;
			break;
		case O_CONTAINER:
			if (!*optarg || strlen(optarg) >= sizeof(o->filter.container))
				PERR("--container: 1 to %zu characters",
				     sizeof(o->filter.container) - 1);
			snprintf(o->filter.container, sizeof(o->filter.container), "%s", optarg);
			break;
		case O_RULE:
			if (!*optarg || strlen(optarg) >= sizeof(o->filter.rule))
				PERR("--rule: 1 to %zu characters", sizeof(o->filter.rule) - 1);
			snprintf(o->filter.rule, sizeof(o->filter.rule), "%s", optarg);
			break;
		case O_SEV:
			if (vg_out_sev_parse(optarg, &o->filter.min_sev))
				PERR("--severity: info, low, medium, high or critical");
			break;
		case O_ALERTS:
			o->filter.alerts_only = true;
			break;
		case O_SINCE:
			if (vg_tailcli_duration(optarg, &o->filter.since_s))
				PERR("--since: a duration such as 30s, 5m or 1h (at most 24h)");
			break;
		case O_STATS:
			o->filter.stats = true;
			break;
		case O_NOCOLOR:
			o->color = 0;
			break;
		case O_COLOR:
			o->color = 1;
			break;
		case O_HELP:
		case 'h':
			fputs(usage, out);
			return 1;
		default:
			PERR("unknown or incomplete option '%.40s' (see vigil tail --help)",
			     argv[optind - 1] ? argv[optind - 1] : "?");
		}
	}
	if (optind < argc)
		PERR("unexpected argument '%.40s'", argv[optind]);
	/* cut, it would name another socket */
	if (!socket_given && env && strlen(env) >= sizeof(o->socket))
		PERR("VIGIL_SOCKET: path too long (at most %zu characters)", sizeof(o->socket) - 1);
	o->filter.view = !o->json;
	return 0;
}

/* Print one line received from the server; returns -1 when out is gone. */
static int print_line(FILE *out, const char *line, size_t len, const struct vg_tailcli_opts *o,
		      bool color, unsigned width)
{
	static char buf[8192];
	struct vg_view v;
	struct vg_view_opts vo = {.color = color, .width = width};
	size_t n;

	if (o->json) {
		n = fwrite(line, 1, len, out);
	} else {
		if (vg_view_from_json(line, len, &v))
			return 0; /* not an object: nothing to show */
		n = vg_view_render(buf, sizeof(buf), &v, &vo);
		len = n;
		n = fwrite(buf, 1, n, out);
	}
	if (n != len || fflush(out) == EOF)
		return -1;
	return 0;
}

static volatile sig_atomic_t winch = 1;
static volatile sig_atomic_t interrupted;
static volatile sig_atomic_t stream_fd = -1; /* the stream being read */

/* The flag, and the stream shut: a signal that lands after the flag was
 * looked at and before read() or poll() waits ends that wait too. */
static void on_int(int sig)
{
	(void)sig;
	interrupted = 1;
	if (stream_fd >= 0)
		shutdown(stream_fd, SHUT_RDWR); /* async-signal-safe */
}

void vg_tailcli_catch_interrupt(void)
{
	/* no SA_RESTART: a write that waits returns EINTR */
	struct sigaction sa = {.sa_handler = on_int}, old;
	const int sigs[] = {SIGINT, SIGTERM};

	interrupted = 0;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		/* one ignored (a background job of a script) stays ignored */
		if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
			continue;
		sigaction(sigs[i], &sa, NULL);
	}
}

static void on_winch(int sig)
{
	(void)sig;
	winch = 1;
}

/*
 * Follow the terminal's width while streaming.  SA_RESTART: a resize while
 * out is blocked (a paused terminal, a slow pipe) must not fail the write
 * with EINTR, which print_line cannot tell from a reader that went away.
 * The read is restarted too; the new width is taken before the next line.
 */
static void watch_winch(struct sigaction *old)
{
	struct sigaction sa = {.sa_handler = on_winch, .sa_flags = SA_RESTART};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGWINCH, &sa, old);
}

static unsigned term_width(int fd)
{
	struct winsize ws;

	if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 0;
}

int vg_tailcli_stream(int fd, FILE *out, FILE *note, const struct vg_tailcli_opts *o, bool color,
		      unsigned width, int tty_fd, char *err, size_t errsz)
{
	const char *end_line = VG_TAIL_MAGIC " END";
	const char *lost_line = VG_TAIL_MAGIC " LOST ";
	bool ended = false;
	static char chunk[65536];
	char *line = malloc(LINE_CAP);
	size_t ll = 0;
	bool skipping = false, handshake = false;
	struct sigaction old_winch;
	int rc = 0;

	err[0] = '\0';
	if (!line) {
		snprintf(err, errsz, "out of memory");
		return 2;
	}
	if (tty_fd >= 0)
		watch_winch(&old_winch);
	stream_fd = fd;
	unsigned answer_ms = o->answer_ms ? o->answer_ms : 5000;
	uint64_t t0 = vg_out_mono_ns();
	for (;;) {
		if (!handshake && !interrupted) {
			/* accepted or only queued, a sensor that is stopped
			 * never answers: say so instead of waiting for good
			 * (one deadline: a resize does not start it again) */
			struct pollfd p = {.fd = fd, .events = POLLIN};
			uint64_t spent = (vg_out_mono_ns() - t0) / 1000000u;
			int pr = spent >= answer_ms ? 0 : poll(&p, 1, (int)(answer_ms - spent));

			if (pr < 0 && errno == EINTR)
				continue;
			if (pr == 0 && !interrupted) {
				snprintf(err, errsz, "the sensor did not answer within %u ms",
					 answer_ms);
				rc = 2;
				goto out;
			}
		}
		ssize_t n = interrupted ? 0 : read(fd, chunk, sizeof(chunk));

		if (interrupted)
			break; /* rc 0: asked to stop */
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (!handshake) {
				snprintf(err, errsz, "%s", closed_early);
				rc = 2;
			} else if (!ended) {
				/* no END line: the server dropped us */
				snprintf(err, errsz,
					 "the sensor cut this client off (it fell behind)");
				rc = 1;
			}
			break;
		}
		for (ssize_t i = 0; i < n; i++) {
			char c = chunk[i];

			if (c != '\n') {
				if (skipping)
					continue;
				if (ll + 1 >= LINE_CAP) {
					skipping = true;
					ll = 0;
					continue;
				}
				line[ll++] = c;
				continue;
			}
			if (skipping) {
				skipping = false;
				continue;
			}
			line[ll] = '\0';
			if (!handshake) {
				size_t ml = strlen(VG_TAIL_MAGIC);

				if (ll >= ml + 3 && !strncmp(line, VG_TAIL_MAGIC, ml) &&
				    !strcmp(line + ml, " OK")) {
					handshake = true;
				} else {
					char safe[256];

					vg_term_escape(safe, sizeof(safe), line, ll);
					snprintf(err, errsz, "refused: %s", safe);
					rc = 2;
					goto out;
				}
				ll = 0;
				continue;
			}
			if (!strcmp(line, end_line)) {
				ended = true;
				ll = 0;
				continue;
			}
			if (!strncmp(line, lost_line, strlen(lost_line))) {
				char *rest;
				unsigned long long lost =
					strtoull(line + strlen(lost_line), &rest, 10);

				bool intake = !strcmp(rest, " intake");
				const char *why = "this client fell behind";

				if (intake)
					why = "the sensor's tail server fell behind";
				else if (!strcmp(rest, " since"))
					why = "older than the --since replay could hold";
				fprintf(note ? note : stderr,
					"vigil tail: %s%llu records lost: %s\n",
					intake ? "up to " : "", lost, why);
				ll = 0;
				continue;
			}
			line[ll++] = '\n';
			if (winch && tty_fd >= 0) {
				winch = 0;
				width = term_width(tty_fd);
			}
			if (print_line(out, line, ll, o, color, width) < 0) {
				rc = 0; /* reader of our output went away: done */
				goto out;
			}
			ll = 0;
		}
	}
out:
	stream_fd = -1;
	if (interrupted) {
		/* a second ^C ends a write that waits on a paused terminal */
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		if (color && !o->json) {
			fputs("\x1b[0m", out); /* a line cut off may have left a colour on */
			fflush(out);
		}
	}
	if (tty_fd >= 0)
		sigaction(SIGWINCH, &old_winch, NULL);
	free(line);
	return interrupted ? 0 : rc;
}

int vg_tailcli_session(int fd, FILE *out, FILE *note, const struct vg_tailcli_opts *o, bool color,
		       unsigned width, int tty_fd, char *err, size_t errsz)
{
	char line[VG_TAIL_FILTER_MAX + 1];
	int n = vg_tail_filter_format(&o->filter, line, sizeof(line)), send_err = 0, rc;

	if (n < 0) {
		snprintf(err, errsz, "the filter does not fit in a filter line");
		return 2;
	}
	/*
	 * A server that refuses before reading (too many clients) may have
	 * closed already: the send fails (EPIPE, no signal), and its answer
	 * is still there to read.
	 */
	for (int done = 0; done < n;) {
		ssize_t w = send(fd, line + done, (size_t)(n - done), MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			send_err = w < 0 ? errno : EIO;
			break;
		}
		done += (int)w;
	}
	rc = vg_tailcli_stream(fd, out, note, o, color, width, tty_fd, err, errsz);
	if (rc == 2 && send_err && !strcmp(err, closed_early))
		snprintf(err, errsz, "could not send the filter to the sensor: %s",
			 strerror(send_err));
	return rc;
}

static int dial(const char *path, char *err, size_t errsz)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd, e;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	/* non-blocking: a sensor that is stopped with its backlog full would
	 * keep a blocking connect waiting for good */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, errsz, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		int fl = fcntl(fd, F_GETFL);

		if (fl >= 0 && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == 0)
			return fd;
		e = errno;
		close(fd);
		snprintf(err, errsz, "%.100s: %s", path, strerror(e));
		return -1;
	}
	e = errno;
	close(fd);
	if (e == EAGAIN)
		snprintf(err, errsz,
			 "the sensor on %.100s takes no connection (stopped, or swamped): try "
			 "again",
			 path);
	else if (e == ENOENT || e == ECONNREFUSED)
		snprintf(err, errsz,
			 "no sensor is listening on %.100s: start it with `vigil run` "
			 "(or pass --socket)",
			 path);
	else if (e == EACCES || e == EPERM)
		snprintf(err, errsz,
			 "permission denied on %.100s: run as root or join the "
			 "group 'vigil'",
			 path);
	else
		snprintf(err, errsz, "%.100s: %s", path, strerror(e));
	return -1;
}

int vg_tailcli_main(int argc, char **argv)
{
	struct vg_tailcli_opts o;
	char err[256];
	bool tty = isatty(STDOUT_FILENO), color;
	unsigned width = tty ? term_width(STDOUT_FILENO) : 0;
	int rc, fd;

	rc = vg_tailcli_parse(argc, argv, &o, err, sizeof(err), stdout);
	if (rc == 1)
		return 0;
	if (rc < 0) {
		fprintf(stderr, "vigil tail: %s\n", err);
		return 2;
	}
	if (o.color < 0)
		color = tty && !getenv("NO_COLOR") &&
			!(getenv("TERM") && !strcmp(getenv("TERM"), "dumb"));
	else
		color = o.color == 1;
	/* a reader of our output that goes away ends the stream (print_line) */
	signal(SIGPIPE, SIG_IGN);
	vg_tailcli_catch_interrupt();
	fd = dial(o.socket, err, sizeof(err));
	if (fd < 0) {
		fprintf(stderr, "vigil tail: %s\n", err);
		return 2;
	}
	rc = vg_tailcli_session(fd, stdout, stderr, &o, color, width, tty ? STDOUT_FILENO : -1, err,
				sizeof(err));
	close(fd);
	if (rc && err[0])
		fprintf(stderr, "vigil tail: %s\n", err);
	return rc;
}
