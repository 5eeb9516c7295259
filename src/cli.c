/*
 * vigil's command line: run, tail, posture, check, health, version.  Turns options into
 * the agent's configuration and errors into one line and an exit code
 * (0 ok, 1 runtime failure, 2 cannot start / bad usage).
 */
#include <ctype.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vigil/agent.h"
#include "vigil_version.h"
#include "vigil/check.h"
#include "vigil/health.h"
#include "vigil/loader.h"
#include "vigil/log.h"
#include "vigil/posture.h"
#include "vigil/tailcli.h"

static const char usage[] =
	"usage: vigil <command> [options]\n"
	"\n"
	"commands:\n"
	"  run       start the sensor (live view on a terminal, JSON lines otherwise)\n"
	"  tail      attach to a running sensor (live view, or --json)\n"
	"  posture   the hardening findings of every container on this host\n"
	"  check     tell whether this host can run the sensor\n"
	"  health    exit 0 when a running sensor's reader is alive (for probes)\n"
	"  version   print the version\n"
	"\n"
	"run options:\n"
	"  --format pretty|json   force the output format (--json is short for json)\n"
	"  --events               put every raw event in the feed, not only alerts\n"
	"  --detail compact|full  raw events: compact (default) or with the full context\n"
	"                         alerts carry (lineage, command lines, namespaces, labels)\n"
	"  --config FILE          YAML configuration (SIGHUP reloads it)\n"
	"  --output SPEC          JSON feed destination, repeatable: stdout, file:PATH[,...],\n"
	"                         syslog:unix:PATH, syslog:udp://HOST:PORT, "
	"syslog:tcp://HOST:PORT\n"
	"  --tail-socket PATH     live-tail socket (default /run/vigil/vigil.sock; none: off)\n"
	"  --heartbeat PATH       heartbeat file for `vigil health` (default\n"
	"                         /run/vigil/heartbeat; none: no heartbeat)\n"
	"  --metrics ADDR         Prometheus endpoint ([HOST:]PORT, default host 127.0.0.1)\n"
	"  --stats-interval SECS  period of the stats record (default 60, 0: off)\n"
	"  --host                 also trace host (non-container) processes\n"
	"  --syscall-results      connect and mount results and seccomp-refused mounts,\n"
	"                         through syscall tracepoints: every syscall on the host\n"
	"                         gets slower (see README, hooks)\n"
	"  --ringbuf-size BYTES   ring buffer size (a power of two, 64K..1G, default 8M)\n"
	"  --no-color             no colour in the live view\n"
	"  --verbose              debug logging, libbpf's messages included\n"
	"  --discard              drain and drop every record (kernel-side cost alone)\n";

/* DIGITS with one optional K, M or G suffix; 0 for anything else, a sign,
 * trailing bytes or a value past 64 bits included */
static size_t parse_size(const char *s)
{
	unsigned long long v = 0;
	unsigned shift = 0;

	if (*s < '0' || *s > '9')
		return 0;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (ULLONG_MAX - 9) / 10)
			return 0;
		v = v * 10 + (unsigned)(*s - '0');
	}
	switch (*s) {
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
	case '\0':
		return v <= SIZE_MAX ? (size_t)v : 0;
	default:
		return 0;
	}
	if (s[1] || v > (SIZE_MAX >> shift))
		return 0;
	return (size_t)(v << shift);
}

static int cmd_run(int argc, char **argv)
{
	enum {
		O_FORMAT = 256,
		O_JSON,
		O_EVENTS,
		O_HOST,
		O_RB,
		O_NOCOLOR,
		O_VERBOSE,
		O_DISCARD,
		O_CONFIG,
		O_OUTPUT,
		O_TAIL,
		O_HEARTBEAT,
		O_METRICS,
		O_STATS,
		O_SYSRES,
		O_DETAIL,
	};
	static const struct option opts[] = {
		{"format", required_argument, NULL, O_FORMAT},
		{"json", no_argument, NULL, O_JSON},
		{"events", no_argument, NULL, O_EVENTS},
		{"detail", required_argument, NULL, O_DETAIL},
		{"host", no_argument, NULL, O_HOST},
		{"ringbuf-size", required_argument, NULL, O_RB},
		{"no-color", no_argument, NULL, O_NOCOLOR},
		{"verbose", no_argument, NULL, O_VERBOSE},
		{"discard", no_argument, NULL, O_DISCARD},
		{"config", required_argument, NULL, O_CONFIG},
		{"output", required_argument, NULL, O_OUTPUT},
		{"tail-socket", required_argument, NULL, O_TAIL},
		{"heartbeat", required_argument, NULL, O_HEARTBEAT},
		{"metrics", required_argument, NULL, O_METRICS},
		{"stats-interval", required_argument, NULL, O_STATS},
		{"syscall-results", no_argument, NULL, O_SYSRES},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct vg_agent_opts o;
	int c;

	vg_agent_opts_default(&o);
	argv[0] = (char *)"vigil run"; /* getopt's messages start with it */
	while ((c = getopt_long(argc, argv, "hv", opts, NULL)) != -1) {
		switch (c) {
		case O_FORMAT:
			if (!strcmp(optarg, "json"))
				o.format = VG_FORMAT_JSON;
			else if (!strcmp(optarg, "pretty"))
				o.format = VG_FORMAT_PRETTY;
			else {
				fprintf(stderr, "vigil: --format takes pretty or json, not '%s'\n",
					optarg);
				return 2;
			}
			break;
		case O_JSON:
			o.format = VG_FORMAT_JSON;
			break;
		case O_EVENTS:
			o.events = true;
			break;
		case O_DETAIL:
			if (!strcmp(optarg, "compact"))
				o.detail = 1;
			else if (!strcmp(optarg, "full"))
				o.detail = 2;
			else {
				fprintf(stderr, "vigil: --detail takes compact or full, not '%s'\n",
					optarg);
				return 2;
			}
			break;
		case O_HOST:
			o.host = true;
			break;
		case O_RB:
			/* the loader's bounds, said rather than applied quietly */
			o.ringbuf_bytes = parse_size(optarg);
			if (o.ringbuf_bytes < VG_LOADER_RINGBUF_MIN ||
			    o.ringbuf_bytes > VG_LOADER_RINGBUF_MAX ||
			    (o.ringbuf_bytes & (o.ringbuf_bytes - 1))) {
				fprintf(stderr, "vigil: --ringbuf-size takes a power of two from "
						"64K to 1G\n");
				return 2;
			}
			break;
		case O_NOCOLOR:
			o.no_color = true;
			break;
		case O_DISCARD:
			o.discard = true;
			break;
		case O_SYSRES:
			o.syscall_results = true;
			break;
		case O_CONFIG:
			o.config = optarg;
			break;
		case O_OUTPUT:
			if (o.noutputs == VG_AGENT_MAX_OUTPUTS) {
				fprintf(stderr, "vigil: at most %d --output\n",
					VG_AGENT_MAX_OUTPUTS);
				return 2;
			}
			o.outputs[o.noutputs++] = optarg;
			break;
		case O_TAIL:
			if (!*optarg) {
				fprintf(stderr, "vigil: --tail-socket needs a path (or none)\n");
				return 2;
			}
			o.tail_socket = strcmp(optarg, "none") ? optarg : "";
			break;
		case O_HEARTBEAT:
			if (!*optarg) {
				fprintf(stderr, "vigil: --heartbeat needs a path (or none)\n");
				return 2;
			}
			o.heartbeat = strcmp(optarg, "none") ? optarg : "";
			break;
		case O_METRICS:
			o.metrics = optarg;
			break;
		case O_STATS: {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (!isdigit((unsigned char)*optarg) || *end || v > 86400) {
				fprintf(stderr,
					"vigil: --stats-interval takes seconds (0..86400)\n");
				return 2;
			}
			o.stats_s = (unsigned)v;
			break;
		}
		case 'v':
		case O_VERBOSE:
			o.verbose = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vigil: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (o.format == VG_FORMAT_AUTO)
		o.format = isatty(STDOUT_FILENO) ? VG_FORMAT_PRETTY : VG_FORMAT_JSON;
	/* stdout holds one stream: two writers would mix their lines */
	unsigned to_stdout = o.format == VG_FORMAT_PRETTY;
	for (unsigned i = 0; i < o.noutputs; i++) {
		size_t n = strcspn(o.outputs[i], ",");
		to_stdout += (n == 6 && !strncmp(o.outputs[i], "stdout", 6)) ||
			     (n == 1 && o.outputs[i][0] == '-');
	}
	if (to_stdout > 1) {
		fprintf(stderr, "vigil: %s\n",
			o.format == VG_FORMAT_PRETTY
				? "--output stdout and the live view would both write to stdout: "
				  "add --json for the feed there, or send it elsewhere"
				: "stdout named twice in --output");
		return 2;
	}
	vg_log_set_level(o.verbose ? VG_LOG_DEBUG : VG_LOG_INFO);
	return vg_agent_run(&o);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(cmd, "tail"))
		return vg_tailcli_main(argc - 1, argv + 1);
	if (!strcmp(cmd, "posture"))
		return vg_posture_main(argc - 1, argv + 1);
	if (!strcmp(cmd, "health"))
		return vg_health_main(argc - 1, argv + 1);
	if ((!strcmp(cmd, "check") || !strcmp(cmd, "version") || !strcmp(cmd, "--version")) &&
	    argc > 2) {
		fprintf(stderr, "vigil %s takes no arguments, not '%s'\n", cmd, argv[2]);
		return 2;
	}
	if (!strcmp(cmd, "check"))
		return vg_check_run(stdout);
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("vigil %s\n", VIGIL_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		fputs(usage, stdout);
		return 0;
	}
	fprintf(stderr, "vigil: unknown command '%s'\n", cmd);
	fputs(usage, stderr);
	return 2;
}
