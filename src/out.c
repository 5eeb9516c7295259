// SPDX-License-Identifier: GPL-2.0
/* out: names of record kinds and severities shared by all outputs. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "vigil/out.h"

static const char *const kind_names[VG_OUT_KIND__MAX] = {
	[VG_OUT_EVENT] = "event", [VG_OUT_ALERT] = "alert",	[VG_OUT_INCIDENT] = "incident",
	[VG_OUT_STATS] = "stats", [VG_OUT_POSTURE] = "posture",
};

static const char *const sev_names[VG_OUT_SEV__MAX] = {
	[VG_OUT_SEV_INFO] = "info",	    [VG_OUT_SEV_LOW] = "low",
	[VG_OUT_SEV_MEDIUM] = "medium",	    [VG_OUT_SEV_HIGH] = "high",
	[VG_OUT_SEV_CRITICAL] = "critical",
};

const char *vg_out_kind_name(enum vg_out_kind kind)
{
	if ((unsigned)kind >= VG_OUT_KIND__MAX)
		return "unknown";
	return kind_names[kind];
}

const char *vg_out_sev_name(enum vg_out_sev sev)
{
	if ((unsigned)sev >= VG_OUT_SEV__MAX)
		return "unknown";
	return sev_names[sev];
}

int vg_out_sev_parse(const char *s, enum vg_out_sev *out)
{
	static const struct {
		const char *name;
		enum vg_out_sev sev;
	} alias[] = {
		{"warning", VG_OUT_SEV_MEDIUM},
		{"warn", VG_OUT_SEV_MEDIUM},
		{"crit", VG_OUT_SEV_CRITICAL},
		{"med", VG_OUT_SEV_MEDIUM},
	};

	if (!s || !*s)
		return -EINVAL;
	if (s[0] >= '0' && s[0] <= '4' && s[1] == '\0') {
		*out = (enum vg_out_sev)(s[0] - '0');
		return 0;
	}
	for (unsigned i = 0; i < VG_OUT_SEV__MAX; i++) {
		if (!strcasecmp(s, sev_names[i])) {
			*out = (enum vg_out_sev)i;
			return 0;
		}
	}
	for (size_t i = 0; i < sizeof(alias) / sizeof(alias[0]); i++) {
		if (!strcasecmp(s, alias[i].name)) {
			*out = alias[i].sev;
			return 0;
		}
	}
	return -EINVAL;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t vg_out_now_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

uint64_t vg_out_mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

bool vg_out_accept_retry(int err)
{
	switch (err) {
	case EINTR:
	case ECONNABORTED:
	case EPROTO:
	case ENOPROTOOPT:
	case EOPNOTSUPP:
	case ENETDOWN:
	case ENETUNREACH:
	case EHOSTDOWN:
	case EHOSTUNREACH:
	case ENONET:
		return true;
	default:
		return false;
	}
}

int vg_out_sockaddr(const char *host, unsigned port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	if (!host || port > 65535)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (!strcmp(host, "localhost"))
		host = "127.0.0.1";
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*len = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
		return 0;
	}
	return -EINVAL;
}
