/*
 * check: `vigil check`, whether this host can run the sensor.  Probes the
 * kernel for real (loads tiny programs, creates a ring buffer) and prints a
 * short aligned table; owns no state.
 */
#ifndef VIGIL_CHECK_H
#define VIGIL_CHECK_H

#include <stdio.h>

/*
 * Print the table to out.  Returns 0 when the sensor can run here, else 2;
 * the last line printed says which, and why not.
 */
int vg_check_run(FILE *out);

#endif
