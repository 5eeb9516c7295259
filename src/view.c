/*
 * The live view.  Fields are taken from the JSON line with the bounded
 * reader (jsonp), copied into fixed arrays, then escaped for the terminal
 * at render time.  Truncation and padding count display columns: two for
 * the East Asian wide and fullwidth blocks and the emoji blocks, none for
 * combining marks and zero-width characters, one for the rest (what a
 * terminal does for the scripts met in names and command lines, without
 * a locale, which a static binary does not have).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vigil/json.h"
#include "vigil/jsonp.h"
#include "vigil/view.h"

#define VIEW_TOKENS 2048

static void get_str(const struct vg_jdoc *d, const char *path, char *dst, size_t n)
{
	int i = vg_jsonp_path(d, 0, path);
	if (vg_jsonp_type(d, i) == VG_J_STR)
		vg_jsonp_str(d, i, dst, n, -1, NULL);
}

static int64_t get_i64(const struct vg_jdoc *d, const char *path)
{
	int64_t v = 0;
	vg_jsonp_i64(d, vg_jsonp_path(d, 0, path), &v);
	return v;
}

/* appends " TEXT" from the string at path, if any */
static void add_field(const struct vg_jdoc *d, int i, char *dst, size_t n, size_t *o)
{
	bool cut = false;
	int k;

	if (vg_jsonp_type(d, i) != VG_J_STR || *o + 2 >= n)
		return;
	if (*o)
		dst[(*o)++] = ' ';
	k = vg_jsonp_str(d, i, dst + *o, n - *o, -1, &cut);
	if (k > 0)
		*o += (size_t)k;
	dst[*o] = '\0';
}

/*
 * A compact raw event has no message: "ACTION EXECUTABLE ARGS..." for an
 * exec, "ACTION IP:PORT RESULT" for a connect, "ACTION FSTYPE TARGET
 * RESULT" for a mount, the action alone otherwise.
 */
static void compact_summary(const struct vg_jdoc *d, char *dst, size_t n)
{
	size_t o = 0;
	int i;

	dst[0] = '\0';
	add_field(d, vg_jsonp_path(d, 0, "event.action"), dst, n, &o);
	if (!o)
		return;
	if (!strcmp(dst, "exec")) {
		add_field(d, vg_jsonp_path(d, 0, "process.executable"), dst, n, &o);
		i = vg_jsonp_path(d, 0, "process.args");
		/* argv[0] is mostly the executable again */
		if (vg_jsonp_type(d, i) == VG_J_ARR && vg_jsonp_first(d, i) >= 0)
			for (int a = vg_jsonp_next(d, vg_jsonp_first(d, i)); a >= 0;
			     a = vg_jsonp_next(d, a))
				add_field(d, a, dst, n, &o);
		return;
	}
	i = vg_jsonp_path(d, 0, "destination.ip");
	if (i >= 0) {
		int64_t port = get_i64(d, "destination.port");
		add_field(d, i, dst, n, &o);
		if (o + 8 < n) {
			int w = snprintf(dst + o, n - o, ":%lld", (long long)port);
			o = w > 0 && (size_t)w < n - o ? o + (size_t)w : o;
		}
		add_field(d, vg_jsonp_path(d, 0, "vigil.connect.result"), dst, n, &o);
		return;
	}
	add_field(d, vg_jsonp_path(d, 0, "vigil.mount.fstype"), dst, n, &o);
	add_field(d, vg_jsonp_path(d, 0, "vigil.mount.target"), dst, n, &o);
	add_field(d, vg_jsonp_path(d, 0, "vigil.mount.result_name"), dst, n, &o);
}

static int view_doc(const struct vg_jdoc *d, struct vg_view *v);

int vg_view_from_json(const char *line, size_t len, struct vg_view *v)
{
	static __thread struct vg_jtok toks[VIEW_TOKENS];
	struct vg_jdoc d;
	int err;

	memset(v, 0, sizeof(*v));
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	err = vg_jsonp_parse(&d, line, len, toks, VIEW_TOKENS);
	if (err != -E2BIG)
		return err ? -EINVAL : view_doc(&d, v);
	/* more values than a usual line (an exec of a thousand empty
	 * arguments, on an alert): rare, the tokens are allocated */
	if (vg_jsonp_parse_alloc(&d, line, len))
		return -EINVAL;
	err = view_doc(&d, v);
	vg_jsonp_free(&d);
	return err;
}

static int view_doc(const struct vg_jdoc *dp, struct vg_view *v)
{
	const struct vg_jdoc d = *dp;

	if (vg_jsonp_type(&d, 0) != VG_J_OBJ)
		return -EINVAL;

	char ts[48] = "";
	get_str(&d, "@timestamp", ts, sizeof(ts));
	/* 2026-12-04T13:52:23.123456789Z -> 13:52:23.123 */
	if (strlen(ts) >= 23 && ts[10] == 'T')
		snprintf(v->time, sizeof(v->time), "%.12s", ts + 11);
	get_str(&d, "event.kind", v->kind, sizeof(v->kind));
	/* incidents are ECS alerts of their own dataset */
	char dataset[16] = "";
	get_str(&d, "event.dataset", dataset, sizeof(dataset));
	if (!strcmp(dataset, "incident"))
		snprintf(v->kind, sizeof(v->kind), "incident");
	get_str(&d, "vigil.severity", v->severity, sizeof(v->severity));
	get_str(&d, "container.name", v->where, sizeof(v->where));
	if (!v->where[0]) {
		char id[80] = "";
		get_str(&d, "container.id", id, sizeof(id));
		snprintf(v->where, sizeof(v->where), "%.12s", id[0] ? id : "host");
	}
	get_str(&d, "process.name", v->proc, sizeof(v->proc));
	v->pid = (uint32_t)get_i64(&d, "process.pid");

	char rule[64] = "", msg[sizeof(v->summary)] = "";
	get_str(&d, "rule.name", rule, sizeof(rule));
	get_str(&d, "message", msg, sizeof(msg));
	if (!msg[0] && !strcmp(v->kind, "event"))
		compact_summary(&d, msg, sizeof(msg));
	if (rule[0])
		snprintf(v->summary, sizeof(v->summary), "%s: %s", rule, msg);
	else
		memcpy(v->summary, msg, sizeof(msg));
	get_str(&d, "vigil.incident.chain", v->chain, sizeof(v->chain));
	return 0;
}

static const char *sev_color(const char *sev)
{
	if (!strcmp(sev, "critical"))
		return "\033[1;97;41m"; /* bold white on red */
	if (!strcmp(sev, "high"))
		return "\033[1;31m";
	if (!strcmp(sev, "medium") || !strcmp(sev, "warning")) /* a rule's medium */
		return "\033[33m";
	if (!strcmp(sev, "low"))
		return "\033[36m";
	if (!sev[0])
		return "\033[2m"; /* raw events: dimmed */
	return "";
}

struct range {
	uint32_t lo, hi;
};

static const struct range wide[] = {
	{0x1100, 0x115f},   {0x231a, 0x231b},	{0x2329, 0x232a},   {0x23e9, 0x23ec},
	{0x2614, 0x2615},   {0x2648, 0x2653},	{0x26a1, 0x26a1},   {0x26bd, 0x26be},
	{0x2705, 0x2705},   {0x2728, 0x2728},	{0x274c, 0x274c},   {0x2753, 0x2755},
	{0x2757, 0x2757},   {0x2b50, 0x2b50},	{0x2e80, 0x303e},   {0x3041, 0x33ff},
	{0x3400, 0x4dbf},   {0x4e00, 0x9fff},	{0xa000, 0xa4cf},   {0xa960, 0xa97f},
	{0xac00, 0xd7a3},   {0xf900, 0xfaff},	{0xfe10, 0xfe19},   {0xfe30, 0xfe6f},
	{0xff00, 0xff60},   {0xffe0, 0xffe6},	{0x1f004, 0x1f004}, {0x1f200, 0x1f251},
	{0x1f300, 0x1f64f}, {0x1f680, 0x1f6ff}, {0x1f900, 0x1f9ff}, {0x1fa70, 0x1faff},
	{0x20000, 0x3fffd},
};

static const struct range zero[] = {
	{0x0300, 0x036f}, {0x0483, 0x0489}, {0x0591, 0x05bd}, {0x0610, 0x061a}, {0x064b, 0x065f},
	{0x1ab0, 0x1aff}, {0x1dc0, 0x1dff}, {0x200b, 0x200f}, {0x202a, 0x202e}, {0x2060, 0x2064},
	{0x20d0, 0x20ff}, {0xfe00, 0xfe0f}, {0xfe20, 0xfe2f}, {0xfeff, 0xfeff},
};

static bool in_ranges(uint32_t cp, const struct range *r, size_t n)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (cp < r[mid].lo)
			hi = mid;
		else if (cp > r[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

/*
 * The character at s (n bytes left): its length in bytes into *len and
 * its display columns.  A byte that starts no valid sequence is one
 * column of one byte (the escaper has replaced such bytes already).
 */
static unsigned char_cols(const char *s, size_t n, size_t *len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t need = u[0] < 0x80 ? 1 : u[0] >= 0xf0 ? 4 : u[0] >= 0xe0 ? 3 : u[0] >= 0xc0 ? 2 : 0;
	uint32_t cp = need == 1 ? u[0] : need ? u[0] & (0x7f >> need) : 0;

	if (need <= 1 || need > n) {
		*len = 1;
		return 1;
	}
	for (size_t i = 1; i < need; i++) {
		if ((u[i] & 0xc0) != 0x80) {
			*len = 1;
			return 1;
		}
		cp = cp << 6 | (u[i] & 0x3f);
	}
	*len = need;
	if (in_ranges(cp, zero, sizeof(zero) / sizeof(zero[0])))
		return 0;
	return in_ranges(cp, wide, sizeof(wide) / sizeof(wide[0])) ? 2 : 1;
}

struct out {
	char *p;
	size_t n, len;
	unsigned cols;	/* display columns written */
	unsigned width; /* 0 = unlimited */
};

static void put(struct out *o, const char *s, size_t n, bool counts)
{
	size_t len;

	for (size_t i = 0; i < n && o->len + 1 < o->n; i += len) {
		unsigned w = char_cols(s + i, n - i, &len);

		if (counts) {
			/* a character goes only where the ellipsis still fits after it */
			if (o->width && o->cols + w >= o->width) {
				if (o->cols < o->width && o->len + 4 < o->n) {
					memcpy(o->p + o->len, "\xe2\x80\xa6", 3); /* … */
					o->len += 3;
				}
				o->cols = o->width; /* full: nothing more, no second ellipsis */
				return;
			}
			o->cols += w;
		}
		if (o->len + len >= o->n)
			return; /* never half a character */
		memcpy(o->p + o->len, s + i, len);
		o->len += len;
	}
}

static void put_esc(struct out *o, const char *s)
{
	char tmp[4 * 768 + 1];
	size_t n = vg_term_escape(tmp, sizeof(tmp), s, strlen(s));
	put(o, tmp, n, true);
}

static void put_col(struct out *o, const char *s, unsigned w)
{
	char tmp[4 * 72 + 1];
	size_t n = vg_term_escape(tmp, sizeof(tmp), s, strlen(s)), len;
	unsigned cols = 0;

	for (size_t i = 0; i < n; i += len)
		cols += char_cols(tmp + i, n - i, &len);
	if (cols > w) {
		/* cut to at most w-1 columns and mark the cut */
		size_t i = 0;
		unsigned c = 0, cw;

		while (i < n && c + (cw = char_cols(tmp + i, n - i, &len)) <= w - 1) {
			c += cw;
			i += len;
		}
		put(o, tmp, i, true);
		put(o, "\xe2\x80\xa6", 3, true);
		cols = c + 1;
	} else {
		put(o, tmp, n, true);
	}
	for (; cols < w + 1; cols++)
		put(o, " ", 1, true);
}

size_t vg_view_render(char *dst, size_t n, const struct vg_view *v, const struct vg_view_opts *opt)
{
	struct out o = {.p = dst, .n = n, .width = opt->width};
	const char *color = opt->color ? sev_color(v->severity) : "";
	bool is_incident = !strcmp(v->kind, "incident");

	if (n == 0)
		return 0;
	if (color[0])
		put(&o, color, strlen(color), false);
	put_col(&o, v->time[0] ? v->time : "-", 12);
	put_col(&o, v->severity[0] ? v->severity : "event", 8);
	put_col(&o, v->where, 20);
	char pp[80];
	if (v->proc[0] || v->pid)
		snprintf(pp, sizeof(pp), "%s[%u]", v->proc[0] ? v->proc : "?", v->pid);
	else
		snprintf(pp, sizeof(pp), "-"); /* posture, incidents, stats */
	put_col(&o, pp, 22);
	if (is_incident && v->chain[0]) {
		put(&o, "incident: ", 10, true);
		put_esc(&o, v->chain);
	} else {
		put_esc(&o, v->summary);
	}
	if (color[0])
		put(&o, "\033[0m", 4, false);
	if (o.len + 1 < o.n)
		o.p[o.len++] = '\n';
	o.p[o.len] = '\0';
	return o.len;
}
