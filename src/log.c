/* log: level-gated messages, escaped for the terminal (see log.h). */
#include <stdarg.h>
#include <stdio.h>

#include "vigil/json.h"
#include "vigil/log.h"

static enum vg_log_level cur_level = VG_LOG_INFO;
static FILE *log_file;

static const char *const level_names[] = {
	[VG_LOG_ERR] = "error",
	[VG_LOG_WARN] = "warning",
	[VG_LOG_INFO] = "info",
	[VG_LOG_DEBUG] = "debug",
};

void vg_log_set_level(enum vg_log_level lvl)
{
	if (lvl > VG_LOG_DEBUG)
		lvl = VG_LOG_DEBUG;
	cur_level = lvl;
}

enum vg_log_level vg_log_get_level(void)
{
	return cur_level;
}

bool vg_log_enabled(enum vg_log_level lvl)
{
	return lvl <= cur_level;
}

void vg_log_set_file(FILE *f)
{
	log_file = f;
}

void vg_log_vmsg(enum vg_log_level lvl, const char *fmt, va_list ap)
{
	char raw[1024], safe[2048];
	int n;
	size_t len;

	if (!vg_log_enabled(lvl))
		return;
	n = vsnprintf(raw, sizeof(raw), fmt, ap);
	if (n < 0)
		return;
	len = (size_t)n < sizeof(raw) ? (size_t)n : sizeof(raw) - 1;
	/* callers (libbpf) often end messages with a newline: we add our own */
	while (len && raw[len - 1] == '\n')
		len--;
	vg_term_escape(safe, sizeof(safe), raw, len);
	fprintf(log_file ? log_file : stderr, "vigil: %s: %s\n",
		level_names[lvl <= VG_LOG_DEBUG ? lvl : VG_LOG_DEBUG], safe);
}

void vg_log_msg(enum vg_log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vg_log_vmsg(lvl, fmt, ap);
	va_end(ap);
}
