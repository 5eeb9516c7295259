/*
 * log: the agent's one log channel.  Level-gated messages to stderr as
 * "vigil: <level>: message"; each message is passed through vg_term_escape
 * before it is written, so untrusted strings inside never reach the
 * terminal raw.  Arguments of a disabled level are not evaluated.
 */
#ifndef VIGIL_LOG_H
#define VIGIL_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

enum vg_log_level {
	VG_LOG_ERR = 0,
	VG_LOG_WARN = 1,
	VG_LOG_INFO = 2, /* the default */
	VG_LOG_DEBUG = 3,
};

void vg_log_set_level(enum vg_log_level lvl);
enum vg_log_level vg_log_get_level(void);
bool vg_log_enabled(enum vg_log_level lvl);

/* Where messages go (default stderr); NULL restores stderr.  For tests. */
void vg_log_set_file(FILE *f);

/* Write one message (a trailing newline in fmt is not needed). */
void vg_log_msg(enum vg_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* va_list form, e.g. for a libbpf_set_print() callback */
void vg_log_vmsg(enum vg_log_level lvl, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

#define vg_log_at(lvl, ...)                                                                        \
	do {                                                                                       \
		if (vg_log_enabled(lvl))                                                           \
			vg_log_msg(lvl, __VA_ARGS__);                                              \
	} while (0)

#define vg_log_err(...) vg_log_at(VG_LOG_ERR, __VA_ARGS__)
#define vg_log_warn(...) vg_log_at(VG_LOG_WARN, __VA_ARGS__)
#define vg_log_info(...) vg_log_at(VG_LOG_INFO, __VA_ARGS__)
#define vg_log_debug(...) vg_log_at(VG_LOG_DEBUG, __VA_ARGS__)

/* Log an error and return rc from the calling function. */
#define vg_log_return(rc, ...)                                                                     \
	do {                                                                                       \
		vg_log_err(__VA_ARGS__);                                                           \
		return (rc);                                                                       \
	} while (0)

#endif
