/*
 * config: defaults and the YAML reader (see config.h).
 *
 * The file is loaded as one libyaml document and walked node by node.
 * Every key is looked up in a table that says where its value goes and
 * what type it has, so a key that is misspelt, a value of the wrong type
 * or a number out of range is refused with the line it is on.  Nothing is
 * written into the caller's configuration until the whole file is valid.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "vigil/config.h"

static const char *const rule_names[VG_RULE__MAX] = {
	[VG_RULE_METADATA] = "metadata_service_access",
	[VG_RULE_SHELL] = "shell_in_service_container",
	[VG_RULE_ISHELL] = "interactive_shell_in_container",
	[VG_RULE_SPIKE] = "miner_resource_spike",
	[VG_RULE_MINER] = "miner_indicator",
	[VG_RULE_MOUNT] = "mount_in_container",
	[VG_RULE_OOM] = "oom_kill",
};

const char *vg_rule_name(enum vg_rule_id id)
{
	return (unsigned)id < VG_RULE__MAX ? rule_names[id] : "unknown";
}

int vg_rule_lookup(const char *name)
{
	for (int i = 0; i < VG_RULE__MAX; i++)
		if (!strcmp(name, rule_names[i]))
			return i;
	return -1;
}

static const char *const sev_names[] = {"default", "info", "warning", "high", "critical"};

const char *vg_severity_name(int sev)
{
	return sev >= VG_SEV_INFO && sev <= VG_SEV_CRITICAL ? sev_names[sev] : "info";
}

int vg_severity_parse(const char *s)
{
	for (int i = VG_SEV_INFO; i <= VG_SEV_CRITICAL; i++)
		if (!strcasecmp(s, sev_names[i]))
			return i;
	/* the usual synonyms */
	if (!strcasecmp(s, "low"))
		return VG_SEV_INFO;
	if (!strcasecmp(s, "medium"))
		return VG_SEV_WARNING;
	return -1;
}

enum vg_out_sev vg_severity_out(int sev)
{
	switch (sev) {
	case VG_SEV_CRITICAL:
		return VG_OUT_SEV_CRITICAL;
	case VG_SEV_HIGH:
		return VG_OUT_SEV_HIGH;
	case VG_SEV_WARNING: /* ECS 47, syslog warning: the medium band */
		return VG_OUT_SEV_MEDIUM;
	default: /* info (or low), ECS 21: the low band */
		return VG_OUT_SEV_LOW;
	}
}

unsigned vg_severity_ecs(int sev)
{
	/* the risk-score bands most SIEMs use for low/medium/high/critical */
	static const unsigned ecs[] = {21, 21, 47, 73, 99};
	return sev >= 0 && sev <= VG_SEV_CRITICAL ? ecs[sev] : 21;
}

/*
 * fnmatch(3) costs a few hundred nanoseconds and these lists are matched on
 * every exec, so the common shapes are compared directly: a plain name, and
 * a name with one trailing '*'.  Anything else goes to fnmatch.
 */
static inline unsigned char lc(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* a byte that makes a pattern more than its literal text */
static inline bool glob_meta(unsigned char p)
{
	return p == '*' || p == '?' || p == '[' || p == '\\';
}

/* Can pattern pat not match s, by their first two bytes alone?  Most names
 * differ there (the miner list alone has three names that start with 'n'),
 * so the list loops settle those without a call.  A wildcard or the
 * pattern's end leaves the question to pattern_match(). */
static inline bool head_differs(const char *pat, const char *s, bool casefold)
{
	for (int i = 0; i < 2; i++) {
		unsigned char p = (unsigned char)pat[i], c = (unsigned char)s[i];

		if (!p || glob_meta(p))
			return false;
		if (casefold ? lc(p) != lc(c) : p != c)
			return true; /* s[0] equal and not NUL: s[1] is there */
	}
	return false;
}

/* the rest of the match, for a pattern head_differs() did not rule out */
static bool pattern_match(const char *pat, const char *s, bool casefold)
{
	size_t n = strcspn(pat, "*?[\\");
	if (!pat[n])
		return casefold ? !strcasecmp(pat, s) : !strcmp(pat, s);
	if (pat[n] == '*' && !pat[n + 1])
		return casefold ? !strncasecmp(pat, s, n) : !strncmp(pat, s, n);
	return !fnmatch(pat, s, casefold ? FNM_CASEFOLD : 0);
}

bool vg_strlist_match(const struct vg_strlist *l, const char *s)
{
	for (unsigned i = 0; i < l->n; i++)
		if (!head_differs(l->v[i], s, false) && pattern_match(l->v[i], s, false))
			return true;
	return false;
}

bool vg_strlist_match_case(const struct vg_strlist *l, const char *s)
{
	for (unsigned i = 0; i < l->n; i++)
		if (!head_differs(l->v[i], s, true) && pattern_match(l->v[i], s, true))
			return true;
	return false;
}

static inline unsigned head_pair(unsigned char c0, unsigned char c1, bool casefold)
{
	return casefold ? (unsigned)lc(c0) << 8 | lc(c1) : (unsigned)c0 << 8 | c1;
}

void vg_strlist_heads_build(struct vg_strlist_heads *h, const struct vg_strlist *l, bool casefold)
{
	memset(h, 0, sizeof(*h));
	h->casefold = casefold;
	for (unsigned i = 0; i < l->n; i++) {
		unsigned char p0 = (unsigned char)l->v[i][0],
			      p1 = p0 ? (unsigned char)l->v[i][1] : 0;
		unsigned at;

		if (!p0 || glob_meta(p0)) {
			h->any = true; /* "" matches only "", which no caller asks for */
			return;
		}
		if (glob_meta(p1)) {
			/* any second byte, the end of s included: p0's whole row
			 * (both cases of p0 when folding land on one row) */
			at = head_pair(p0, 0, casefold);
			memset(&h->pair[at / 64], 0xff, 256 / 8);
			continue;
		}
		/* a one-byte pattern: the pair is p0 and the end of s */
		at = head_pair(p0, p1, casefold);
		h->pair[at / 64] |= 1ull << (at % 64);
	}
}

bool vg_strlist_match_heads(const struct vg_strlist *l, const struct vg_strlist_heads *h,
			    const char *s)
{
	unsigned char c0 = (unsigned char)s[0], c1 = c0 ? (unsigned char)s[1] : 0;
	unsigned at = head_pair(c0, c1, h->casefold);

	if (!h->any && !(h->pair[at / 64] >> (at % 64) & 1))
		return false;
	return h->casefold ? vg_strlist_match_case(l, s) : vg_strlist_match(l, s);
}

bool vg_strlist_has(const struct vg_strlist *l, const char *s)
{
	for (unsigned i = 0; i < l->n; i++)
		if (!strcmp(l->v[i], s))
			return true;
	return false;
}

static void list_set(struct vg_strlist *l, const char *const *v)
{
	l->n = 0;
	for (; *v && l->n < VG_CFG_LIST_MAX; v++)
		snprintf(l->v[l->n++], VG_CFG_STR_MAX, "%s", *v);
}

static const char *const default_meta[] = {
	"169.254.169.254", /* AWS, GCP, Azure, OCI, DigitalOcean, OpenStack, ... */
	"fd00:ec2::254",   /* AWS IMDS over IPv6 */
	"169.254.170.2",   /* ECS task credentials */
	"169.254.170.23",  /* EKS Pod Identity */
	"fd00:ec2::23",	   /* EKS Pod Identity, IPv6 */
	"100.100.100.200", /* Alibaba Cloud */
	NULL,
};

static const char *const default_shells[] = {
	"sh",	"bash", "dash", "ash", "zsh",  "ksh",	"mksh",	      "pdksh", "lksh",
	"oksh", "yash", "tcsh", "csh", "fish", "rbash", "busybox-sh", NULL,
};

static const char *const default_runtimes[] = {
	"runc", "runc:*",    "crun",	  "youki*", "containerd-shim*", "conmon", "docker-init",
	"tini", "dumb-init", "catatonit", NULL,
};

static const char *const default_miners[] = {
	"xmrig*",    "xmr-stak*",     "minerd",	    "cpuminer*",  "ccminer*",
	"cgminer*",  "bfgminer*",     "ethminer*",  "nbminer*",	  "t-rex",
	"lolminer*", "phoenixminer*", "nanominer*", "srbminer*",  "teamredminer*",
	"gminer*",   "nheqminer*",    "xmrminer*",  "kdevtmpfsi", "kinsing",
	NULL,
};

static const uint16_t default_ports[] = {3333, 3334, 3357,  4444,  5555,  5556,	 6666, 7777,
					 8888, 9999, 14433, 14444, 20580, 45560, 45700};

static const char *const default_dirs[] = {"/tmp/", "/dev/shm/", "/var/tmp/", NULL};

static const char *const default_markers[] = {"stratum+tcp://",	 "stratum+ssl://",
					      "stratum+tls://",	 "stratum2+tcp://",
					      "stratum1+tcp://", NULL};

static const char *const default_fstypes[] = {"proc",	  "sysfs",   "cgroup",	"cgroup2",
					      "devtmpfs", "debugfs", "tracefs", "securityfs",
					      "bpf",	  NULL};

static const char *const default_sources[] = {
	"/proc",	   "/sys", "/dev", "/var/run/docker.sock", "/run/docker.sock",
	"/run/containerd", NULL};

static int parse_addr(const char *s, struct vg_ipaddr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, a->a) == 1) {
		a->family = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, a->a) == 1) {
		static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (!memcmp(a->a, mapped, 12)) { /* ::ffff:a.b.c.d is the IPv4 address */
			memmove(a->a, a->a + 12, 4);
			memset(a->a + 4, 0, 12);
			a->family = 4;
		} else {
			a->family = 6;
		}
		return 0;
	}
	return -EINVAL;
}

void vg_config_defaults(struct vg_config *c)
{
	memset(c, 0, sizeof(*c));
	c->incident_window_ns = 600ull * 1000000000ull;
	c->rate_burst = 5;
	c->rate_window_ns = 60ull * 1000000000ull;
	c->sample_interval_ns = 5ull * 1000000000ull;
	c->priority_boost = 4;
	for (int i = 0; i < VG_RULE__MAX; i++)
		c->rule[i].enabled = true;
	for (const char *const *a = default_meta; *a; a++)
		if (!parse_addr(*a, &c->meta_addrs[c->nmeta_addrs]))
			c->nmeta_addrs++;
	list_set(&c->shells, default_shells);
	list_set(&c->runtimes, default_runtimes);
	c->cpu_percent = 90;
	c->cpu_window_ns = 30ull * 1000000000ull;
	c->cpu_cores = 1.0;
	c->mem_percent = 90;
	c->pids_percent = 90;
	c->pids_growth = 200;
	list_set(&c->miner_names, default_miners);
	for (size_t i = 0; i < sizeof(default_ports) / sizeof(default_ports[0]); i++)
		c->stratum_ports[c->nstratum_ports++] = default_ports[i];
	list_set(&c->exec_dirs, default_dirs);
	list_set(&c->argv_markers, default_markers);
	list_set(&c->mount_critical_fstypes, default_fstypes);
	list_set(&c->mount_critical_sources, default_sources);
	vg_posture_cfg_default(&c->posture);
}

int vg_config_new_default(struct vg_config **out)
{
	struct vg_config *c = malloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	vg_config_defaults(c);
	*out = c;
	return 0;
}

void vg_config_free(struct vg_config **c)
{
	if (!c || !*c)
		return;
	free(*c);
	*c = NULL;
}

/* ---- the YAML walker ---- */

struct parse {
	yaml_document_t *doc;
	const char *name;
	char *err;
	size_t errlen;
	struct vg_config *c;
};

__attribute__((format(printf, 3, 4))) static int fail(struct parse *p, const yaml_node_t *n,
						      const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->err && p->errlen)
		snprintf(p->err, p->errlen, "%s:%zu: %s", p->name,
			 n ? n->start_mark.line + 1 : (size_t)1, msg);
	return -EINVAL;
}

/* A scalar's text; NULL for any other node, and for a quoted "a\0b", which
 * every strcmp after would read as "a" */
static const char *scalar(const yaml_node_t *n)
{
	const char *v;

	if (n->type != YAML_SCALAR_NODE)
		return NULL;
	v = (const char *)n->data.scalar.value;
	return strlen(v) == n->data.scalar.length ? v : NULL;
}

/*
 * One pair of a mapping: its key, which must be a plain string said once
 * in that mapping (libyaml keeps both of a repeated key, and the last one
 * would silently win), and its value.  Only keys already taken are
 * compared, and every walker refuses an unknown one, so the scan is short.
 */
static int pair_get(struct parse *p, const yaml_node_t *map, const yaml_node_pair_t *pr,
		    const char *where, const char **ks, const yaml_node_t **vn)
{
	const yaml_node_t *kn = yaml_document_get_node(p->doc, pr->key);

	*vn = yaml_document_get_node(p->doc, pr->value);
	*ks = kn ? scalar(kn) : NULL;
	if (!*ks || !*vn)
		return fail(p, kn, "%s%skeys must be plain strings", where ? where : "",
			    where ? ": " : "");
	for (const yaml_node_pair_t *q = map->data.mapping.pairs.start; q < pr; q++) {
		const yaml_node_t *qn = yaml_document_get_node(p->doc, q->key);
		const char *qs = qn ? scalar(qn) : NULL;
		if (qs && !strcmp(qs, *ks))
			return fail(p, kn, "\"%.60s\" given twice%s%s (first on line %zu)", *ks,
				    where ? " in " : "", where ? where : "",
				    qn->start_mark.line + 1);
	}
	return 0;
}

enum kind { K_BOOL, K_UINT, K_DUR, K_DOUBLE, K_LIST, K_PORTS, K_ADDRS, K_SEV, K_ALLOW, K_RATE };

struct key {
	const char *name;
	enum kind kind;
	size_t off;	   /* into struct vg_config (or struct vg_rule_cfg for rule keys) */
	uint64_t min, max; /* K_UINT bounds; K_LIST: min 1, no empty list */
};

#define CO(f) offsetof(struct vg_config, f)
#define RO(f) offsetof(struct vg_rule_cfg, f)

static int get_u64(struct parse *p, const yaml_node_t *n, uint64_t min, uint64_t max, uint64_t *out)
{
	const char *s = scalar(n);
	char *end;
	/* digits alone: strtoull would take " 3", "+3" and "-1" (as 2^64 - 1) */
	if (!s || !isdigit((unsigned char)*s))
		return fail(p, n, "expected a whole number, not \"%.40s\"", s ? s : "");
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return fail(p, n, "expected a whole number, not \"%.40s\"", s);
	if (v < min || v > max)
		return fail(p, n, "%llu is out of range (%llu..%llu)", v, (unsigned long long)min,
			    (unsigned long long)max);
	*out = v;
	return 0;
}

/* "30", "30s", "1.5s", "500ms", "10m", "1h": a duration in nanoseconds */
static int get_dur(struct parse *p, const yaml_node_t *n, uint64_t *out)
{
	const char *s = scalar(n);
	char *end;
	/* a decimal number: strtod would take " 30", "0x1e", "inf" and "nan" */
	if (!s || !isdigit((unsigned char)*s) || strpbrk(s, "xX"))
		return fail(p, n, "expected a duration such as 30s, 500ms or 10m");
	errno = 0;
	double v = strtod(s, &end);
	double mul = 1e9;
	if (errno || end == s)
		return fail(p, n, "expected a duration such as 30s, 500ms or 10m");
	if (!strcmp(end, "ms"))
		mul = 1e6;
	else if (!strcmp(end, "m"))
		mul = 60e9;
	else if (!strcmp(end, "h"))
		mul = 3600e9;
	else if (*end && strcmp(end, "s"))
		return fail(p, n, "unknown duration unit \"%.10s\" (use ms, s, m or h)", end);
	v *= mul;
	/* written so that NaN ("nan" parses) fails too */
	if (!(v >= 1e6 && v <= 7 * 86400e9))
		return fail(p, n, "duration out of range (1ms..7 days)");
	*out = (uint64_t)v;
	return 0;
}

static int get_bool(struct parse *p, const yaml_node_t *n, bool *out)
{
	static const char *const t[] = {"true", "yes", "on", "1"}, *const f[] = {"false", "no",
										 "off", "0"};
	const char *s = scalar(n);
	for (size_t i = 0; s && i < 4; i++) {
		if (!strcasecmp(s, t[i]))
			return *out = true, 0;
		if (!strcasecmp(s, f[i]))
			return *out = false, 0;
	}
	return fail(p, n, "expected true or false");
}

/* a key with no value ("events:" and nothing after): an empty section */
static bool empty(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE && !n->data.scalar.length;
}

/* The items of a sequence node; an empty value ("key:") is an empty list. */
static int seq_items(struct parse *p, const yaml_node_t *n, yaml_node_item_t **b,
		     yaml_node_item_t **e)
{
	*b = *e = NULL;
	if (empty(n))
		return 0;
	if (n->type != YAML_SEQUENCE_NODE)
		return fail(p, n, "expected a list");
	*b = n->data.sequence.items.start;
	*e = n->data.sequence.items.top;
	return 0;
}

static int get_list(struct parse *p, const yaml_node_t *n, struct vg_strlist *l)
{
	yaml_node_item_t *it, *end;
	int rc = seq_items(p, n, &it, &end);
	if (rc)
		return rc;
	l->n = 0;
	for (; it < end; it++) {
		const yaml_node_t *v = yaml_document_get_node(p->doc, *it);
		const char *s = v ? scalar(v) : NULL;
		if (!s || !*s)
			return fail(p, v, "expected a non-empty string");
		if (strlen(s) >= VG_CFG_STR_MAX)
			return fail(p, v, "entry longer than %d bytes", VG_CFG_STR_MAX - 1);
		if (l->n >= VG_CFG_LIST_MAX)
			return fail(p, v, "more than %d entries", VG_CFG_LIST_MAX);
		snprintf(l->v[l->n++], VG_CFG_STR_MAX, "%s", s);
	}
	return 0;
}

static int get_ports(struct parse *p, const yaml_node_t *n, struct vg_config *c)
{
	yaml_node_item_t *it, *end;
	int rc = seq_items(p, n, &it, &end);
	if (rc)
		return rc;
	c->nstratum_ports = 0;
	for (; it < end; it++) {
		const yaml_node_t *v = yaml_document_get_node(p->doc, *it);
		uint64_t port;
		if ((rc = get_u64(p, v, 1, 65535, &port)))
			return rc;
		if (c->nstratum_ports >= VG_CFG_PORTS_MAX)
			return fail(p, v, "more than %d ports", VG_CFG_PORTS_MAX);
		c->stratum_ports[c->nstratum_ports++] = (uint16_t)port;
	}
	return 0;
}

static int get_addrs(struct parse *p, const yaml_node_t *n, struct vg_config *c)
{
	yaml_node_item_t *it, *end;
	int rc = seq_items(p, n, &it, &end);
	if (rc)
		return rc;
	c->nmeta_addrs = 0;
	for (; it < end; it++) {
		const yaml_node_t *v = yaml_document_get_node(p->doc, *it);
		const char *s = v ? scalar(v) : NULL;
		if (c->nmeta_addrs >= VG_CFG_ADDRS_MAX)
			return fail(p, v, "more than %d addresses", VG_CFG_ADDRS_MAX);
		if (!s || parse_addr(s, &c->meta_addrs[c->nmeta_addrs]))
			return fail(p, v, "not an IPv4 or IPv6 address: \"%.60s\"", s ? s : "");
		c->nmeta_addrs++;
	}
	if (!c->nmeta_addrs)
		return fail(
			p, n,
			"addresses: an empty list would watch no address (to turn the rule off: "
			"enabled: false)");
	return 0;
}

static int walk_map(struct parse *p, const yaml_node_t *n, const struct key *keys, void *base,
		    const char *where);

static const struct key allow_keys[] = {
	{"names", K_LIST, offsetof(struct vg_allow, names)},
	{"images", K_LIST, offsetof(struct vg_allow, images)},
	{"labels", K_LIST, offsetof(struct vg_allow, labels)},
	{NULL},
};

static const struct key rate_keys[] = {
	{"burst", K_UINT, CO(rate_burst), 1, 1000000},
	{"window", K_DUR, CO(rate_window_ns)},
	{NULL},
};

static int set_value(struct parse *p, const yaml_node_t *v, const struct key *k, void *base)
{
	char *at = (char *)base + k->off;
	uint64_t u;
	int rc;

	switch (k->kind) {
	case K_BOOL:
		return get_bool(p, v, (bool *)at);
	case K_UINT:
		if ((rc = get_u64(p, v, k->min, k->max, &u)))
			return rc;
		*(unsigned *)at = (unsigned)u;
		return 0;
	case K_DUR:
		return get_dur(p, v, (uint64_t *)at);
	case K_DOUBLE: {
		const char *s = scalar(v);
		char *end;
		double d =
			s && isdigit((unsigned char)*s) && !strpbrk(s, "xX") ? strtod(s, &end) : 0;
		if (!d || end == s || *end || !(d > 0 && d <= 4096))
			return fail(p, v, "expected a number of cores (0 < n <= 4096)");
		*(double *)at = d;
		return 0;
	}
	case K_LIST:
		if ((rc = get_list(p, v, (struct vg_strlist *)at)))
			return rc;
		if (k->min && !((struct vg_strlist *)at)->n)
			return fail(p, v,
				    "%s: an empty list would match nothing (to turn its rules off: "
				    "enabled: false)",
				    k->name);
		return 0;
	case K_PORTS:
		return get_ports(p, v, p->c);
	case K_ADDRS:
		return get_addrs(p, v, p->c);
	case K_SEV: {
		const char *s = scalar(v);
		int sev = s ? vg_severity_parse(s) : -1;
		if (sev < 0)
			return fail(p, v,
				    "unknown severity \"%.40s\" (info, warning, high, critical)",
				    s ? s : "");
		*(int *)at = sev;
		return 0;
	}
	case K_ALLOW:
		return walk_map(p, v, allow_keys, at, "allow");
	case K_RATE:
		return walk_map(p, v, rate_keys, base, "rate_limit");
	}
	return fail(p, v, "internal: unknown key kind");
}

static int walk_map(struct parse *p, const yaml_node_t *n, const struct key *keys, void *base,
		    const char *where)
{
	if (empty(n))
		return 0; /* "key:" with nothing under it */
	if (n->type != YAML_MAPPING_NODE)
		return fail(p, n, "%s: expected a mapping of keys", where);
	for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
	     pr++) {
		const yaml_node_t *vn;
		const char *ks;
		const struct key *k = keys;
		int rc = pair_get(p, n, pr, where, &ks, &vn);
		if (rc)
			return rc;
		while (k->name && strcmp(k->name, ks))
			k++;
		if (!k->name)
			return fail(p, yaml_document_get_node(p->doc, pr->key),
				    "unknown key \"%.60s\" in %s", ks, where);
		rc = set_value(p, vn, k, base);
		if (rc)
			return rc;
	}
	return 0;
}

/* keys every rule has, relative to its struct vg_rule_cfg */
static const struct key rule_common[] = {
	{"enabled", K_BOOL, RO(enabled)},
	{"severity", K_SEV, RO(severity)},
	{"host", K_BOOL, RO(host)},
	{"allow", K_ALLOW, RO(allow)},
	{NULL},
};

/* rule-specific keys, relative to struct vg_config */
struct rule_key {
	int rule;
	struct key k;
};

static const struct rule_key rule_specific[] = {
	{VG_RULE_METADATA, {"addresses", K_ADDRS, 0}},
	{VG_RULE_SPIKE, {"cpu_percent", K_UINT, CO(cpu_percent), 1, 100000}},
	{VG_RULE_SPIKE, {"cpu_window", K_DUR, CO(cpu_window_ns)}},
	{VG_RULE_SPIKE, {"cpu_cores", K_DOUBLE, CO(cpu_cores)}},
	{VG_RULE_SPIKE, {"memory_percent", K_UINT, CO(mem_percent), 1, 100}},
	{VG_RULE_SPIKE, {"pids_percent", K_UINT, CO(pids_percent), 1, 100}},
	{VG_RULE_SPIKE, {"pids_growth", K_UINT, CO(pids_growth), 1, 10000000}},
	{VG_RULE_MINER, {"names", K_LIST, CO(miner_names)}},
	{VG_RULE_MINER, {"ports", K_PORTS, 0}},
	{VG_RULE_MINER, {"exec_dirs", K_LIST, CO(exec_dirs)}},
	{VG_RULE_MINER, {"argv_markers", K_LIST, CO(argv_markers)}},
	{VG_RULE_MOUNT, {"critical_fstypes", K_LIST, CO(mount_critical_fstypes)}},
	{VG_RULE_MOUNT, {"critical_sources", K_LIST, CO(mount_critical_sources)}},
};

static int walk_rule(struct parse *p, int rule, const yaml_node_t *n)
{
	if (empty(n))
		return 0;
	if (n->type != YAML_MAPPING_NODE)
		return fail(p, n, "%s: expected a mapping of keys", rule_names[rule]);
	for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
	     pr++) {
		const yaml_node_t *kn = yaml_document_get_node(p->doc, pr->key);
		const yaml_node_t *vn;
		const char *ks;
		const struct key *k = NULL;
		void *base = &p->c->rule[rule];
		int rc = pair_get(p, n, pr, rule_names[rule], &ks, &vn);
		if (rc)
			return rc;
		for (const struct key *c = rule_common; c->name && !k; c++)
			if (!strcmp(c->name, ks))
				k = c;
		for (size_t i = 0; !k && i < sizeof(rule_specific) / sizeof(rule_specific[0]); i++)
			if (rule_specific[i].rule == rule && !strcmp(rule_specific[i].k.name, ks)) {
				k = &rule_specific[i].k;
				base = p->c;
			}
		if (!k)
			return fail(p, kn, "unknown key \"%.60s\" in rule %s", ks,
				    rule_names[rule]);
		rc = set_value(p, vn, k, base);
		if (rc)
			return rc;
		if (rule == VG_RULE_SPIKE && p->c->rule[rule].host)
			return fail(p, vn,
				    "%s samples containers' cgroups only: host: true would watch "
				    "nothing more",
				    rule_names[rule]);
	}
	return 0;
}

static int walk_rules(struct parse *p, const yaml_node_t *n)
{
	if (empty(n))
		return 0;
	if (n->type != YAML_MAPPING_NODE)
		return fail(p, n, "rules: expected a mapping of rule names");
	for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
	     pr++) {
		const yaml_node_t *vn;
		const char *ks;
		int rc = pair_get(p, n, pr, "rules", &ks, &vn), rule;
		if (rc)
			return rc;
		if ((rule = vg_rule_lookup(ks)) < 0)
			return fail(p, yaml_document_get_node(p->doc, pr->key),
				    "unknown rule \"%.60s\"", ks);
		rc = walk_rule(p, rule, vn);
		if (rc)
			return rc;
	}
	return 0;
}

/* posture: allowlists go into struct vg_posture_cfg entry by entry */
static int posture_allow(struct parse *p, const yaml_node_t *n, const char *finding)
{
	static const enum vg_pmatch kinds[] = {VG_PM_NAME, VG_PM_IMAGE, VG_PM_LABEL};
	struct vg_allow a = {0};
	int rc = walk_map(p, n, allow_keys, &a, "allow");
	const struct vg_strlist *lists[] = {&a.names, &a.images, &a.labels};

	for (int k = 0; !rc && k < 3; k++)
		for (unsigned i = 0; !rc && i < lists[k]->n; i++)
			if (vg_posture_cfg_allow(&p->c->posture, finding, kinds[k], lists[k]->v[i]))
				rc = fail(p, n, "posture: more than %d allow entries",
					  VG_POSTURE_ALLOW_MAX);
	return rc;
}

/* posture: findings: NAME: {enabled, severity, allow} */
static int walk_posture_finding(struct parse *p, const char *finding, const yaml_node_t *n)
{
	if (empty(n))
		return 0;
	if (n->type != YAML_MAPPING_NODE)
		return fail(p, n, "%s: expected a mapping of keys", finding);
	for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
	     pr++) {
		const yaml_node_t *vn;
		const char *ks;
		int rc = pair_get(p, n, pr, finding, &ks, &vn);
		if (rc)
			return rc;
		if (!strcmp(ks, "enabled")) {
			bool on;
			if (!(rc = get_bool(p, vn, &on)))
				vg_posture_cfg_enable(&p->c->posture, finding, on);
		} else if (!strcmp(ks, "severity")) {
			const char *s = scalar(vn);
			enum vg_out_sev sev;
			if (!s || vg_out_sev_parse(s, &sev))
				return fail(p, vn,
					    "unknown severity \"%.40s\" (info, low, medium, high, "
					    "critical)",
					    s ? s : "");
			vg_posture_cfg_severity(&p->c->posture, finding, sev);
		} else if (!strcmp(ks, "allow")) {
			rc = posture_allow(p, vn, finding);
		} else {
			return fail(p, yaml_document_get_node(p->doc, pr->key),
				    "unknown key \"%.60s\" in %s", ks, finding);
		}
		if (rc)
			return rc;
	}
	return 0;
}

/* posture: {allow, ports, findings} */
static int walk_posture(struct parse *p, const yaml_node_t *n)
{
	if (empty(n))
		return 0;
	if (n->type != YAML_MAPPING_NODE)
		return fail(p, n, "posture: expected a mapping of keys");
	for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
	     pr++) {
		const yaml_node_t *vn;
		const char *ks;
		yaml_node_item_t *it, *end;
		int rc = pair_get(p, n, pr, "posture", &ks, &vn);
		if (rc)
			return rc;
		if (!strcmp(ks, "allow")) {
			rc = posture_allow(p, vn, NULL);
		} else if (!strcmp(ks, "ports")) {
			/* extra datastore/admin ports, added to the built-in list */
			rc = seq_items(p, vn, &it, &end);
			for (; !rc && it < end; it++) {
				const yaml_node_t *v = yaml_document_get_node(p->doc, *it);
				uint64_t port;
				if (!(rc = get_u64(p, v, 1, 65535, &port)) &&
				    vg_posture_cfg_add_port(&p->c->posture, (uint16_t)port))
					rc = fail(p, v, "posture: more than %d ports",
						  VG_POSTURE_EXTRA_PORTS_MAX);
			}
		} else if (!strcmp(ks, "findings")) {
			if (empty(vn))
				continue;
			if (vn->type != YAML_MAPPING_NODE)
				return fail(p, vn, "posture findings: expected a mapping of names");
			for (yaml_node_pair_t *f = vn->data.mapping.pairs.start;
			     !rc && f < vn->data.mapping.pairs.top; f++) {
				const yaml_node_t *fv;
				const char *fs;
				if ((rc = pair_get(p, vn, f, "posture findings", &fs, &fv)))
					break;
				if (vg_posture_find(fs) < 0)
					return fail(p, yaml_document_get_node(p->doc, f->key),
						    "unknown posture finding \"%.60s\"", fs);
				/* a finding by its short and its full name is one key */
				for (yaml_node_pair_t *q = vn->data.mapping.pairs.start; q < f;
				     q++) {
					const yaml_node_t *qn =
						yaml_document_get_node(p->doc, q->key);
					const char *qs = qn ? scalar(qn) : NULL;
					if (qs && vg_posture_find(qs) == vg_posture_find(fs))
						return fail(p,
							    yaml_document_get_node(p->doc, f->key),
							    "\"%.60s\" given twice in posture "
							    "findings, "
							    "as \"%.60s\" on line %zu",
							    fs, qs, qn->start_mark.line + 1);
				}
				rc = walk_posture_finding(p, fs, fv);
			}
		} else {
			return fail(p, yaml_document_get_node(p->doc, pr->key),
				    "unknown key \"%.60s\" in posture", ks);
		}
		if (rc)
			return rc;
	}
	return 0;
}

/* events: {detail: compact|full} */
static int walk_events(struct parse *p, const yaml_node_t *n)
{
	if (empty(n))
		return 0;
	if (n->type != YAML_MAPPING_NODE)
		return fail(p, n, "events: expected a mapping (detail: compact or full)");
	for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
	     pr++) {
		const yaml_node_t *vn;
		const char *ks, *vs;
		int rc = pair_get(p, n, pr, "events", &ks, &vn);
		if (rc)
			return rc;
		if (strcmp(ks, "detail"))
			return fail(p, yaml_document_get_node(p->doc, pr->key),
				    "unknown key \"%.60s\" in events", ks);
		vs = scalar(vn);
		if (vs && !strcmp(vs, "full"))
			p->c->events_full = true;
		else if (vs && !strcmp(vs, "compact"))
			p->c->events_full = false;
		else
			return fail(p, vn, "events detail: compact or full");
	}
	return 0;
}

static const struct key top_keys[] = {
	{"incident_window", K_DUR, CO(incident_window_ns)},
	{"rate_limit", K_RATE, 0},
	{"sample_interval", K_DUR, CO(sample_interval_ns)},
	{"host_processes", K_BOOL, CO(host_processes)},
	{"syscall_results", K_BOOL, CO(syscall_results)},
	{"priority_boost", K_UINT, CO(priority_boost), 0, 19},
	{"allow", K_ALLOW, CO(allow)},
	{"shells", K_LIST, CO(shells), 1},
	{"runtimes", K_LIST, CO(runtimes)},
	{NULL},
};

static int walk_top(struct parse *p, const yaml_node_t *root)
{
	if (empty(root))
		return 0;
	if (root->type != YAML_MAPPING_NODE)
		return fail(p, root, "the file must be a mapping of keys");
	for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
	     pr < root->data.mapping.pairs.top; pr++) {
		const yaml_node_t *vn;
		const char *ks;
		int rc = pair_get(p, root, pr, NULL, &ks, &vn);
		if (rc)
			return rc;
		if (!strcmp(ks, "rules")) {
			rc = walk_rules(p, vn);
		} else if (!strcmp(ks, "posture")) {
			rc = walk_posture(p, vn);
		} else if (!strcmp(ks, "events")) {
			rc = walk_events(p, vn);
		} else {
			const struct key *k = top_keys;
			while (k->name && strcmp(k->name, ks))
				k++;
			if (!k->name)
				return fail(p, yaml_document_get_node(p->doc, pr->key),
					    "unknown key \"%.60s\"", ks);
			rc = set_value(p, vn, k, p->c);
		}
		if (rc)
			return rc;
	}
	return 0;
}

int vg_config_parse(const char *name, const char *text, size_t len, struct vg_config **out,
		    char *err, size_t errlen)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	struct vg_config *c = NULL;
	int rc;

	if (err && errlen)
		err[0] = 0;
	rc = vg_config_new_default(&c);
	if (rc) {
		snprintf(err, errlen, "%s: out of memory", name);
		return rc;
	}
	snprintf(c->path, sizeof(c->path), "%s", name);
	if (!yaml_parser_initialize(&parser)) {
		vg_config_free(&c);
		snprintf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc))
		goto bad_yaml;
	/* one document: what follows a "---" would otherwise go unread,
	 * mistakes and all */
	yaml_document_t more;
	if (!yaml_parser_load(&parser, &more)) {
		yaml_document_delete(&doc);
		goto bad_yaml;
	}
	/* a bare "---" loads as an empty scalar: nothing to read there, but
	 * what follows it is read too */
	const yaml_node_t *next = yaml_document_get_root_node(&more);
	bool second = false;
	size_t next_line = 0;
	while (next && next->type == YAML_SCALAR_NODE && !next->data.scalar.length) {
		yaml_document_delete(&more);
		if (!yaml_parser_load(&parser, &more)) {
			yaml_document_delete(&doc);
			goto bad_yaml;
		}
		next = yaml_document_get_root_node(&more);
	}
	second = next != NULL;
	next_line = next ? next->start_mark.line + 1 : 0;
	yaml_document_delete(&more);
	struct parse p = {.doc = &doc, .name = name, .err = err, .errlen = errlen, .c = c};
	const yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (second) {
		snprintf(err, errlen, "%s:%zu: a second YAML document: the file holds one", name,
			 next_line);
		rc = -EINVAL;
	} else {
		rc = root ? walk_top(&p, root) : 0; /* an empty file means the defaults */
	}
	yaml_document_delete(&doc);
	goto out_parser;
bad_yaml:
	snprintf(err, errlen, "%s:%zu: %s%s%s", name, parser.problem_mark.line + 1,
		 parser.problem ? parser.problem : "invalid YAML", parser.context ? " " : "",
		 parser.context ? parser.context : "");
	rc = -EINVAL;
out_parser:
	yaml_parser_delete(&parser);
	if (rc) {
		vg_config_free(&c);
		return rc;
	}
	*out = c;
	return 0;
}

int vg_config_load(const char *path, struct vg_config **out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *text = NULL;
	size_t len = 0, cap = 0;
	int rc = 0;

	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "%s:0: cannot open: %s", path, strerror(-rc));
		return rc;
	}
	for (;;) {
		if (len > VG_CONFIG_FILE_MAX) {
			snprintf(err, errlen, "%s:0: larger than 1 MiB", path);
			rc = -EFBIG;
			goto out;
		}
		if (cap - len < 4096) {
			/* room for one byte past the limit: that byte is the proof */
			char *n = realloc(text, cap + 16384);
			if (!n) {
				rc = -ENOMEM;
				snprintf(err, errlen, "%s:0: out of memory", path);
				goto out;
			}
			text = n;
			cap += 16384;
		}
		size_t got = fread(text + len, 1, cap - len, f);
		len += got;
		if (got == 0) {
			if (ferror(f)) {
				rc = -EIO;
				snprintf(err, errlen, "%s:0: read error", path);
				goto out;
			}
			break;
		}
	}
	rc = vg_config_parse(path, text ? text : "", len, out, err, errlen);
out:
	free(text);
	fclose(f);
	return rc;
}
