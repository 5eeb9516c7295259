/*
 * json: bounded JSON writer and terminal escaping (see json.h).
 *
 * This is the hot path of every output line, so it avoids snprintf and
 * per-byte function calls.  Strings are scanned for runs of bytes that need
 * no attention (printable ASCII other than '"' and '\\'), which are copied
 * with one memcpy; only the remaining bytes go through the slow path.
 *
 * UTF-8 is validated per RFC 3629 (the table of well-formed sequences in
 * Unicode ch. 3, table 3-7): no overlongs (C0, C1, E0 80..9F, F0 80..8F),
 * no surrogates (ED A0..BF), nothing above U+10FFFF (F4 90.., F5..FF).
 * An ill-formed sequence is replaced by one U+FFFD per "maximal subpart"
 * (the longest prefix that could still have become valid), or per single
 * byte when not even its lead byte is valid, as Unicode recommends.
 *
 * The buffer keeps one byte in reserve for a terminating NUL, written after
 * every operation, so b->p is always a C string of b->len bytes.
 */
#include <string.h>

#include "vigil/json.h"

/* byte classes for the string scanners */
enum {
	C_PLAIN = 0, /* printable ASCII, copied as is */
	C_CTRL = 1,  /* C0 control */
	C_QUOTE = 2, /* '"' */
	C_BSLASH = 3,
	C_DEL = 4,  /* 0x7f: fine in JSON, escaped on terminals */
	C_HIGH = 5, /* >= 0x80: UTF-8 lead or junk */
};

static const unsigned char byte_class[256] = {
	[0x00 ... 0x1f] = C_CTRL, ['"'] = C_QUOTE,	    ['\\'] = C_BSLASH,
	[0x7f] = C_DEL,		  [0x80 ... 0xff] = C_HIGH,
};

static const char hexdig[] = "0123456789abcdef";

/* \uXXXX for a BMP code point into o[6]; returns 6 */
static size_t u_escape(char *o, uint32_t cp)
{
	o[0] = '\\';
	o[1] = 'u';
	o[2] = hexdig[cp >> 12 & 15];
	o[3] = hexdig[cp >> 8 & 15];
	o[4] = hexdig[cp >> 4 & 15];
	o[5] = hexdig[cp & 15];
	return 6;
}

/*
 * Length of the well-formed UTF-8 sequence at s (2..4), or the negative
 * length of its maximal ill-formed subpart (-1..-3).  s[0] >= 0x80, n >= 1.
 * On success *cp gets the code point.
 */
static int utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xbf;
	int need, i;
	uint32_t v;

	if (c >= 0xc2 && c <= 0xdf) {
		need = 1;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 2;
		v = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		v = c & 0x07;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* > U+10FFFF */
	} else {
		return -1; /* continuation byte, C0/C1, F5..FF */
	}
	for (i = 1; i <= need; i++) {
		if ((size_t)i >= n || s[i] < lo || s[i] > hi)
			return -i;
		v = v << 6 | (s[i] & 0x3f);
		lo = 0x80;
		hi = 0xbf;
	}
	*cp = v;
	return need + 1;
}

/* ---- buffer ---------------------------------------------------------- */

void vg_buf_init(struct vg_buf *b, char *mem, size_t cap)
{
	b->p = mem;
	b->cap = cap;
	vg_buf_reset(b);
}

void vg_buf_reset(struct vg_buf *b)
{
	b->len = 0;
	b->overflow = b->cap == 0;
	b->need_comma = false;
	if (b->cap)
		b->p[0] = '\0';
}

/* room for n more bytes plus the NUL?  Marks overflow when not. */
static inline bool room(struct vg_buf *b, size_t n)
{
	if (b->overflow)
		return false;
	if (n >= b->cap - b->len) {
		b->overflow = true;
		b->p[b->len] = '\0';
		return false;
	}
	return true;
}

/*
 * Most copies are a few bytes (keys, numbers, short names): done with two
 * overlapping fixed-size moves the compiler inlines, instead of a call into
 * libc's memmove per field.  Reads stay within [s, s + n).
 */
static inline void copy_n(char *d, const char *s, size_t n)
{
	if (n > 16) {
		memcpy(d, s, n);
	} else if (n >= 8) {
		uint64_t a, z;
		memcpy(&a, s, 8);
		memcpy(&z, s + n - 8, 8);
		memcpy(d, &a, 8);
		memcpy(d + n - 8, &z, 8);
	} else if (n >= 4) {
		uint32_t a, z;
		memcpy(&a, s, 4);
		memcpy(&z, s + n - 4, 4);
		memcpy(d, &a, 4);
		memcpy(d + n - 4, &z, 4);
	} else if (n) {
		d[0] = s[0];
		d[n / 2] = s[n / 2];
		d[n - 1] = s[n - 1];
	}
}

static inline void put(struct vg_buf *b, const void *s, size_t n)
{
	if (room(b, n)) {
		copy_n(b->p + b->len, s, n);
		b->len += n;
	}
}

static inline void putc1(struct vg_buf *b, char c)
{
	if (room(b, 1))
		b->p[b->len++] = c;
}

static inline void term(struct vg_buf *b)
{
	if (!b->overflow)
		b->p[b->len] = '\0';
}

void vg_buf_raw(struct vg_buf *b, const char *s, size_t n)
{
	put(b, s, n);
	term(b);
}

static inline void comma(struct vg_buf *b)
{
	if (b->need_comma)
		putc1(b, ',');
}

/* ---- structure ------------------------------------------------------- */

static void open_char(struct vg_buf *b, char c)
{
	size_t len = b->len, k = b->need_comma;

	if (!b->overflow && 3 < b->cap - len) {
		b->p[len] = ',';
		b->p[len + k] = c;
		b->p[len + k + 1] = '\0';
		b->len = len + k + 1;
		b->need_comma = false;
		return;
	}
	comma(b);
	putc1(b, c);
	term(b);
	b->need_comma = false;
}

static void close_char(struct vg_buf *b, char c)
{
	size_t len = b->len;

	if (!b->overflow && 2 < b->cap - len) {
		b->p[len] = c;
		b->p[len + 1] = '\0';
		b->len = len + 1;
		b->need_comma = true;
		return;
	}
	putc1(b, c);
	term(b);
	b->need_comma = true;
}

void vg_json_obj_open(struct vg_buf *b)
{
	open_char(b, '{');
}

void vg_json_obj_close(struct vg_buf *b)
{
	close_char(b, '}');
}

void vg_json_arr_open(struct vg_buf *b)
{
	open_char(b, '[');
}

void vg_json_arr_close(struct vg_buf *b)
{
	close_char(b, ']');
}

void vg_json_key_n(struct vg_buf *b, const char *key, size_t n)
{
	comma(b);
	if (room(b, n + 3)) {
		char *o = b->p + b->len;

		o[0] = '"';
		copy_n(o + 1, key, n);
		o[n + 1] = '"';
		o[n + 2] = ':';
		b->len += n + 3;
	}
	term(b);
	b->need_comma = false;
}

/* ---- strings --------------------------------------------------------- */

/* Code points a terminal shows as nothing, or that reorder what follows:
 * controls, bidi marks, and the invisible characters a name could hide
 * behind (Unicode category Cf, the Hangul fillers, variation selectors,
 * the combining grapheme joiner), in order. */
static bool cp_unsafe(uint32_t cp)
{
	static const struct {
		uint32_t lo, hi;
	} r[] = {
		{0x80, 0x9f},				/* C1 controls */
		{0xad, 0xad},				/* soft hyphen */
		{0x34f, 0x34f},				/* combining grapheme joiner */
		{0x600, 0x605},				/* Arabic number signs */
		{0x61c, 0x61c},				/* Arabic letter mark */
		{0x6dd, 0x6dd},				/* Arabic end of ayah */
		{0x70f, 0x70f},				/* Syriac abbreviation mark */
		{0x890, 0x891},				/* Arabic pound and piastre marks */
		{0x8e2, 0x8e2},				/* Arabic disputed end of ayah */
		{0x115f, 0x1160},			/* Hangul fillers */
		{0x17b4, 0x17b5},			/* Khmer inherent vowels */
		{0x180e, 0x180e},			/* Mongolian vowel separator */
		{0x200b, 0x200f},			/* zero width, LRM/RLM */
		{0x2028, 0x202e},			/* separators, bidi embeddings */
		{0x2060, 0x206f},			/* word joiner .. bidi isolates */
		{0x3164, 0x3164},			/* Hangul filler */
		{0xfe00, 0xfe0f},			/* variation selectors */
		{0xfeff, 0xfeff},			/* zero-width no-break space */
		{0xffa0, 0xffa0},			/* halfwidth Hangul filler */
		{0xfff9, 0xfffb},			/* interlinear annotation */
		{0x110bd, 0x110bd},			/* Kaithi number sign */
		{0x110cd, 0x110cd}, {0x13430, 0x1343f}, /* Egyptian hieroglyph format controls */
		{0x1bca0, 0x1bca3},			/* shorthand format controls */
		{0x1d173, 0x1d17a},			/* musical symbol format controls */
		{0xe0000, 0xe007f},			/* tags */
		{0xe0100, 0xe01ef},			/* variation selectors supplement */
	};

	if (cp < 0x80)
		return false; /* the common case: one compare */
	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]) && cp >= r[i].lo; i++)
		if (cp <= r[i].hi)
			return true;
	return false;
}

/*
 * Valid, but escaped anyway: C1 controls (a terminal showing the feed with
 * `tail -f` would obey U+009B CSI), U+2028/U+2029, which JavaScript and
 * many line splitters take for line breaks, and the rest of cp_unsafe()
 * (a bidi override in a name would reorder a terminal's line).
 */
static inline bool cp_json_escaped(uint32_t cp)
{
	return cp <= 0x9f || cp_unsafe(cp);
}

static const char fffd[3] = {(char)0xef, (char)0xbf, (char)0xbd};

/* The two-character escape of control byte c ('n' for \n), 0 when it has
 * none; JSON also has \b and \f, the terminal shows those as \xNN. */
static char short_escape(unsigned char c, bool json)
{
	switch (c) {
	case '\n':
		return 'n';
	case '\t':
		return 't';
	case '\r':
		return 'r';
	case '\b':
		return json ? 'b' : 0;
	case '\f':
		return json ? 'f' : 0;
	default:
		return 0;
	}
}

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/*
 * Does any of the 8 bytes in w need attention: < 0x20, '"', '\\' or
 * >= 0x80?  Each test is the exact "some byte is zero / below n" bit trick,
 * so the union is exact too (no false positives).
 */
static inline bool word_needs_care(uint64_t w)
{
	uint64_t q = w ^ (ONES * '"'), bs = w ^ (ONES * '\\');
	uint64_t t = ((w - ONES * 0x20) & ~w) | ((q - ONES) & ~q) | ((bs - ONES) & ~bs) | w;
	return (t & HIGHS) != 0;
}

/* bytes from s that are copied as they are: eight at a time, then singly */
static inline size_t plain_run(const unsigned char *s, size_t n)
{
	size_t j = 0;
	uint64_t w;

	while (j + 8 <= n) {
		memcpy(&w, s + j, 8);
		if (word_needs_care(w))
			break;
		j += 8;
	}
	/* the last few bytes (most names are that short) as one word too:
	 * overlapping loads that stay within [s, s + n) */
	if (j < n && j + 8 > n) {
		if (n >= 8) {
			memcpy(&w, s + n - 8, 8);
			if (!word_needs_care(w))
				return n;
		} else if (n >= 4) {
			uint32_t lo, hi;
			memcpy(&lo, s, 4);
			memcpy(&hi, s + n - 4, 4);
			if (!word_needs_care((uint64_t)hi << 32 | lo))
				return n;
		}
	}
	while (j < n && (byte_class[s[j]] == C_PLAIN || byte_class[s[j]] == C_DEL))
		j++;
	return j;
}

/*
 * Escape the units (a byte, an escape or a UTF-8 sequence) of s that start
 * before limit into o, unchecked: o has room for 6 bytes per input byte of
 * those units (\u00XX is the widest), at most 6 * (limit + 3).  A unit may
 * read past limit, never past n.  Returns the end of the output and puts
 * the input consumed in *done.
 */
static char *esc_run(char *o, const unsigned char *s, size_t n, size_t limit, size_t *done)
{
	size_t i = 0;

	while (i < limit) {
		size_t j;
		int k;
		uint32_t cp;

		j = i + plain_run(s + i, limit - i);
		copy_n(o, (const char *)s + i, j - i);
		o += j - i;
		i = j;
		if (i >= limit)
			break;
		switch (byte_class[s[i]]) {
		case C_QUOTE:
		case C_BSLASH:
			o[0] = '\\';
			o[1] = (char)s[i];
			o += 2;
			i++;
			break;
		case C_CTRL:
			o[0] = '\\';
			o[1] = short_escape(s[i], true);
			o += o[1] ? 2 : u_escape(o, s[i]);
			i++;
			break;
		default: /* C_HIGH */
			k = utf8_seq(s + i, n - i, &cp);
			if (k > 0 && !cp_json_escaped(cp)) {
				copy_n(o, (const char *)s + i, (size_t)k);
				o += k;
				i += (size_t)k;
			} else if (k > 0) {
				if (cp > 0xffff) { /* a surrogate pair: 12 bytes for 4 */
					cp -= 0x10000;
					o += u_escape(o, 0xd800 | cp >> 10);
					o += u_escape(o, 0xdc00 | (cp & 0x3ff));
				} else {
					o += u_escape(o, cp);
				}
				i += (size_t)k;
			} else {
				copy_n(o, fffd, sizeof(fffd));
				o += sizeof(fffd);
				i += (size_t)-k;
			}
			break;
		}
	}
	*done = i;
	return o;
}

/* near the end of the buffer: a few units at a time, each piece whole */
static void str_body(struct vg_buf *b, const unsigned char *s, size_t n)
{
	char tmp[6 * (16 + 3)];
	size_t i = 0, done;

	while (i < n && !b->overflow) {
		char *e = esc_run(tmp, s + i, n - i, n - i < 16 ? n - i : 16, &done);

		put(b, tmp, (size_t)(e - tmp));
		i += done;
	}
}

void vg_json_str(struct vg_buf *b, const char *s, size_t n)
{
	size_t len = b->len, c = b->need_comma;

	/* the usual case: room for the worst, escaped straight into place */
	if (!b->overflow && n < b->cap && 6 * n + 3 + c < b->cap - len) {
		char *o = b->p + len, *start = o, *e;
		size_t done;

		o[0] = ',';
		o += c;
		*o++ = '"';
		e = s ? esc_run(o, (const unsigned char *)s, n, n, &done) : o;
		e[0] = '"';
		e[1] = '\0';
		b->len = len + (size_t)(e + 1 - start);
		b->need_comma = true;
		return;
	}
	comma(b);
	putc1(b, '"');
	if (s)
		str_body(b, (const unsigned char *)s, n);
	putc1(b, '"');
	term(b);
	b->need_comma = true;
}

void vg_json_cstr(struct vg_buf *b, const char *s)
{
	if (!s) {
		vg_json_null(b);
		return;
	}
	vg_json_str(b, s, strlen(s));
}

/* ---- numbers and literals -------------------------------------------- */

/* "00" to "99": numbers are written two digits per division */
static const char digit_pairs[201] =
	"00010203040506070809101112131415161718192021222324252627282930"
	"31323334353637383940414243444546474849505152535455565758596061"
	"62636465666768697071727374757677787980818283848586878889909192"
	"93949596979899";

/* the two digits of v < 100 into o[0..1] */
static void dig2(char *o, unsigned v)
{
	memcpy(o, digit_pairs + 2 * v, 2);
}

/* decimal digits of v at the end of a 20-byte buffer; returns the start */
static char *u64_digits(char end[20], uint64_t v)
{
	char *p = end + 20;

	while (v >= 100) {
		p -= 2;
		dig2(p, (unsigned)(v % 100));
		v /= 100;
	}
	if (v >= 10) {
		p -= 2;
		dig2(p, (unsigned)v);
	} else {
		*--p = (char)('0' + v);
	}
	return p;
}

static void literal(struct vg_buf *b, const char *s, size_t n)
{
	size_t len = b->len, k = b->need_comma;

	if (!b->overflow && n + 2 < b->cap - len) {
		char *o = b->p + len;

		o[0] = ',';
		copy_n(o + k, s, n);
		o[k + n] = '\0';
		b->len = len + k + n;
		b->need_comma = true;
		return;
	}
	comma(b);
	put(b, s, n);
	term(b);
	b->need_comma = true;
}

void vg_json_u64(struct vg_buf *b, uint64_t v)
{
	char tmp[20], *p = u64_digits(tmp, v);

	literal(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

void vg_json_i64(struct vg_buf *b, int64_t v)
{
	char tmp[21], *p;
	uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	p = u64_digits(tmp + 1, mag);
	if (v < 0)
		*--p = '-';
	literal(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

void vg_json_bool(struct vg_buf *b, bool v)
{
	if (v)
		literal(b, "true", 4);
	else
		literal(b, "false", 5);
}

void vg_json_null(struct vg_buf *b)
{
	literal(b, "null", 4);
}

void vg_json_raw(struct vg_buf *b, const char *s, size_t n)
{
	literal(b, s, n);
}

/* ---- time ------------------------------------------------------------ */

/*
 * Proleptic Gregorian date of a day count since 1970-01-01, by eras of
 * 400 years (146097 days), counting years from March so the leap day is
 * the last day of the year.  Valid for every uint64 ns timestamp.
 */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era, yr;
	unsigned doe, yoe, doy, mp;

	z += 719468; /* days from 0000-03-01 to 1970-01-01 */
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	yr = (int64_t)yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = yr + (*m <= 2);
}

/* "YYYY-MM-DDTHH:MM:SS" of secs into o[1..19] */
static void time_secs(char *o, uint64_t secs)
{
	uint32_t sod = (uint32_t)(secs % 86400);
	int64_t y;
	unsigned m, d;

	civil_from_days((int64_t)(secs / 86400), &y, &m, &d);
	/* uint64 ns reach year 2554: always four digits */
	o[1] = (char)('0' + (y / 1000) % 10);
	o[2] = (char)('0' + (y / 100) % 10);
	o[3] = (char)('0' + (y / 10) % 10);
	o[4] = (char)('0' + y % 10);
	o[5] = '-';
	dig2(o + 6, m);
	o[8] = '-';
	dig2(o + 9, d);
	o[11] = 'T';
	dig2(o + 12, sod / 3600);
	o[14] = ':';
	dig2(o + 15, sod / 60 % 60);
	o[17] = ':';
	dig2(o + 18, sod % 60);
}

void vg_json_time(struct vg_buf *b, uint64_t wall_ns)
{
	/* records come in time order: the date and time of day change once
	 * a second, only the nanoseconds are formatted per record */
	static _Thread_local uint64_t last_secs = UINT64_MAX;
	static _Thread_local char last[20];
	char o[32];
	uint64_t secs = wall_ns / 1000000000ull;
	uint32_t ns = (uint32_t)(wall_ns % 1000000000ull);
	unsigned i;

	if (secs != last_secs) {
		time_secs(last, secs);
		last_secs = secs;
	}
	memcpy(o, last, sizeof(last));
	o[0] = '"';
	o[20] = '.';
	for (i = 28; i >= 22; i -= 2) {
		dig2(o + i, ns % 100);
		ns /= 100;
	}
	o[21] = (char)('0' + ns);
	o[30] = 'Z';
	o[31] = '"';
	literal(b, o, 32);
}

/* ---- terminal -------------------------------------------------------- */

/* Text for a terminal: controls and cp_unsafe() code points (what would
 * reorder or hide text, as in Trojan Source) escaped, invalid UTF-8 as
 * \xNN, never a character or an escape cut in half. */
size_t vg_term_escape(char *dst, size_t dstsz, const char *src, size_t n)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t o = 0, i = 0;

	if (!dstsz)
		return 0;
	while (i < n) {
		char esc[12];
		size_t elen, adv = 1;
		const void *out = esc;
		int k;
		uint32_t cp = 0;

		switch (byte_class[s[i]]) {
		case C_PLAIN:
		case C_QUOTE:
			out = s + i;
			elen = 1;
			break;
		case C_BSLASH:
			esc[0] = esc[1] = '\\';
			elen = 2;
			break;
		case C_HIGH:
			k = utf8_seq(s + i, n - i, &cp);
			if (k > 0 && !cp_unsafe(cp)) {
				out = s + i;
				elen = adv = (size_t)k;
				break;
			}
			if (k > 0) {
				/* \uXXXX, or \U000XXXXX past the BMP (tags) */
				if (cp > 0xffff) {
					esc[0] = '\\';
					esc[1] = 'U';
					for (int d = 0; d < 8; d++)
						esc[2 + d] = hexdig[cp >> (28 - 4 * d) & 15];
					elen = 10;
				} else {
					elen = u_escape(esc, cp);
				}
				adv = (size_t)k;
				break;
			}
			/* invalid UTF-8: one \xNN per byte */
			/* fall through */
		default: /* C0, DEL */
			esc[0] = '\\';
			elen = 2;
			esc[1] = short_escape(s[i], false);
			if (!esc[1]) {
				esc[1] = 'x';
				esc[2] = hexdig[s[i] >> 4];
				esc[3] = hexdig[s[i] & 15];
				elen = 4;
			}
			break;
		}
		if (elen >= dstsz - o)
			break; /* never cut an escape or a character in half */
		memcpy(dst + o, out, elen);
		o += elen;
		i += adv;
	}
	dst[o] = '\0';
	return o;
}

void vg_json_key_str(struct vg_buf *b, const char *s, size_t n)
{
	vg_json_str(b, s, n);
	vg_buf_raw(b, ":", 1);
	b->need_comma = false;
}
