/*
 * view: the live view, one terminal line per record:
 *   TIME  SEVERITY  CONTAINER  PROCESS[PID]  SUMMARY
 * filled from a JSON feed line (so `vigil run` on a terminal and
 * `vigil tail` show exactly the same thing) and rendered with colour by
 * severity when asked.  Every untrusted field goes through vg_term_escape:
 * nothing from the monitored system can reach the terminal raw.
 */
#ifndef VIGIL_VIEW_H
#define VIGIL_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vg_view {
	char time[16];	   /* HH:MM:SS.mmm (UTC) */
	char kind[12];	   /* event, alert, incident, metric, state */
	char severity[12]; /* info .. critical, "" for raw events */
	char where[72];	   /* container name, else short id, else "host" */
	char proc[48];	   /* process name */
	uint32_t pid;
	char summary[768]; /* message (alerts: rule + message) */
	char chain[768];   /* incidents: vigil.incident.chain */
};

struct vg_view_opts {
	bool color;
	unsigned width; /* terminal columns, 0 = no truncation */
};

/* Fill v from one JSON line.  Returns 0 or -EINVAL (not a JSON object). */
int vg_view_from_json(const char *line, size_t len, struct vg_view *v);

/* One rendered line with '\n' into dst (always NUL terminated).  Returns
 * its length. */
size_t vg_view_render(char *dst, size_t n, const struct vg_view *v, const struct vg_view_opts *o);

#endif
