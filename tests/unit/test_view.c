/* view: the live view line, from JSON feed lines, hostile strings included. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/view.h"

static const char alert[] =
	"{\"@timestamp\":\"2026-12-04T13:52:23.123456789Z\",\"event\":{\"kind\":\"alert\"},"
	"\"vigil\":{\"severity\":\"critical\"},\"rule\":{\"name\":\"shell_in_service_container\"},"
	"\"container\":{\"id\":\"3096e838894327bdae6f31a316a956fde076b00e4e28332ef110de8eb797015d\","
	"\"name\":\"web_app\"},\"process\":{\"name\":\"sh\",\"pid\":4242},"
	"\"message\":\"sh from redis-server \\u001b]0;owned\\u0007 \\u001b[2J\"}\n";

static void test_fields_and_escape(void **state)
{
	(void)state;
	struct vg_view v;
	char out[1024];
	struct vg_view_opts o = {.color = false, .width = 0};

	assert_int_equal(vg_view_from_json(alert, strlen(alert), &v), 0);
	assert_string_equal(v.time, "13:52:23.123");
	assert_string_equal(v.where, "web_app");
	assert_string_equal(v.severity, "critical");
	assert_int_equal(v.pid, 4242);
	size_t n = vg_view_render(out, sizeof(out), &v, &o);
	assert_int_equal(n, strlen(out));
	assert_non_null(strstr(out, "sh[4242]"));
	assert_non_null(strstr(out, "shell_in_service_container: sh from redis-server"));
	/* the escape sequences from the monitored system are shown, not sent */
	assert_null(strchr(out, '\033'));
	assert_null(strchr(out, '\007'));
	assert_non_null(strstr(out, "\\x1b]0;owned"));
	assert_int_equal(out[n - 1], '\n');
}

static void test_color_only_ours(void **state)
{
	(void)state;
	struct vg_view v;
	char out[1024];
	struct vg_view_opts o = {.color = true, .width = 0};

	assert_int_equal(vg_view_from_json(alert, strlen(alert), &v), 0);
	vg_view_render(out, sizeof(out), &v, &o);
	/* exactly two escape sequences: our colour and our reset */
	unsigned esc = 0;
	for (const char *p = out; *p; p++)
		esc += *p == '\033';
	assert_int_equal(esc, 2);
	assert_memory_equal(out, "\033[1;97;41m", 10);
	assert_non_null(strstr(out, "\033[0m\n"));
}

/* a rule's warning is the outputs' medium: the same colour */
static void test_color_warning_is_medium(void **state)
{
	(void)state;
	static const char warn[] = "{\"vigil\":{\"severity\":\"warning\"},\"message\":\"x\"}";
	static const char med[] = "{\"vigil\":{\"severity\":\"medium\"},\"message\":\"x\"}";
	struct vg_view v;
	char a[256], b[256];
	struct vg_view_opts o = {.color = true, .width = 0};

	assert_int_equal(vg_view_from_json(warn, strlen(warn), &v), 0);
	vg_view_render(a, sizeof(a), &v, &o);
	assert_int_equal(vg_view_from_json(med, strlen(med), &v), 0);
	vg_view_render(b, sizeof(b), &v, &o);
	assert_memory_equal(a, "\033[33m", 5);
	assert_memory_equal(b, "\033[33m", 5);
}

static void test_host_short_id_and_width(void **state)
{
	(void)state;
	static const char host[] = "{\"message\":\"exec /bin/true\",\"process\":{\"name\":\"true\",\"pid\":7}}";
	static const char ctr[] = "{\"container\":{\"id\":\"abcdef0123456789\"},\"message\":\"x\"}";
	struct vg_view v;
	char out[1024];
	struct vg_view_opts o = {.color = false, .width = 40};

	assert_int_equal(vg_view_from_json(host, strlen(host), &v), 0);
	assert_string_equal(v.where, "host");
	vg_view_render(out, sizeof(out), &v, &o);
	/* 39 columns of text, the ellipsis, the newline */
	size_t cols = 0;
	for (const char *p = out; *p && *p != '\n'; p++)
		cols += ((unsigned char)*p & 0xc0) != 0x80;
	assert_int_equal(cols, 40);
	assert_non_null(strstr(out, "\xe2\x80\xa6\n"));

	assert_int_equal(vg_view_from_json(ctr, strlen(ctr), &v), 0);
	assert_string_equal(v.where, "abcdef012345");
}

/* display columns of a rendered line, as a terminal counts these
 * characters: CJK and the emoji here two, the combining accent none */
static size_t term_cols(const char *s)
{
	size_t cols = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p && *p != '\n';) {
		size_t len = *p < 0x80 ? 1 : *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : 2;

		assert_true(strnlen((const char *)p, len) == len); /* whole characters only */
		if (*p < 0x80)
			cols++;
		else if (*p >= 0xf0) /* the emoji */
			cols += 2;
		else if (*p >= 0xe0) /* CJK, the ellipsis (1) */
			cols += (p[0] == 0xe2 && p[1] == 0x80 && p[2] == 0xa6) ? 1 : 2;
		/* else U+0301, combining: none */
		p += len;
	}
	return cols;
}

static void test_wide_characters(void **state)
{
	(void)state;
	/* a container named in CJK (6 columns) and one in ASCII (6 columns):
	 * the columns after the name line up alike */
	static const char cjk[] = "{\"container\":{\"id\":\"ab\",\"name\":\"数据库\"},"
				  "\"process\":{\"name\":\"sh\",\"pid\":7},\"message\":\"x\"}";
	static const char ascii[] = "{\"container\":{\"id\":\"ab\",\"name\":\"abcdef\"},"
				    "\"process\":{\"name\":\"sh\",\"pid\":7},\"message\":\"x\"}";
	static const char accent[] = "{\"container\":{\"id\":\"ab\",\"name\":\"cafe\u0301abc\"},"
				     "\"process\":{\"name\":\"sh\",\"pid\":7},\"message\":\"x\"}";
	static const char cut[] = "{\"message\":\"exec 日本語のとても長いコマンドライン🚀🚀🚀 with more\","
				  "\"process\":{\"name\":\"x\",\"pid\":1}}";
	struct vg_view v;
	char a[1024], b[1024], c[1024];
	struct vg_view_opts o = {.color = false, .width = 0};

	assert_int_equal(vg_view_from_json(cjk, strlen(cjk), &v), 0);
	vg_view_render(a, sizeof(a), &v, &o);
	assert_int_equal(vg_view_from_json(ascii, strlen(ascii), &v), 0);
	vg_view_render(b, sizeof(b), &v, &o);
	assert_int_equal(vg_view_from_json(accent, strlen(accent), &v), 0);
	vg_view_render(c, sizeof(c), &v, &o);
	assert_int_equal(term_cols(a), term_cols(b));
	assert_int_equal(term_cols(c), term_cols(b)); /* "café" + "abc": 7 columns */
	assert_string_equal(strstr(a, "数据库") + strlen("数据库"), strstr(b, "abcdef") + 6);

	/* cut to the width in columns, never in the middle of a character */
	/* the fixed columns take 66: the message's wide characters from 71 */
	for (unsigned w = 40; w <= 110; w++) {
		o.width = w;
		assert_int_equal(vg_view_from_json(cut, strlen(cut), &v), 0);
		vg_view_render(a, sizeof(a), &v, &o);
		assert_true(term_cols(a) <= w);
		assert_true(term_cols(a) >= w - 1); /* a wide one that did not fit */
		assert_non_null(strstr(a, "\xe2\x80\xa6\n"));
	}
}

static void test_incident_chain(void **state)
{
	(void)state;
	static const char inc[] =
		"{\"event\":{\"kind\":\"alert\",\"dataset\":\"incident\"},\"message\":\"incident 7\","
		"\"vigil\":{\"severity\":\"critical\",\"incident\":{\"chain\":\"shell from redis-server \u2192 metadata access\"}}}";
	struct vg_view v;
	char out[1024];
	struct vg_view_opts o = {.color = false, .width = 0};

	assert_int_equal(vg_view_from_json(inc, strlen(inc), &v), 0);
	assert_string_equal(v.kind, "incident");
	vg_view_render(out, sizeof(out), &v, &o);
	assert_non_null(strstr(out, "incident: shell from redis-server \xe2\x86\x92 metadata access\n"));
}

/* compact raw events carry no message: the summary comes from the fields */
static void test_compact_event_summary(void **state)
{
	(void)state;
	struct vg_view v;
	static const char exec[] =
		"{\"@timestamp\":\"2026-12-04T13:52:23.123456789Z\",\"event\":{\"kind\":\"event\","
		"\"action\":\"exec\"},\"process\":{\"pid\":7,\"name\":\"cat\",\"executable\":"
		"\"/bin/cat\",\"args\":[\"cat\",\"/etc/hostname\",\"\\u001b[2J\"]}}\n";
	static const char conn[] =
		"{\"@timestamp\":\"2026-12-04T13:52:23.123456789Z\",\"event\":{\"kind\":\"event\","
		"\"action\":\"connect\"},\"destination\":{\"ip\":\"10.0.0.1\",\"port\":80},"
		"\"vigil\":{\"connect\":{\"result\":\"ECONNREFUSED\"}}}\n";

	assert_int_equal(vg_view_from_json(exec, strlen(exec), &v), 0);
	assert_string_equal(v.summary, "exec /bin/cat /etc/hostname \033[2J");
	assert_int_equal(vg_view_from_json(conn, strlen(conn), &v), 0);
	assert_string_equal(v.summary, "connect 10.0.0.1:80 ECONNREFUSED");
}

/* an alert whose process had 3000 empty arguments (more values than the
 * view parses at once) is shown all the same */
static void test_many_values(void **state)
{
	(void)state;
	size_t cap = 16384, n = 0;
	char *line = malloc(cap);
	struct vg_view v;

	assert_non_null(line);
	n += (size_t)snprintf(line + n, cap - n,
			      "{\"event\":{\"kind\":\"alert\"},\"rule\":{\"name\":\"shell\"},"
			      "\"message\":\"sh from redis-server\",\"process\":{\"args\":[\"sh\"");
	for (int i = 0; i < 3000; i++)
		n += (size_t)snprintf(line + n, cap - n, ",\"\"");
	n += (size_t)snprintf(line + n, cap - n, "]}}\n");
	assert_true(n < cap - 1);
	assert_int_equal(vg_view_from_json(line, n, &v), 0);
	assert_string_equal(v.summary, "shell: sh from redis-server");
	free(line);
}

static void test_not_json(void **state)
{
	(void)state;
	struct vg_view v;
	assert_int_equal(vg_view_from_json("{\"a\":", 5, &v), -EINVAL);
	assert_int_equal(vg_view_from_json("[1]", 3, &v), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields_and_escape),
		cmocka_unit_test(test_color_only_ours),
		cmocka_unit_test(test_color_warning_is_medium),
		cmocka_unit_test(test_host_short_id_and_width),
		cmocka_unit_test(test_wide_characters),
		cmocka_unit_test(test_incident_chain),
		cmocka_unit_test(test_many_values),
		cmocka_unit_test(test_not_json),
		cmocka_unit_test(test_compact_event_summary),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
