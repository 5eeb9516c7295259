/*
 * container: lookups on struct vg_container and the JSON-to-field helpers
 * shared by the runtime parsers.  Every copy is bounded by the field size.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vigil/container.h"
#include "vigil/jsonp.h"

const char *vg_container_label(const struct vg_container *c, const char *key)
{
	if (!c || !key)
		return NULL;
	for (unsigned i = 0; i < c->nlabels && i < VG_CTR_LABELS_MAX; i++)
		if (!strcmp(c->labels[i].key, key))
			return c->labels[i].value;
	return NULL;
}

bool vg_container_in_pod(const struct vg_container *c)
{
	return c->pod_uid[0] || vg_container_label(c, "io.kubernetes.pod.uid");
}

void vg_container_scopy(char *dst, size_t dstsz, const char *src)
{
	size_t n = strnlen(src, dstsz - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

void vg_container_pod_from_labels(struct vg_container *c)
{
	const char *uid = vg_container_label(c, "io.kubernetes.pod.uid");
	const char *name = vg_container_label(c, "io.kubernetes.pod.name");
	const char *ns = vg_container_label(c, "io.kubernetes.pod.namespace");

	if (c->pod_uid[0] || c->pod_name[0] || !c->cg.pod_uid[0] || !uid ||
	    strcmp(uid, c->cg.pod_uid))
		return;
	vg_container_scopy(c->pod_uid, sizeof(c->pod_uid), uid);
	if (name)
		vg_container_scopy(c->pod_name, sizeof(c->pod_name), name);
	if (ns)
		vg_container_scopy(c->pod_namespace, sizeof(c->pod_namespace), ns);
}

static bool absent(const struct vg_jdoc *d, int i)
{
	enum vg_jtype t = vg_jsonp_type(d, i);

	return t == VG_J_NONE || t == VG_J_NULL;
}

void vg_container_jstr(struct vg_container *c, const struct vg_jdoc *d, int i, char *dst,
		       size_t dstsz)
{
	if (absent(d, i))
		return;
	if (vg_jsonp_str(d, i, dst, dstsz, -1, NULL) < 0)
		c->parse_errors++;
}

void vg_container_jbool(struct vg_container *c, const struct vg_jdoc *d, int i, bool *dst)
{
	if (absent(d, i))
		return;
	if (vg_jsonp_bool(d, i, dst) < 0)
		c->parse_errors++;
}

void vg_container_ji64(struct vg_container *c, const struct vg_jdoc *d, int i, int64_t *dst)
{
	if (absent(d, i))
		return;
	if (vg_jsonp_i64(d, i, dst) < 0)
		c->parse_errors++;
}

/*
 * Keep the label just written at labels[nlabels]: not when its key is
 * empty, nor when an earlier label has the same key (keys are cut to
 * VG_CTR_LABEL_KEY_MAX - 1 bytes, and end at a \u0000: two keys the image
 * set apart can meet here, and a JSON object with a key twice is refused by
 * many readers).  The first one stays.
 */
static void label_keep(struct vg_container *c)
{
	const char *key = c->labels[c->nlabels].key;

	if (key[0] && !vg_container_label(c, key))
		c->nlabels++;
}

void vg_container_add_label(struct vg_container *c, const char *key, const char *value)
{
	struct vg_label *l;

	if (c->nlabels >= VG_CTR_LABELS_MAX) {
		c->labels_truncated = true;
		return;
	}
	l = &c->labels[c->nlabels];
	vg_container_scopy(l->key, sizeof(l->key), key);
	vg_container_scopy(l->value, sizeof(l->value), value);
	label_keep(c);
}

void vg_container_jlabels(struct vg_container *c, const struct vg_jdoc *d, int obj)
{
	if (absent(d, obj))
		return;
	if (vg_jsonp_type(d, obj) != VG_J_OBJ) {
		c->parse_errors++;
		return;
	}
	for (int k = vg_jsonp_first(d, obj); k >= 0; k = vg_jsonp_next(d, k)) {
		struct vg_label *l;

		if (vg_jsonp_type(d, k + 1) != VG_J_STR) {
			c->parse_errors++;
			continue;
		}
		if (c->nlabels >= VG_CTR_LABELS_MAX) {
			c->labels_truncated = true;
			return;
		}
		l = &c->labels[c->nlabels];
		vg_jsonp_str(d, k, l->key, sizeof(l->key), -1, NULL);
		vg_jsonp_str(d, k + 1, l->value, sizeof(l->value), -1, NULL);
		label_keep(c);
	}
}

void vg_container_jenv(struct vg_container *c, const struct vg_jdoc *d, int arr)
{
	if (absent(d, arr))
		return;
	if (vg_jsonp_type(d, arr) != VG_J_ARR) {
		c->parse_errors++;
		return;
	}
	c->nenv = 0;
	for (int i = vg_jsonp_first(d, arr); i >= 0 && c->nenv < VG_CTR_ENV_MAX;
	     i = vg_jsonp_next(d, i)) {
		char *dst = c->env_names[c->nenv];

		/* '=' stops the decoder: the value is never written anywhere */
		if (vg_jsonp_str(d, i, dst, sizeof(c->env_names[0]), '=', NULL) < 0) {
			c->parse_errors++;
			continue;
		}
		if (dst[0])
			c->nenv++;
	}
}

void vg_container_jcaps(struct vg_container *c, const struct vg_jdoc *d, int arr, char (*caps)[32],
			unsigned *n)
{
	if (absent(d, arr))
		return;
	if (vg_jsonp_type(d, arr) != VG_J_ARR) {
		c->parse_errors++;
		return;
	}
	*n = 0;
	for (int i = vg_jsonp_first(d, arr); i >= 0 && *n < VG_CTR_CAPS_MAX;
	     i = vg_jsonp_next(d, i)) {
		char tmp[40];
		char *s = tmp;

		if (vg_jsonp_str(d, i, tmp, sizeof(tmp), -1, NULL) < 0) {
			c->parse_errors++;
			continue;
		}
		for (char *q = tmp; *q; q++)
			if (*q >= 'a' && *q <= 'z')
				*q = (char)(*q - 'a' + 'A');
		if (!strncmp(s, "CAP_", 4))
			s += 4;
		if (!*s)
			continue;
		vg_container_scopy(caps[*n], 32, s);
		(*n)++;
	}
}

static void cmd_append(struct vg_container *c, const struct vg_jdoc *d, int i)
{
	size_t w = strnlen(c->cmd, sizeof(c->cmd));

	if (vg_jsonp_type(d, i) != VG_J_STR) {
		c->parse_errors++;
		return;
	}
	if (w && w + 1 < sizeof(c->cmd)) {
		c->cmd[w++] = ' ';
		c->cmd[w] = '\0';
	}
	if (w + 1 < sizeof(c->cmd))
		vg_jsonp_str(d, i, c->cmd + w, sizeof(c->cmd) - w, -1, NULL);
}

void vg_container_jcmd(struct vg_container *c, const struct vg_jdoc *d, int i)
{
	if (absent(d, i))
		return;
	if (vg_jsonp_type(d, i) != VG_J_ARR) {
		cmd_append(c, d, i);
		return;
	}
	for (int k = vg_jsonp_first(d, i); k >= 0; k = vg_jsonp_next(d, k))
		cmd_append(c, d, k);
}
