/*
 * json: a small JSON writer into a bounded buffer.  Every string that goes
 * through vg_json_str() comes out valid: control characters escaped as
 * \uXXXX (or \n, \t, ...), '"' and '\\' escaped, invalid UTF-8 (overlongs,
 * surrogates, truncated sequences, bytes > 0xF4) replaced by U+FFFD.
 * Writers never fail midway: on overflow the buffer is marked and later
 * writes are ignored, so callers check vg_buf.overflow once at the end.
 * One byte of cap is kept for a NUL: b->p is always a C string of b->len
 * bytes (up to the point of overflow).  No allocation, no locale, no stdio.
 */
#ifndef VIGIL_JSON_H
#define VIGIL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vg_buf {
	char *p;
	size_t len;
	size_t cap;
	bool overflow;
	bool need_comma; /* a value was written at the current nesting level */
};

void vg_buf_init(struct vg_buf *b, char *mem, size_t cap);
void vg_buf_reset(struct vg_buf *b);
void vg_buf_raw(struct vg_buf *b, const char *s, size_t n); /* no escaping */

/* Structure.  Keys are written by the *_kv helpers or vg_json_key. */
void vg_json_obj_open(struct vg_buf *b);
void vg_json_obj_close(struct vg_buf *b);
void vg_json_arr_open(struct vg_buf *b);
void vg_json_arr_close(struct vg_buf *b);
/* key is trusted ASCII; vg_json_key and the kv helpers are inline so the
 * length of a literal key is known at compile time (no strlen per field) */
void vg_json_key_n(struct vg_buf *b, const char *key, size_t n);
/* key from untrusted bytes (e.g. a container label), escaped like a value */
void vg_json_key_str(struct vg_buf *b, const char *s, size_t n);

/* Values (each writes its comma when needed). */
void vg_json_str(struct vg_buf *b, const char *s, size_t n); /* untrusted bytes */
void vg_json_cstr(struct vg_buf *b, const char *s);	     /* NUL terminated */
void vg_json_u64(struct vg_buf *b, uint64_t v);
void vg_json_i64(struct vg_buf *b, int64_t v);
void vg_json_bool(struct vg_buf *b, bool v);
void vg_json_null(struct vg_buf *b);
/* n bytes already encoded (a value, or members of an object, such as a
 * piece of an earlier line), copied with the comma a value gets */
void vg_json_raw(struct vg_buf *b, const char *s, size_t n);

/* key + value in one call.  The key's bytes, quotes and colon are stored
 * in place (a literal's length is a constant: a few moves, no call);
 * vg_json_key_n takes what does not fit. */
static inline void vg_json_key(struct vg_buf *b, const char *key)
{
	size_t n = __builtin_strlen(key), len = b->len, c = b->need_comma;
	char *p = b->p;

	if (__builtin_expect(b->overflow || n + 4 >= b->cap - len, 0)) {
		vg_json_key_n(b, key, n);
		return;
	}
	p[len] = ',';
	p += len + c;
	p[0] = '"';
	__builtin_memcpy(p + 1, key, n);
	p[n + 1] = '"';
	p[n + 2] = ':';
	p[n + 3] = '\0';
	b->len = len + c + n + 3;
	b->need_comma = false;
}
static inline void vg_json_kv_cstr(struct vg_buf *b, const char *key, const char *s)
{
	vg_json_key(b, key);
	vg_json_cstr(b, s);
}
static inline void vg_json_kv_str(struct vg_buf *b, const char *key, const char *s, size_t n)
{
	vg_json_key(b, key);
	vg_json_str(b, s, n);
}
static inline void vg_json_kv_u64(struct vg_buf *b, const char *key, uint64_t v)
{
	vg_json_key(b, key);
	vg_json_u64(b, v);
}
static inline void vg_json_kv_i64(struct vg_buf *b, const char *key, int64_t v)
{
	vg_json_key(b, key);
	vg_json_i64(b, v);
}
static inline void vg_json_kv_bool(struct vg_buf *b, const char *key, bool v)
{
	vg_json_key(b, key);
	vg_json_bool(b, v);
}

/* RFC 3339 UTC with nanoseconds: 2026-12-04T13:52:23.123456789Z */
void vg_json_time(struct vg_buf *b, uint64_t wall_ns);

/*
 * Copy untrusted bytes into dst (size dstsz, NUL terminated) so they are
 * safe on a terminal: C0 controls, DEL and ESC become visible escapes
 * (\x1b, \n, \t, \r, \x7f), invalid UTF-8 (raw 0x80..0xff included)
 * becomes \xNN per byte, C1 controls and the code points that hide or
 * reorder text (bidi overrides/isolates, zero-width) become \uXXXX, and a
 * backslash becomes \\ so the rendering stays unambiguous.  Valid
 * printable UTF-8 passes.  Output is cut before an escape or character that
 * does not fit, never inside it.  Returns bytes written (without the NUL).
 */
size_t vg_term_escape(char *dst, size_t dstsz, const char *s, size_t n);

#endif
