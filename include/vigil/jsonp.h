/*
 * jsonp: a bounded JSON reader for runtime state (Docker, OCI specs, CRI).
 *
 * vg_jsonp_parse() validates a whole document (RFC 8259, strict) in one
 * iterative pass and records one token per value into a caller-given array:
 * no recursion, no allocation, nesting depth capped at VG_JSONP_DEPTH,
 * tokens capped by the array.  A document that breaks any rule is refused
 * as a whole, so hostile input costs one linear scan and never a crash.
 * String length is not a rule: values are decoded on demand into bounded
 * buffers, cut when too long, so a long one costs only itself.
 *
 * Tokens point into the caller's text, which must outlive the document.
 * Object members are stored as key token then value token; every token
 * knows where its subtree ends, so lookups skip whole values in O(1).
 */
#ifndef VIGIL_JSONP_H
#define VIGIL_JSONP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VG_JSONP_DEPTH 64
/* the largest JSON document embedded in a string value that readers
 * decode and parse (CRI-O's labels, podman's metadata); one longer is cut
 * and counted as a parse error */
#define VG_JSONP_STR_MAX (64 * 1024)

enum vg_jtype {
	VG_J_NONE = 0,
	VG_J_OBJ = 1,
	VG_J_ARR = 2,
	VG_J_STR = 3,
	VG_J_NUM = 4,
	VG_J_TRUE = 5,
	VG_J_FALSE = 6,
	VG_J_NULL = 7,
};

enum vg_jflags {
	VG_JF_ESC = 1u << 0, /* string holds escapes */
	VG_JF_KEY = 1u << 1, /* string is an object member's name */
};

struct vg_jtok {
	uint8_t type;  /* enum vg_jtype */
	uint8_t flags; /* VG_JF_* */
	uint16_t pad;
	uint32_t start;	 /* string: first byte after the quote; else first byte */
	uint32_t len;	 /* raw bytes (string: between the quotes) */
	uint32_t end;	 /* index of the first token after this subtree */
	uint32_t parent; /* index of the enclosing array/object (root: 0) */
};

struct vg_jdoc {
	const char *src;
	size_t len;
	struct vg_jtok *toks;
	unsigned ntok;
};

/*
 * Parse len bytes at src using up to cap tokens.  Returns 0; -EINVAL for
 * malformed JSON (including raw control characters in strings and bytes
 * after the value); -E2BIG when the tokens, the depth or a 4 GiB offset
 * would be exceeded.  Token 0 is the root.
 */
int vg_jsonp_parse(struct vg_jdoc *doc, const char *src, size_t len, struct vg_jtok *toks,
		   unsigned cap);

/* Type of token i, VG_J_NONE when i is out of range (i < 0 included). */
enum vg_jtype vg_jsonp_type(const struct vg_jdoc *doc, int i);

/* Value of member key in object obj, or -1 (not an object, no such key). */
int vg_jsonp_get(const struct vg_jdoc *doc, int obj, const char *key);

/* Follow a path of member names separated by '.', e.g. "HostConfig.Memory". */
int vg_jsonp_path(const struct vg_jdoc *doc, int obj, const char *path);

/*
 * Iterate children: first = vg_jsonp_first(doc, parent) gives the first
 * element (array) or the first key (object, its value is key + 1);
 * vg_jsonp_next(doc, i) the next sibling; both -1 at the end.
 */
int vg_jsonp_first(const struct vg_jdoc *doc, int parent);
int vg_jsonp_next(const struct vg_jdoc *doc, int i);
/* Number of elements (array) or members (object), 0 for other types. */
unsigned vg_jsonp_count(const struct vg_jdoc *doc, int parent);

/*
 * Copy the decoded string token i into dst (dstsz > 0, always NUL
 * terminated; cut at a UTF-8 character boundary when too long).  Decoding
 * stops before the first decoded byte equal to stop (pass -1 for none), so
 * the rest of the string is never written anywhere.  A NUL decoded from
 * \u0000 ends the string.  Returns bytes written, -EINVAL if not a string.
 * *cut (may be NULL) is set when output was dropped for lack of room.
 */
int vg_jsonp_str(const struct vg_jdoc *doc, int i, char *dst, size_t dstsz, int stop, bool *cut);

/* Exact comparison of the decoded string token i with s. */
bool vg_jsonp_eq(const struct vg_jdoc *doc, int i, const char *s);

/* true/false: 0 and *out; -EINVAL for other types. */
int vg_jsonp_bool(const struct vg_jdoc *doc, int i, bool *out);

/* Integral number within int64: 0 and *out; -EINVAL for other types,
 * fractions or exponents; -ERANGE when out of range. */
int vg_jsonp_i64(const struct vg_jdoc *doc, int i, int64_t *out);

/*
 * Convenience for state files: parse with a token array allocated to fit
 * (at most VG_JSONP_TOK_MAX tokens); release with vg_jsonp_free().
 */
#define VG_JSONP_TOK_MAX (1u << 21) /* a 4 MiB document: podman's containers.json */
int vg_jsonp_parse_alloc(struct vg_jdoc *doc, const char *src, size_t len);
/* vg_jsonp_parse_alloc of a document whose root must be an object: else
 * -EINVAL and nothing to free. */
int vg_jsonp_parse_object(struct vg_jdoc *doc, const char *src, size_t len);

/* Value of hex digit c (0..15), -1 when c is not one. */
int vg_jsonp_hexval(char c);
void vg_jsonp_free(struct vg_jdoc *doc);

/*
 * Read root/rel into a new NUL-terminated buffer (*out, *len; free() it).
 * root is trusted and may be a symlink; no component of rel may be one
 * (each is opened with O_NOFOLLOW), ".." is refused, and the final file
 * must be a regular file of at most max bytes.  Returns 0, -ELOOP for a
 * symlink, -EFBIG when too large, -EINVAL for a bad rel, or -errno.
 */
#define VG_JSONP_FILE_MAX (1024 * 1024)
int vg_jsonp_read_file(const char *root, const char *rel, size_t max, char **out, size_t *len);

#endif
