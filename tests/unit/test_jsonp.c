/* Unit tests for the bounded JSON reader. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vigil/jsonp.h"

#define NTOK 256
static struct vg_jtok toks[NTOK];

static int parse(struct vg_jdoc *d, const char *s)
{
	return vg_jsonp_parse(d, s, strlen(s), toks, NTOK);
}

static void test_lookup_and_types(void **state)
{
	struct vg_jdoc d;
	const char *s = "{\"a\": {\"b\": [1, 2, {\"c\": true}], \"d\": null}, \"e\": \"x\","
			" \"n\": -42, \"f\": false, \"big\": 9223372036854775807}";
	char buf[16];
	int64_t v;
	bool b;

	assert_int_equal(parse(&d, s), 0);
	assert_int_equal(vg_jsonp_type(&d, 0), VG_J_OBJ);
	assert_int_equal(vg_jsonp_count(&d, 0), 5);
	int arr = vg_jsonp_path(&d, 0, "a.b");
	assert_int_equal(vg_jsonp_type(&d, arr), VG_J_ARR);
	assert_int_equal(vg_jsonp_count(&d, arr), 3);
	int c = vg_jsonp_get(&d, vg_jsonp_next(&d, vg_jsonp_next(&d, vg_jsonp_first(&d, arr))), "c");
	assert_int_equal(vg_jsonp_bool(&d, c, &b), 0);
	assert_true(b);
	assert_int_equal(vg_jsonp_type(&d, vg_jsonp_path(&d, 0, "a.d")), VG_J_NULL);
	assert_int_equal(vg_jsonp_str(&d, vg_jsonp_get(&d, 0, "e"), buf, sizeof(buf), -1, NULL), 1);
	assert_string_equal(buf, "x");
	assert_int_equal(vg_jsonp_i64(&d, vg_jsonp_get(&d, 0, "n"), &v), 0);
	assert_int_equal(v, -42);
	assert_int_equal(vg_jsonp_i64(&d, vg_jsonp_get(&d, 0, "big"), &v), 0);
	assert_true(v == INT64_MAX);
	assert_int_equal(vg_jsonp_bool(&d, vg_jsonp_get(&d, 0, "f"), &b), 0);
	assert_false(b);
	/* missing and wrongly typed */
	assert_int_equal(vg_jsonp_get(&d, 0, "zz"), -1);
	assert_int_equal(vg_jsonp_path(&d, 0, "e.x"), -1);
	assert_int_equal(vg_jsonp_i64(&d, vg_jsonp_get(&d, 0, "e"), &v), -EINVAL);
	assert_int_equal(vg_jsonp_bool(&d, -1, &b), -EINVAL);
	/* next of the last member is the end */
	assert_int_equal(vg_jsonp_next(&d, vg_jsonp_get(&d, 0, "big") - 1), -1);
	assert_int_equal(vg_jsonp_first(&d, vg_jsonp_get(&d, 0, "e")), -1);
}

static void test_empty_containers(void **state)
{
	struct vg_jdoc d;

	assert_int_equal(parse(&d, " { \"a\" : [ ] , \"b\" : { } } "), 0);
	assert_int_equal(vg_jsonp_count(&d, vg_jsonp_get(&d, 0, "a")), 0);
	assert_int_equal(vg_jsonp_count(&d, vg_jsonp_get(&d, 0, "b")), 0);
	assert_int_equal(vg_jsonp_count(&d, 0), 2);
	assert_int_equal(parse(&d, "[]"), 0);
	assert_int_equal(vg_jsonp_first(&d, 0), -1);
}

static void test_escapes(void **state)
{
	struct vg_jdoc d;
	char buf[64];

	assert_int_equal(parse(&d, "{\"k\\u0065y\": \"a\\n\\\"b\\u00e9\\ud83d\\ude00\\udc00\"}"), 0);
	assert_true(vg_jsonp_get(&d, 0, "key") > 0);
	vg_jsonp_str(&d, 2, buf, sizeof(buf), -1, NULL);
	assert_string_equal(buf, "a\n\"b\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbd");
	assert_true(vg_jsonp_eq(&d, 2, "a\n\"b\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbd"));
	assert_false(vg_jsonp_eq(&d, 2, "a\n\"b"));
	/* \u0000 ends the copy */
	assert_int_equal(parse(&d, "\"ab\\u0000cd\""), 0);
	assert_int_equal(vg_jsonp_str(&d, 0, buf, sizeof(buf), -1, NULL), 2);
}

static void test_stop_char_and_cut(void **state)
{
	struct vg_jdoc d;
	char buf[8];
	bool cut;

	assert_int_equal(parse(&d, "\"PASS\\u003dSECRETVALUE\""), 0);
	memset(buf, 'Z', sizeof(buf));
	assert_int_equal(vg_jsonp_str(&d, 0, buf, sizeof(buf), '=', &cut), 4);
	assert_string_equal(buf, "PASS");
	assert_false(cut);
	for (size_t i = 5; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 'Z'); /* nothing past the name was written */
	/* cut at a character boundary: 3 x 2-byte chars do not fit in 6 bytes + NUL */
	assert_int_equal(parse(&d, "\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\""), 0);
	assert_int_equal(vg_jsonp_str(&d, 0, buf, 6, -1, &cut), 4);
	assert_true(cut);
}

static void test_malformed(void **state)
{
	static const char *bad[] = {
		"", " ", "{", "[1,", "{\"a\":}", "{\"a\" 1}", "{\"a\":1,}", "[1,]", "[1 2]",
		"{\"a\":1}}", "{\"a\":1} x", "\"abc", "\"a\x01b\"", "\"\\x\"", "\"\\u12\"",
		"01", "-", "1.", "1e", "tru", "nul", "[}", "{]", "{1:2}", "'a'", "[\"a\"\"b\"]",
	};
	struct vg_jdoc d;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse(&d, bad[i]);

		if (rc != -EINVAL)
			fail_msg("accepted or wrong error for '%s': %d", bad[i], rc);
	}
	/* embedded NUL byte is not whitespace */
	assert_int_equal(vg_jsonp_parse(&d, "{}\0", 3, toks, NTOK), -EINVAL);
}

static void test_limits(void **state)
{
	struct vg_jdoc d;
	char deep[VG_JSONP_DEPTH * 2 + 8];
	size_t n = 0;

	for (int i = 0; i < VG_JSONP_DEPTH; i++)
		deep[n++] = '[';
	for (int i = 0; i < VG_JSONP_DEPTH; i++)
		deep[n++] = ']';
	assert_int_equal(vg_jsonp_parse(&d, deep, n, toks, NTOK), 0);
	/* one level more is refused */
	n = 0;
	for (int i = 0; i <= VG_JSONP_DEPTH; i++)
		deep[n++] = '[';
	for (int i = 0; i <= VG_JSONP_DEPTH; i++)
		deep[n++] = ']';
	assert_int_equal(vg_jsonp_parse(&d, deep, n, toks, NTOK), -E2BIG);

	/* token cap */
	assert_int_equal(vg_jsonp_parse(&d, "[1,2,3]", 7, toks, 3), -E2BIG);
	assert_int_equal(vg_jsonp_parse(&d, "[1,2,3]", 7, toks, 4), 0);

	/* a string longer than any buffer a reader decodes into costs only
	 * itself: the document parses, its other members read whole, and the
	 * long one decodes cut (a certificate in a container's environment
	 * once cost the whole inspect response, and so the container's name) */
	const char *pre = "{\"Env\":[\"CERT=", *post = "\"],\"Name\":\"/web\"}";
	size_t body = 4 * VG_JSONP_STR_MAX, big = strlen(pre) + body + strlen(post);
	char *s = malloc(big + 1), small[16];
	bool cut = false;
	assert_non_null(s);
	memcpy(s, pre, strlen(pre));
	memset(s + strlen(pre), 'a', body);
	memcpy(s + strlen(pre) + body, post, strlen(post) + 1);
	assert_int_equal(vg_jsonp_parse(&d, s, big, toks, NTOK), 0);
	assert_true(vg_jsonp_eq(&d, vg_jsonp_get(&d, 0, "Name"), "/web"));
	int env0 = vg_jsonp_first(&d, vg_jsonp_get(&d, 0, "Env"));
	assert_int_equal(vg_jsonp_str(&d, env0, small, sizeof(small), -1, &cut), 15);
	assert_true(cut);
	assert_string_equal(small, "CERT=aaaaaaaaaa");
	free(s);

	/* int64 range */
	int64_t v;
	assert_int_equal(parse(&d, "[9223372036854775808, -9223372036854775808, 1.5, 1e3]"), 0);
	assert_int_equal(vg_jsonp_i64(&d, 1, &v), -ERANGE);
	assert_int_equal(vg_jsonp_i64(&d, 2, &v), 0);
	assert_true(v == INT64_MIN);
	assert_int_equal(vg_jsonp_i64(&d, 3, &v), -EINVAL);
	assert_int_equal(vg_jsonp_i64(&d, 4, &v), -EINVAL);
}

/* Every prefix of a valid document is refused without a crash. */
static void test_truncations(void **state)
{
	const char *s = "{\"Name\":\"/web\",\"Config\":{\"Labels\":{\"a\":\"b\\u00e9\"},"
			"\"Env\":[\"A=1\"]},\"N\":[1.5e3,-0,true,false,null]}";
	struct vg_jdoc d;
	size_t n = strlen(s);

	assert_int_equal(vg_jsonp_parse(&d, s, n, toks, NTOK), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_not_equal(vg_jsonp_parse(&d, s, i, toks, NTOK), 0);
}

/* Pseudo-random byte flips never crash the parser or the accessors. */
static void test_fuzz_flips(void **state)
{
	const char *s = "{\"Name\":\"/web\",\"Config\":{\"Labels\":{\"a\":\"b\\u00e9\"},"
			"\"Env\":[\"A=1\"]},\"N\":[1.5e3,-0,true,false,null]}";
	size_t n = strlen(s);
	char buf[256], out[32];
	unsigned seed = 12345;

	for (int round = 0; round < 20000; round++) {
		struct vg_jdoc d;

		memcpy(buf, s, n);
		for (int k = 0; k < 3; k++) {
			seed = seed * 1103515245u + 12345u;
			buf[(seed >> 8) % n] = (char)(seed >> 16);
		}
		if (vg_jsonp_parse(&d, buf, n, toks, NTOK) == 0) {
			for (unsigned i = 0; i < d.ntok; i++) {
				int64_t v;
				vg_jsonp_str(&d, (int)i, out, sizeof(out), '=', NULL);
				vg_jsonp_i64(&d, (int)i, &v);
				vg_jsonp_count(&d, (int)i);
				vg_jsonp_next(&d, (int)i);
			}
			vg_jsonp_path(&d, 0, "Config.Labels.a");
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup_and_types),
		cmocka_unit_test(test_empty_containers),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_stop_char_and_cut),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_fuzz_flips),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
