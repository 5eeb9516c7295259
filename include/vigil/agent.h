/*
 * agent: the running sensor.  Loads and attaches the BPF programs, then
 * runs one epoll loop that drains the ring buffer on a short timer,
 * decodes and enriches each record and hands the JSON lines to the
 * outputs.  Returns when SIGINT/SIGTERM arrive, after detaching everything.
 */
#ifndef VIGIL_AGENT_H
#define VIGIL_AGENT_H

#include <stdbool.h>
#include <stddef.h>

enum vg_format {
	VG_FORMAT_AUTO = 0, /* pretty on a terminal, JSON otherwise */
	VG_FORMAT_JSON = 1,
	VG_FORMAT_PRETTY = 2,
};

#define VG_AGENT_MAX_OUTPUTS 8

struct vg_agent_opts {
	enum vg_format format;
	bool events; /* raw events in the feed, not only alerts */
	int detail;  /* raw events: 0 = as the config says (compact by
		      * default), 1 = compact, 2 = full */
	bool host;   /* also trace host (non-container) processes */
	bool verbose;
	bool no_color;
	bool discard;	      /* drain the ring buffer and drop every record
			       * (measures the kernel side alone) */
	bool syscall_results; /* syscall tracepoints for connect/mount results
			       * (also the config key syscall_results) */
	size_t ringbuf_bytes;
	unsigned drain_min_ms, drain_max_ms; /* bounds of the wait between
					      * ring-buffer drains (drain.h) */
	unsigned stats_s;		     /* stats record interval, 0 = off */
	const char *config;		     /* YAML file or NULL */
	const char *tail_socket;	     /* NULL = default, "" = off */
	const char *heartbeat;		     /* NULL = VG_HEALTH_PATH, "" = off */
	const char *metrics;		     /* ADDR or NULL */
	const char *outputs[VG_AGENT_MAX_OUTPUTS];
	unsigned noutputs;
	const char *proc_root;	 /* "/proc" */
	const char *cgroup_root; /* "/sys/fs/cgroup" */
};

void vg_agent_opts_default(struct vg_agent_opts *o);

/* Run until a stop signal.  Returns 0, or 2 when the sensor could not start
 * (the reason was printed as one line on stderr). */
int vg_agent_run(const struct vg_agent_opts *o);

#endif
