/*
 * tailcli: `vigil tail`, the client of the live-tail server (tail.h).
 * Connects to the agent's unix socket, sends its filter line, and prints
 * what comes back: the JSON lines exactly as the agent wrote them
 * (--json), or the live view rendered by view.h (the same line `vigil run`
 * prints), coloured by severity on a terminal and cut to its width.
 *
 *   vigil tail [--socket PATH] [--json] [--container NAME|ID] [--rule NAME]
 *              [--severity MIN] [--alerts] [--since DUR] [--stats]
 *              [--no-color | --color]
 * DUR: seconds, or a number with s, m or h.  VIGIL_SOCKET sets the default
 * socket path; NO_COLOR (any value) turns colour off.
 * Exit codes: 0 after the sensor ended the stream ("VIGIL-TAIL 1 END"),
 * when stdout closes, or on SIGINT; 1 when the stream ended without END
 * (the sensor cut this client off, or died); 2 for usage and connection
 * errors.
 */
#ifndef VIGIL_TAILCLI_H
#define VIGIL_TAILCLI_H

#include <stdbool.h>
#include <stdio.h>

#include "vigil/tail.h"

struct vg_tailcli_opts {
	char socket[108];
	bool json;
	int color; /* -1 auto (terminal and no NO_COLOR), 0 off, 1 on */
	struct vg_tail_filter filter;
	unsigned answer_ms; /* wait for the sensor's answer (0: 5000) */
};

/* Parse argv (argv[0] is the command name).  Returns 0, 1 for --help
 * (usage printed to out), or -EINVAL with a one-line reason in err. */
int vg_tailcli_parse(int argc, char **argv, struct vg_tailcli_opts *o, char *err, size_t errsz,
		     FILE *out);

/* "30" / "30s" / "5m" / "2h" -> seconds (at most 86400); -EINVAL else. */
int vg_tailcli_duration(const char *s, unsigned *out);

/*
 * Read the server's stream on fd (handshake first) and print to out until
 * it ends; notices (records lost because this client fell behind) go to
 * note (NULL: stderr).  width: columns to cut the view at, 0 = no
 * truncation; with tty_fd >= 0 the width follows that terminal (SIGWINCH).
 * Returns the exit code (see above); err gets the reason for 1 and 2.
 */
int vg_tailcli_stream(int fd, FILE *out, FILE *note, const struct vg_tailcli_opts *o, bool color,
		      unsigned width, int tty_fd, char *err, size_t errsz);

/*
 * One session on a connected fd: send o's filter line, then
 * vg_tailcli_stream().  A send that fails (the server refused and closed
 * before reading it) still reads the server's answer, whose reason is the
 * error; no SIGPIPE is raised.
 */
int vg_tailcli_session(int fd, FILE *out, FILE *note, const struct vg_tailcli_opts *o, bool color,
		       unsigned width, int tty_fd, char *err, size_t errsz);

/* SIGINT and SIGTERM end a stream with exit code 0 (and the terminal's
 * colour reset) instead of killing the process mid-line. */
void vg_tailcli_catch_interrupt(void);

/* The whole command: parse, connect, stream.  Returns the exit code. */
int vg_tailcli_main(int argc, char **argv);

#endif
