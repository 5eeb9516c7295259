/*
 * record: validation of raw ring-buffer records (see record.h).
 *
 * Nothing in a record is trusted: every length is checked against hdr.size,
 * hdr.size against the bytes received, and every fixed string array must
 * hold a NUL.  Fixed strings without one are a corrupt record (the BPF side
 * always terminates them), so the record is rejected rather than patched:
 * the data is const and readers use the strings as C strings.
 *
 * Exec argv is different: the BPF side may stop copying in the middle of an
 * argument.  A trailing fragment without its NUL is dropped and the record
 * marked truncated, so every argument in [args, args + args_len) ends with
 * a NUL.  At most VG_EXEC_ARGC_MAX arguments are kept the same way.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "vigil/record.h"

static const char *const type_names[VG_EV__MAX] = {
	[VG_EV_EXEC] = "exec",	     [VG_EV_FORK] = "fork",   [VG_EV_EXIT] = "exit",
	[VG_EV_CONNECT] = "connect", [VG_EV_MOUNT] = "mount", [VG_EV_OOM] = "oom",
};

const char *vg_event_type_name(unsigned type)
{
	if (type < VG_EV__MAX && type_names[type])
		return type_names[type];
	return "unknown";
}

static bool has_nul(const char *s, size_t n)
{
	return memchr(s, '\0', n) != NULL;
}

/* smallest valid size of each type */
static const size_t min_size[VG_EV__MAX] = {
	[VG_EV_EXEC] = offsetof(struct vg_exec, data), [VG_EV_FORK] = sizeof(struct vg_fork),
	[VG_EV_EXIT] = sizeof(struct vg_exit),	       [VG_EV_CONNECT] = sizeof(struct vg_connect),
	[VG_EV_MOUNT] = sizeof(struct vg_mount),       [VG_EV_OOM] = sizeof(struct vg_oom),
};

static int decode_exec(const struct vg_exec *e, size_t size, struct vg_rec *out)
{
	size_t room = size - offsetof(struct vg_exec, data);
	size_t flen = e->filename_len, elen = e->exe_len, alen = e->args_len, i, end = 0;
	const char *args;
	uint32_t argc = 0;
	bool trunc = false, exe_ok = true;

	if (flen > VG_PATH_MAX || elen > VG_PATH_MAX || alen > VG_EXEC_ARGS_MAX ||
	    flen + elen + alen > room)
		return -EINVAL;
	if (flen && e->data[flen - 1] != '\0')
		return -EINVAL;
	/*
	 * The resolved path: absolute, whole.  One that is not (a directory
	 * of it renamed while the kernel side copied it: a name's length and
	 * bytes are two reads) is left out, the record kept: that race is
	 * anyone's to make, and it must not hide the exec.
	 */
	if (elen && (e->data[flen] != '/' || e->data[flen + elen - 1] != '\0' ||
		     memchr(e->data + flen, '\0', elen) != e->data + flen + elen - 1))
		exe_ok = false;
	args = e->data + flen + elen;
	for (i = 0; i < alen; i++) {
		if (args[i] != '\0')
			continue;
		end = i + 1;
		if (++argc == VG_EXEC_ARGC_MAX)
			break;
	}
	if (end < alen)
		trunc = true; /* dropped an unterminated tail or arguments past the max */

	out->exec.raw = e;
	out->exec.filename = flen ? e->data : "";
	out->exec.exe = elen && exe_ok ? e->data + flen : NULL;
	out->exec.args = args;
	out->exec.args_len = (uint32_t)end;
	out->exec.argc = argc;
	out->exec.truncated = trunc || e->argc > argc ||
			      (e->eflags & (VG_EXEC_ARGS_TRUNC | VG_EXEC_FILENAME_TRUNC));
	return 0;
}

int vg_record_decode(const void *data, size_t len, struct vg_rec *out)
{
	const struct vg_hdr *h = data;
	size_t size;

	if (!data || !out || len < sizeof(*h))
		return -EINVAL;
	size = h->size;
	if (size < sizeof(*h) || size > len)
		return -EINVAL;
	if (h->type == VG_EV_INVALID || h->type >= VG_EV__MAX)
		return -EPROTO;
	if (size < min_size[h->type])
		return -EINVAL;
	if (!has_nul(h->comm, sizeof(h->comm)))
		return -EINVAL;

	memset(out, 0, sizeof(*out));
	out->hdr = h;
	out->type = (enum vg_event_type)h->type;
	switch (out->type) {
	case VG_EV_EXEC:
		return decode_exec(data, size, out);
	case VG_EV_FORK:
		out->fork = data;
		break;
	case VG_EV_EXIT:
		out->exit = data;
		break;
	case VG_EV_CONNECT:
		out->connect = data;
		break;
	case VG_EV_MOUNT:
		out->mount = data;
		if (!has_nul(out->mount->source, sizeof(out->mount->source)) ||
		    !has_nul(out->mount->target, sizeof(out->mount->target)) ||
		    !has_nul(out->mount->fstype, sizeof(out->mount->fstype)))
			return -EINVAL;
		break;
	case VG_EV_OOM:
		out->oom = data;
		if (!has_nul(out->oom->trigger_comm, sizeof(out->oom->trigger_comm)))
			return -EINVAL;
		break;
	default:
		return -EPROTO;
	}
	return 0;
}
