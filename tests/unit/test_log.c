/* Unit tests for log.c: level gating, format, escaping of the message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/log.h"

static char out[4096];

static FILE *capture(void)
{
	FILE *f = fmemopen(out, sizeof(out), "w");

	assert_non_null(f);
	memset(out, 0, sizeof(out));
	vg_log_set_file(f);
	return f;
}

static void done(FILE *f)
{
	fflush(f);
	vg_log_set_file(NULL);
	fclose(f);
}

static int evaluated;

static int side_effect(void)
{
	evaluated++;
	return 7;
}

static void test_levels(void **state)
{
	FILE *f = capture();

	vg_log_set_level(VG_LOG_INFO);
	assert_int_equal(vg_log_get_level(), VG_LOG_INFO);
	vg_log_info("ready: %d programs", 5);
	vg_log_debug("hidden %d", side_effect());
	vg_log_warn("ring buffer %s", "small");
	vg_log_err("boom");
	done(f);
	assert_string_equal(out, "vigil: info: ready: 5 programs\n"
				 "vigil: warning: ring buffer small\n"
				 "vigil: error: boom\n");
	assert_int_equal(evaluated, 0); /* arguments of a disabled level */

	f = capture();
	vg_log_set_level(VG_LOG_DEBUG);
	vg_log_debug("shown %d", side_effect());
	vg_log_set_level(VG_LOG_ERR);
	vg_log_warn("not shown");
	done(f);
	assert_string_equal(out, "vigil: debug: shown 7\n");
	assert_int_equal(evaluated, 1);
	vg_log_set_level(VG_LOG_INFO);
}

static void test_escaped(void **state)
{
	FILE *f = capture();

	/* untrusted text in a message cannot drive the terminal; a trailing
	 * newline (libbpf's habit) is not doubled */
	vg_log_err("container name %s", "\x1b]0;owned\x07x\ny");
	vg_log_err("libbpf: failed\n");
	done(f);
	assert_string_equal(out, "vigil: error: container name \\x1b]0;owned\\x07x\\ny\n"
				 "vigil: error: libbpf: failed\n");
}

static int helper(int fail)
{
	if (fail)
		vg_log_return(-5, "failing with %d", fail);
	return 0;
}

static void test_log_return(void **state)
{
	FILE *f = capture();

	assert_int_equal(helper(0), 0);
	assert_int_equal(helper(3), -5);
	done(f);
	assert_string_equal(out, "vigil: error: failing with 3\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_escaped),
		cmocka_unit_test(test_log_return),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
