/*
 * jsonp: bounded, iterative JSON validation into a flat token array.
 *
 * The parser is a small state machine driven by one explicit stack of open
 * containers (VG_JSONP_DEPTH deep).  Each value gets one token; an array or
 * object token learns where its subtree ends when it closes, which is what
 * lets lookups skip a whole value without walking it.  Nothing is decoded
 * at parse time: strings are only checked (escapes well formed, no raw
 * control characters) and decoded later, on demand, into bounded buffers.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vigil/jsonp.h"

enum want {
	W_VALUE, /* a value must come */
	W_KEY,	 /* a member name must come */
	W_AFTER, /* a value just ended: ',' or a close, or the end */
};

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int vg_jsonp_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Check a string starting after its opening quote; *pos ends after the
 * closing quote.  Sets *esc when it holds escapes.  No length limit of its
 * own: the document's bounds it, and readers decode into bounded buffers,
 * so one long value (a certificate in an environment variable) costs only
 * its own field, never the whole document.
 */
static int scan_string(const char *s, size_t n, size_t *pos, bool *esc)
{
	size_t p = *pos;

	*esc = false;
	while (p < n) {
		unsigned char c = (unsigned char)s[p];

		if (c == '"') {
			*pos = p + 1;
			return 0;
		}
		if (c < 0x20)
			return -EINVAL;
		if (c == '\\') {
			*esc = true;
			if (p + 1 >= n)
				return -EINVAL;
			c = (unsigned char)s[p + 1];
			if (c == 'u') {
				if (p + 6 > n)
					return -EINVAL;
				for (int k = 2; k < 6; k++)
					if (vg_jsonp_hexval(s[p + k]) < 0)
						return -EINVAL;
				p += 6;
				continue;
			}
			if (!strchr("\"\\/bfnrt", c) || c == 0)
				return -EINVAL;
			p += 2;
			continue;
		}
		p++;
	}
	return -EINVAL;
}

static int scan_number(const char *s, size_t n, size_t *pos)
{
	size_t p = *pos;

	if (p < n && s[p] == '-')
		p++;
	if (p >= n || !is_digit(s[p]))
		return -EINVAL;
	if (s[p] == '0') {
		p++;
	} else {
		while (p < n && is_digit(s[p]))
			p++;
	}
	if (p < n && s[p] == '.') {
		p++;
		if (p >= n || !is_digit(s[p]))
			return -EINVAL;
		while (p < n && is_digit(s[p]))
			p++;
	}
	if (p < n && (s[p] == 'e' || s[p] == 'E')) {
		p++;
		if (p < n && (s[p] == '+' || s[p] == '-'))
			p++;
		if (p >= n || !is_digit(s[p]))
			return -EINVAL;
		while (p < n && is_digit(s[p]))
			p++;
	}
	*pos = p;
	return 0;
}

int vg_jsonp_parse(struct vg_jdoc *doc, const char *src, size_t len, struct vg_jtok *toks,
		   unsigned cap)
{
	uint32_t stack[VG_JSONP_DEPTH];
	unsigned sp = 0, nt = 0;
	enum want want = W_VALUE;
	size_t p = 0;
	int err;

	if (!doc || !src || !toks || cap == 0)
		return -EINVAL;
	memset(doc, 0, sizeof(*doc));
	if (len >= UINT32_MAX || cap >= UINT32_MAX)
		return -E2BIG;

	for (;;) {
		while (p < len && is_ws(src[p]))
			p++;
		if (want == W_AFTER) {
			if (sp == 0)
				break;
			if (p >= len)
				return -EINVAL;
			struct vg_jtok *top = &toks[stack[sp - 1]];
			char c = src[p];

			if (c == ',') {
				p++;
				want = top->type == VG_J_OBJ ? W_KEY : W_VALUE;
				continue;
			}
			if ((c == '}' && top->type == VG_J_OBJ) ||
			    (c == ']' && top->type == VG_J_ARR)) {
				p++;
				top->end = nt;
				top->len = (uint32_t)(p - top->start);
				sp--;
				continue;
			}
			return -EINVAL;
		}
		if (p >= len)
			return -EINVAL;
		if (nt >= cap)
			return -E2BIG;

		struct vg_jtok *t = &toks[nt];
		char c = src[p];

		memset(t, 0, sizeof(*t));
		t->start = (uint32_t)p;
		t->parent = sp ? stack[sp - 1] : 0;
		t->end = nt + 1;

		if (want == W_KEY) {
			bool esc;

			if (c != '"')
				return -EINVAL;
			p++;
			err = scan_string(src, len, &p, &esc);
			if (err)
				return err;
			t->type = VG_J_STR;
			t->flags = VG_JF_KEY | (esc ? VG_JF_ESC : 0);
			t->start++;
			t->len = (uint32_t)(p - 1 - t->start);
			nt++;
			while (p < len && is_ws(src[p]))
				p++;
			if (p >= len || src[p] != ':')
				return -EINVAL;
			p++;
			want = W_VALUE;
			continue;
		}

		/* W_VALUE */
		if (c == '{' || c == '[') {
			if (sp >= VG_JSONP_DEPTH)
				return -E2BIG;
			t->type = c == '{' ? VG_J_OBJ : VG_J_ARR;
			stack[sp++] = nt++;
			p++;
			while (p < len && is_ws(src[p]))
				p++;
			if (p < len && src[p] == (c == '{' ? '}' : ']')) {
				want = W_AFTER; /* empty: the close is handled there */
				continue;
			}
			want = c == '{' ? W_KEY : W_VALUE;
			continue;
		}
		if (c == '"') {
			bool esc;

			p++;
			err = scan_string(src, len, &p, &esc);
			if (err)
				return err;
			t->type = VG_J_STR;
			t->flags = esc ? VG_JF_ESC : 0;
			t->start++;
			t->len = (uint32_t)(p - 1 - t->start);
		} else if (c == '-' || is_digit(c)) {
			err = scan_number(src, len, &p);
			if (err)
				return err;
			t->type = VG_J_NUM;
			t->len = (uint32_t)(p - t->start);
		} else if (len - p >= 4 && !memcmp(src + p, "true", 4)) {
			t->type = VG_J_TRUE;
			t->len = 4;
			p += 4;
		} else if (len - p >= 5 && !memcmp(src + p, "false", 5)) {
			t->type = VG_J_FALSE;
			t->len = 5;
			p += 5;
		} else if (len - p >= 4 && !memcmp(src + p, "null", 4)) {
			t->type = VG_J_NULL;
			t->len = 4;
			p += 4;
		} else {
			return -EINVAL;
		}
		nt++;
		want = W_AFTER;
	}
	while (p < len && is_ws(src[p]))
		p++;
	if (p != len)
		return -EINVAL;
	doc->src = src;
	doc->len = len;
	doc->toks = toks;
	doc->ntok = nt;
	return 0;
}

enum vg_jtype vg_jsonp_type(const struct vg_jdoc *doc, int i)
{
	if (!doc || i < 0 || (unsigned)i >= doc->ntok)
		return VG_J_NONE;
	return (enum vg_jtype)doc->toks[i].type;
}

int vg_jsonp_first(const struct vg_jdoc *doc, int parent)
{
	enum vg_jtype t = vg_jsonp_type(doc, parent);

	if (t != VG_J_OBJ && t != VG_J_ARR)
		return -1;
	if (doc->toks[parent].end == (uint32_t)parent + 1)
		return -1;
	return parent + 1;
}

int vg_jsonp_next(const struct vg_jdoc *doc, int i)
{
	const struct vg_jtok *t;
	uint32_t j;

	if (vg_jsonp_type(doc, i) == VG_J_NONE || i == 0)
		return -1;
	t = &doc->toks[i];
	j = t->flags & VG_JF_KEY ? doc->toks[i + 1].end : t->end;
	if (j >= doc->toks[t->parent].end)
		return -1;
	return (int)j;
}

unsigned vg_jsonp_count(const struct vg_jdoc *doc, int parent)
{
	unsigned n = 0;

	for (int i = vg_jsonp_first(doc, parent); i >= 0; i = vg_jsonp_next(doc, i))
		n++;
	return n;
}

static void put_utf8(uint32_t cp, unsigned char *o, unsigned *n)
{
	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		*n = 1;
	} else if (cp < 0x800) {
		o[0] = (unsigned char)(0xC0 | (cp >> 6));
		o[1] = (unsigned char)(0x80 | (cp & 0x3F));
		*n = 2;
	} else if (cp < 0x10000) {
		o[0] = (unsigned char)(0xE0 | (cp >> 12));
		o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (unsigned char)(0x80 | (cp & 0x3F));
		*n = 3;
	} else {
		o[0] = (unsigned char)(0xF0 | (cp >> 18));
		o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
		o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		o[3] = (unsigned char)(0x80 | (cp & 0x3F));
		*n = 4;
	}
}

static uint32_t hex4(const char *s)
{
	uint32_t v = 0;

	for (int k = 0; k < 4; k++)
		v = v << 4 | (uint32_t)vg_jsonp_hexval(s[k]);
	return v;
}

/*
 * Decode the next unit of a validated string body s[0..n) at *p into o:
 * one escape, or one raw UTF-8 group (a lead byte and the continuation bytes
 * that follow it, so a cut never splits a character), or one stray byte.
 * Returns the number of bytes in o (1..4).
 */
static unsigned next_unit(const char *s, size_t n, size_t *p, unsigned char o[4])
{
	unsigned char c = (unsigned char)s[*p];
	unsigned k;

	if (c != '\\') {
		unsigned want = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;

		o[0] = c;
		for (k = 1; k < want && *p + k < n && ((unsigned char)s[*p + k] & 0xC0) == 0x80;
		     k++)
			o[k] = (unsigned char)s[*p + k];
		*p += k;
		return k;
	}
	c = (unsigned char)s[*p + 1];
	if (c != 'u') {
		const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";

		o[0] = (unsigned char)to[strchr(from, c) - from];
		*p += 2;
		return 1;
	}
	uint32_t cp = hex4(s + *p + 2);

	*p += 6;
	if (cp >= 0xD800 && cp < 0xDC00 && *p + 6 <= n && s[*p] == '\\' && s[*p + 1] == 'u') {
		uint32_t lo = hex4(s + *p + 2);

		if (lo >= 0xDC00 && lo < 0xE000) {
			cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			*p += 6;
		}
	}
	if (cp >= 0xD800 && cp < 0xE000)
		cp = 0xFFFD; /* lone surrogate */
	put_utf8(cp, o, &k);
	return k;
}

int vg_jsonp_str(const struct vg_jdoc *doc, int i, char *dst, size_t dstsz, int stop, bool *cut)
{
	const struct vg_jtok *t;
	size_t p = 0, w = 0;
	const char *s;

	if (cut)
		*cut = false;
	if (!dst || dstsz == 0)
		return -EINVAL;
	dst[0] = '\0';
	if (vg_jsonp_type(doc, i) != VG_J_STR)
		return -EINVAL;
	t = &doc->toks[i];
	s = doc->src + t->start;
	while (p < t->len) {
		unsigned char o[4];
		unsigned k = next_unit(s, t->len, &p, o);

		if ((stop >= 0 && o[0] == (unsigned char)stop) || o[0] == 0)
			break;
		if (w + k >= dstsz) {
			if (cut)
				*cut = true;
			break;
		}
		memcpy(dst + w, o, k);
		w += k;
	}
	dst[w] = '\0';
	return (int)w;
}

bool vg_jsonp_eq(const struct vg_jdoc *doc, int i, const char *str)
{
	const struct vg_jtok *t;
	size_t p = 0, w = 0, n;
	const char *s;

	if (vg_jsonp_type(doc, i) != VG_J_STR || !str)
		return false;
	t = &doc->toks[i];
	s = doc->src + t->start;
	n = strlen(str);
	if (!(t->flags & VG_JF_ESC))
		return t->len == n && !memcmp(s, str, n);
	while (p < t->len) {
		unsigned char o[4];
		unsigned k = next_unit(s, t->len, &p, o);

		if (w + k > n || memcmp(str + w, o, k))
			return false;
		w += k;
	}
	return w == n;
}

int vg_jsonp_get(const struct vg_jdoc *doc, int obj, const char *key)
{
	if (vg_jsonp_type(doc, obj) != VG_J_OBJ)
		return -1;
	for (int k = vg_jsonp_first(doc, obj); k >= 0; k = vg_jsonp_next(doc, k))
		if (vg_jsonp_eq(doc, k, key))
			return k + 1;
	return -1;
}

int vg_jsonp_path(const struct vg_jdoc *doc, int obj, const char *path)
{
	char part[128];
	const char *p = path;
	int cur = obj;

	if (!path)
		return -1;
	while (cur >= 0) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);

		if (n >= sizeof(part))
			return -1;
		memcpy(part, p, n);
		part[n] = '\0';
		cur = vg_jsonp_get(doc, cur, part);
		if (!dot)
			return cur;
		p = dot + 1;
	}
	return -1;
}

int vg_jsonp_bool(const struct vg_jdoc *doc, int i, bool *out)
{
	enum vg_jtype t = vg_jsonp_type(doc, i);

	if (t != VG_J_TRUE && t != VG_J_FALSE)
		return -EINVAL;
	*out = t == VG_J_TRUE;
	return 0;
}

int vg_jsonp_i64(const struct vg_jdoc *doc, int i, int64_t *out)
{
	const struct vg_jtok *t;
	const char *s;
	bool neg = false;
	uint64_t v = 0, lim;
	uint32_t k = 0;

	if (vg_jsonp_type(doc, i) != VG_J_NUM)
		return -EINVAL;
	t = &doc->toks[i];
	s = doc->src + t->start;
	if (s[0] == '-') {
		neg = true;
		k = 1;
	}
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; k < t->len; k++) {
		if (!is_digit(s[k]))
			return -EINVAL; /* fraction or exponent */
		unsigned d = (unsigned)(s[k] - '0');

		if (v > (lim - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	if (neg)
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	else
		*out = (int64_t)v;
	return 0;
}

int vg_jsonp_parse_alloc(struct vg_jdoc *doc, const char *src, size_t len)
{
	/* a token takes two bytes at least ("1," or "[]"): len / 2 + 2 is
	 * room for any document, and what is not used is never touched */
	size_t n = len / 2 + 2 < VG_JSONP_TOK_MAX ? len / 2 + 2 : VG_JSONP_TOK_MAX;
	struct vg_jtok *t;
	int err;

	if (!doc)
		return -EINVAL;
	memset(doc, 0, sizeof(*doc));
	t = calloc(n, sizeof(*t));
	if (!t)
		return -ENOMEM;
	err = vg_jsonp_parse(doc, src, len, t, (unsigned)n);
	if (err) {
		free(t);
		memset(doc, 0, sizeof(*doc));
	}
	return err;
}

void vg_jsonp_free(struct vg_jdoc *doc)
{
	if (!doc)
		return;
	free(doc->toks);
	memset(doc, 0, sizeof(*doc));
}

int vg_jsonp_read_file(const char *root, const char *rel, size_t max, char **out, size_t *len)
{
	char part[256];
	const char *p = rel;
	char *buf = NULL;
	struct stat st;
	size_t got = 0;
	int fd, err = 0;

	if (!root || !rel || !out || !len || *rel == '/' || *rel == '\0')
		return -EINVAL;
	*out = NULL;
	*len = 0;
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		int nfd;

		if (n == 0 || n >= sizeof(part)) {
			err = -EINVAL;
			goto out;
		}
		memcpy(part, p, n);
		part[n] = '\0';
		if (!strcmp(part, "..") || !strcmp(part, ".")) {
			err = -EINVAL;
			goto out;
		}
		nfd = openat(fd, part,
			     O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK |
				     (slash ? O_DIRECTORY : 0));
		if (nfd < 0) {
			/* O_NOFOLLOW gives ELOOP for a final symlink; a symlinked
			 * directory with O_DIRECTORY gives ENOTDIR: same cause */
			err = errno == ENOTDIR && slash ? -ELOOP : -errno;
			goto out;
		}
		close(fd);
		fd = nfd;
		if (!slash)
			break;
		p = slash + 1;
	}
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -EINVAL;
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		err = -EFBIG;
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	/* the file may grow between fstat and read: never read past the cap */
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return err;
}

int vg_jsonp_parse_object(struct vg_jdoc *doc, const char *src, size_t len)
{
	int err = vg_jsonp_parse_alloc(doc, src, len);

	if (err)
		return err;
	if (vg_jsonp_type(doc, 0) != VG_J_OBJ) {
		vg_jsonp_free(doc);
		return -EINVAL;
	}
	return 0;
}
