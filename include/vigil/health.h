/*
 * health: the agent's heartbeat and `vigil health`.  The agent opens a
 * heartbeat file once (default /run/vigil/heartbeat) and calls
 * vg_health_beat() on every iteration of its ring-buffer loop; the call
 * rewrites a fixed-size record in place at most once a second, with no
 * allocation.  `vigil health` (a liveness probe that needs no shell) reads
 * that record and fails when the beat is older than the allowed age, i.e.
 * when the reader loop is stuck or the agent is gone.
 *
 * Record (one line, fixed width): "vigil-heartbeat 1 <boottime-s> <pid>
 * <hooks>\n", CLOCK_BOOTTIME seconds, so a probe in the same host (or
 * container) can compare without trusting the wall clock; <hooks> is the
 * loader's mode word padded to 16 ("-" until set).  Records of older agents
 * end after <pid> and are read too.
 */
#ifndef VIGIL_HEALTH_H
#define VIGIL_HEALTH_H

#include <stddef.h>
#include <stdint.h>

#define VG_HEALTH_PATH "/run/vigil/heartbeat"
#define VG_HEALTH_MAX_AGE 15 /* seconds, `vigil health` default */

struct vg_health;

/*
 * Create (or take over from an agent gone) the heartbeat file at path
 * (NULL: VG_HEALTH_PATH), creating its folder if missing, hold it locked
 * (flock) and write the first beat: 0.  1 when a running agent holds it:
 * the file is left as it is, and vg_health_beat() takes it over once that
 * agent is gone.  Else -errno and *out NULL.
 */
int vg_health_open(const char *path, struct vg_health **out);

/*
 * The hooks in use, one word (vg_loader_mode_word: "cap", "syscall-results",
 * ...; at most 16 printable characters), rewritten at once and reported
 * by `vigil health`.  0 or -errno.
 */
int vg_health_set_hooks(struct vg_health *h, const char *word);

/* Once per loop iteration.  Cheap: a vDSO clock read, a write once a second
 * (or, while another agent holds the file, a try to take it). */
void vg_health_beat(struct vg_health *h);

/* Remove the file (when the path still names it), close, set *h to NULL.
 * NULL-safe. */
void vg_health_free(struct vg_health **h);

/*
 * Judge the heartbeat at path (NULL: VG_HEALTH_PATH) against now (CLOCK_BOOTTIME
 * seconds; 0: read the clock).  0 when fresh; -ENOENT no file, -EBADMSG not a
 * heartbeat, -ESRCH its agent has exited, -ETIME older than max_age_s.  msg
 * gets one line either way.
 */
int vg_health_check(const char *path, unsigned max_age_s, uint64_t now, char *msg, size_t n);

/*
 * `vigil health [--file PATH] [--max-age SECONDS]`: prints one line, returns
 * the exit status (0 healthy, 1 unhealthy, 2 usage).  argv[0] is "health".
 */
int vg_health_main(int argc, char **argv);

#endif
