/*
 * record: validates one raw ring-buffer record and gives a typed view of it.
 * Pure code, no state: pointers in struct vg_rec point into the caller's
 * buffer and live as long as it does.
 */
#ifndef VIGIL_RECORD_H
#define VIGIL_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/event.h"

struct vg_rec {
	const struct vg_hdr *hdr;
	enum vg_event_type type;
	union {
		struct {
			const struct vg_exec *raw;
			const char *filename; /* NUL terminated, may be "" */
			/* the executable's resolved path, NUL terminated;
			 * NULL when the kernel side could not tell */
			const char *exe;
			const char *args; /* args_len bytes, each arg NUL
					   * terminated */
			uint32_t args_len;
			uint32_t argc;	/* arguments present in args */
			bool truncated; /* argv or filename was cut */
		} exec;
		const struct vg_fork *fork;
		const struct vg_exit *exit;
		const struct vg_connect *connect;
		const struct vg_mount *mount;
		const struct vg_oom *oom;
	};
};

/*
 * Decode len bytes at data (8-byte aligned, as ring-buffer records are).
 * Returns 0, -EINVAL for a record shorter than its type needs or whose
 * lengths disagree (hdr.size > len, exec filename_len/args_len beyond
 * hdr.size or their arrays), -EPROTO for an unknown type (checked once the
 * header itself is complete).  hdr.size < len is accepted (only hdr.size
 * bytes are used), and so are fixed-size types longer than today's struct.
 * Fixed string arrays (comm, mount paths, fstype) without a NUL make the
 * record -EINVAL: they are never patched.  Exec argv: a trailing argument
 * without its NUL and arguments past VG_EXEC_ARGC_MAX are left out of
 * args_len and set truncated, so every argument in args is NUL terminated;
 * truncated is also set by the BPF truncation flags and when the kernel's
 * argc exceeds the arguments present.
 */
int vg_record_decode(const void *data, size_t len, struct vg_rec *out);

/* Stable lower-case name of an event type ("exec", ...), "unknown" else. */
const char *vg_event_type_name(unsigned type);

#endif
