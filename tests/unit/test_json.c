/* Unit tests for json.c: exact outputs, hostile strings checked by a real
 * JSON parser (Python's json module, strict UTF-8), seeded byte fuzzing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "vigil/json.h"

static char mem[8192];

static const char *str_json(const char *s, size_t n)
{
	struct vg_buf b;

	vg_buf_init(&b, mem, sizeof(mem));
	vg_json_str(&b, s, n);
	assert_false(b.overflow);
	return b.p;
}

#define S(lit) str_json(lit, sizeof(lit) - 1)

static void test_object_layout(void **state)
{
	struct vg_buf b;

	vg_buf_init(&b, mem, sizeof(mem));
	vg_json_obj_open(&b);
	vg_json_kv_cstr(&b, "a", "x");
	vg_json_kv_u64(&b, "n", 18446744073709551615ull);
	vg_json_kv_i64(&b, "i", INT64_MIN);
	vg_json_kv_i64(&b, "z", 0);
	vg_json_key(&b, "o");
	vg_json_obj_open(&b);
	vg_json_obj_close(&b);
	vg_json_key(&b, "arr");
	vg_json_arr_open(&b);
	vg_json_u64(&b, 1);
	vg_json_bool(&b, true);
	vg_json_null(&b);
	vg_json_arr_open(&b);
	vg_json_arr_close(&b);
	vg_json_cstr(&b, NULL);
	vg_json_arr_close(&b);
	vg_json_kv_bool(&b, "f", false);
	/* members kept from an earlier line: a comma before and after */
	vg_json_raw(&b, "\"k\":[2],\"m\":{}", 14);
	vg_json_key(&b, "in");
	vg_json_obj_open(&b);
	vg_json_raw(&b, "\"r\":1", 5);
	vg_json_obj_close(&b);
	vg_json_obj_close(&b);
	assert_false(b.overflow);
	assert_string_equal(b.p, "{\"a\":\"x\",\"n\":18446744073709551615,"
				 "\"i\":-9223372036854775808,\"z\":0,\"o\":{},"
				 "\"arr\":[1,true,null,[],null],\"f\":false,"
				 "\"k\":[2],\"m\":{},\"in\":{\"r\":1}}");
	assert_int_equal(b.len, strlen(b.p));

	vg_buf_reset(&b);
	assert_int_equal(b.len, 0);
	vg_json_u64(&b, 7);
	assert_string_equal(b.p, "7");
}

static void test_escapes_exact(void **state)
{
	assert_string_equal(S("plain"), "\"plain\"");
	assert_string_equal(S(""), "\"\"");
	assert_string_equal(S("a\"b\\c/"), "\"a\\\"b\\\\c/\"");
	assert_string_equal(S("\n\t\r\b\f"), "\"\\n\\t\\r\\b\\f\"");
	assert_string_equal(S("\x01\x1b[31m\x1f"), "\"\\u0001\\u001b[31m\\u001f\"");
	assert_string_equal(S("a\0b"), "\"a\\u0000b\"");
	assert_string_equal(S("\x7f"), "\"\x7f\"");
	/* valid UTF-8 passes unchanged: é, €, U+10FFFF, emoji */
	assert_string_equal(S("\xc3\xa9\xe2\x82\xac\xf4\x8f\xbf\xbf\xf0\x9f\x98\x80"),
			    "\"\xc3\xa9\xe2\x82\xac\xf4\x8f\xbf\xbf\xf0\x9f\x98\x80\"");
	/* C1 controls and U+2028/9 are valid JSON but escaped anyway */
	assert_string_equal(S("\xc2\x9b\xc2\x85"), "\"\\u009b\\u0085\"");
	assert_string_equal(S("\xe2\x80\xa8\xe2\x80\xa9"), "\"\\u2028\\u2029\"");
	/* invisible and reordering code points too (a bidi override in a
	 * name would reorder a terminal's line); a tag as a surrogate pair */
	assert_string_equal(S("a\xe2\x80\xae" "b"), "\"a\\u202eb\"");
	assert_string_equal(S("a\xd8\x9c" "b"), "\"a\\u061cb\"");
	assert_string_equal(S("a\xf3\xa0\x80\x81" "b"), "\"a\\udb40\\udc01b\"");
	assert_string_equal(S("\xc2\xa0"), "\"\xc2\xa0\"");
}

#define FFFD "\xef\xbf\xbd"

static void test_invalid_utf8(void **state)
{
	/* overlong '/' : C0 is never valid, AF a lone continuation */
	assert_string_equal(S("\xc0\xaf"), "\"" FFFD FFFD "\"");
	/* overlong 3-byte (E0 80..9F) */
	assert_string_equal(S("\xe0\x80\xaf"), "\"" FFFD FFFD FFFD "\"");
	/* surrogate U+D800 (ED A0 80) */
	assert_string_equal(S("\xed\xa0\x80"), "\"" FFFD FFFD FFFD "\"");
	/* U+DFFF */
	assert_string_equal(S("\xed\xbf\xbf"), "\"" FFFD FFFD FFFD "\"");
	/* above U+10FFFF: F4 90 and F5.. */
	assert_string_equal(S("\xf4\x90\x80\x80"), "\"" FFFD FFFD FFFD FFFD "\"");
	assert_string_equal(S("\xf5\x80"), "\"" FFFD FFFD "\"");
	assert_string_equal(S("\xff"), "\"" FFFD "\"");
	/* truncated sequences: one U+FFFD per maximal subpart */
	assert_string_equal(S("\xe2\x82"), "\"" FFFD "\"");
	assert_string_equal(S("\xe2\x82x"), "\"" FFFD "x\"");
	assert_string_equal(S("\xf0\x9f\x98"), "\"" FFFD "\"");
	assert_string_equal(S("a\xc3"), "\"a" FFFD "\"");
	/* a lone continuation then a valid char */
	assert_string_equal(S("\x80\xc3\xa9"), "\"" FFFD "\xc3\xa9\"");
}

static void test_overflow(void **state)
{
	char small[8];
	struct vg_buf b;

	vg_buf_init(&b, small, sizeof(small));
	vg_json_cstr(&b, "abcde"); /* 7 bytes + NUL: fits exactly */
	assert_false(b.overflow);
	assert_string_equal(b.p, "\"abcde\"");
	vg_json_u64(&b, 1);
	assert_true(b.overflow);
	assert_true(b.len < sizeof(small));
	assert_non_null(memchr(small, '\0', sizeof(small)));
	/* later writes are ignored */
	vg_json_null(&b);
	vg_json_raw(&b, "1", 1);
	assert_true(b.overflow);
	assert_string_equal(b.p, "\"abcde\"");

	/* raw bytes that do not fit are not written at all */
	vg_buf_init(&b, small, sizeof(small));
	vg_json_raw(&b, "[1,2,33]", 8);
	assert_true(b.overflow);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.p, "");

	/* an escape that does not fit must not be written halfway */
	vg_buf_init(&b, small, sizeof(small));
	vg_json_str(&b, "ab\x01", 3);
	assert_true(b.overflow);
	assert_null(strstr(b.p, "\\u"));

	vg_buf_init(&b, small, 0);
	assert_true(b.overflow);
	vg_json_null(&b);
	assert_int_equal(b.len, 0);
}

/* every digit count and its edges, as printf writes them */
static void test_numbers_like_printf(void **state)
{
	char want[64];
	struct vg_buf b;

	for (uint64_t p = 1, k = 0; k < 20; k++, p *= 10) {
		const uint64_t vs[] = {p - 1, p, p + 1, p * 9 + p - 1, p * 5 + 7};

		for (size_t i = 0; i < sizeof(vs) / sizeof(vs[0]); i++) {
			vg_buf_init(&b, mem, sizeof(mem));
			vg_json_u64(&b, vs[i]);
			vg_json_i64(&b, -(int64_t)(vs[i] >> 1));
			snprintf(want, sizeof(want), "%llu,%lld", (unsigned long long)vs[i],
				 -(long long)(vs[i] >> 1));
			assert_string_equal(b.p, want);
		}
	}
	for (uint64_t v = 0; v < 100000; v += 7) {
		vg_buf_init(&b, mem, sizeof(mem));
		vg_json_u64(&b, v);
		snprintf(want, sizeof(want), "%llu", (unsigned long long)v);
		assert_string_equal(b.p, want);
	}
}

static void fmt_gmtime(char *out, size_t sz, uint64_t ns)
{
	time_t t = (time_t)(ns / 1000000000ull);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, sz, "\"%04d-%02d-%02dT%02d:%02d:%02d.%09uZ\"", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned)(ns % 1000000000ull));
}

static void test_time(void **state)
{
	static const uint64_t fixed[] = {
		0,
		1,
		951782400000000000ull,  /* 2000-02-29 */
		1709164800999999999ull, /* 2024-02-29 end of day */
		4107542400000000000ull, /* 2100-03-01 (not a leap year) */
		18446744073709551615ull,
	};
	struct vg_buf b;
	char want[64];
	unsigned i;

	vg_buf_init(&b, mem, sizeof(mem));
	vg_json_time(&b, 1796392343123456789ull);
	assert_string_equal(b.p, "\"2026-12-04T13:52:23.123456789Z\"");
	vg_buf_reset(&b);
	vg_json_time(&b, 0);
	assert_string_equal(b.p, "\"1970-01-01T00:00:00.000000000Z\"");

	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		vg_buf_reset(&b);
		vg_json_time(&b, fixed[i]);
		fmt_gmtime(want, sizeof(want), fixed[i]);
		assert_string_equal(b.p, want);
	}
	srandom(42);
	for (i = 0; i < 20000; i++) {
		uint64_t ns = ((uint64_t)random() << 33) ^ ((uint64_t)random() << 2) ^
			      (uint64_t)random();
		vg_buf_reset(&b);
		vg_json_time(&b, ns);
		fmt_gmtime(want, sizeof(want), ns);
		assert_string_equal(b.p, want);
	}
	/* as an object value it takes its comma like any value */
	vg_buf_reset(&b);
	vg_json_obj_open(&b);
	vg_json_kv_u64(&b, "a", 1);
	vg_json_key(&b, "@timestamp");
	vg_json_time(&b, 0);
	vg_json_obj_close(&b);
	assert_string_equal(b.p, "{\"a\":1,\"@timestamp\":\"1970-01-01T00:00:00.000000000Z\"}");
}

/*
 * The checker: each line is {"kind":"json"|"term","hex":...,"s":...}.  For
 * "json", s must equal the input decoded by Python with errors="replace"
 * (which also substitutes one U+FFFD per maximal subpart); for "term", s is
 * the hex of the terminal rendering, which must be strict UTF-8 and hold no
 * control character at all.  The
 * whole stream is decoded as strict UTF-8 first.
 */
static const char checker[] =
	"python3 -c '\n"
	"import json, sys\n"
	"bad = 0\n"
	"for n, line in enumerate(sys.stdin.buffer.read().decode(\"utf-8\").split(\"\\n\")[:-1]):\n"
	"    o = json.loads(line)\n"
	"    raw = bytes.fromhex(o[\"hex\"])\n"
	"    if o[\"kind\"] == \"json\":\n"
	"        if o[\"s\"] != raw.decode(\"utf-8\", \"replace\"):\n"
	"            print(\"mismatch line\", n, ascii(o[\"s\"]), raw, file=sys.stderr); bad += 1\n"
	"    else:\n"
	"        t = bytes.fromhex(o[\"s\"]).decode(\"utf-8\")\n"
	"        if any(ord(c) < 32 or 127 <= ord(c) <= 159 or 0x202a <= ord(c) <= 0x202e or 0x2066 <= ord(c) <= 0x2069\n"
	"               for c in t):\n"
	"            print(\"control in term line\", n, ascii(t), file=sys.stderr); bad += 1\n"
	"sys.exit(1 if bad else 0)\n"
	"'";

static bool have_python(void)
{
	return system("python3 -c pass >/dev/null 2>&1") == 0;
}

static void emit_line(FILE *f, const char *kind, const unsigned char *in, size_t n,
		      const char *s, size_t slen, bool raw_str)
{
	static char line[65536];
	char hex[4096];
	struct vg_buf b;
	size_t i;

	assert_true(n * 2 < sizeof(hex));
	for (i = 0; i < n; i++)
		sprintf(hex + 2 * i, "%02x", in[i]);
	hex[2 * n] = '\0';
	vg_buf_init(&b, line, sizeof(line));
	vg_json_obj_open(&b);
	vg_json_kv_cstr(&b, "kind", kind);
	vg_json_kv_cstr(&b, "hex", hex);
	vg_json_key(&b, "s");
	if (raw_str) {
		/* s is already a JSON string literal */
		vg_buf_raw(&b, s, slen);
		b.need_comma = true;
	} else {
		vg_json_str(&b, s, slen);
	}
	vg_json_obj_close(&b);
	assert_false(b.overflow);
	fputs(b.p, f);
	fputc('\n', f);
}

static void check_one(FILE *f, const unsigned char *in, size_t n)
{
	static char hex[16384];
	char out[8192], tbuf[8192];
	struct vg_buf b;
	size_t tl, i;

	vg_buf_init(&b, out, sizeof(out));
	vg_json_str(&b, (const char *)in, n);
	assert_false(b.overflow);
	emit_line(f, "json", in, n, b.p, b.len, true);
	tl = vg_term_escape(tbuf, sizeof(tbuf), (const char *)in, n);
	assert_int_equal(tl, strlen(tbuf));
	/* the terminal bytes go as hex, so Python checks them as strict UTF-8 */
	assert_true(tl * 2 < sizeof(hex));
	for (i = 0; i < tl; i++)
		sprintf(hex + 2 * i, "%02x", (unsigned char)tbuf[i]);
	emit_line(f, "term", in, n, hex, 2 * tl, false);
}

static void test_hostile_real_parser(void **state)
{
	static const char *const hostile[] = {
		"\"}{\"injected\":1,\"x\":\"",
		"\\u0000\\",
		"\x1b]0;owned\x07\x1b[2J",
		"\xc0\x80\xc1\xbf\xe0\x9f\xbf\xf0\x8f\xbf\xbf",
		"\xed\xa0\x80\xed\xbf\xbf\xed\x9f\xbf",
		"\xf4\x90\x80\x80\xf7\xbf\xbf\xbf\xf8\x88\x80\x80\x80",
		"\xe2\x80\xae\xe2\x81\xa6reversed\xe2\x80\x8b",
		"\xc2\x80\xc2\x9f\x9b\x80\xff\xfe",
		"\x7f\x7f\r\n\t",
		"trailing \xe2\x82",
	};
	FILE *f;
	unsigned i, j;
	unsigned char buf[600];

	if (!have_python())
		skip();
	f = popen(checker, "w");
	assert_non_null(f);
	for (i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++)
		check_one(f, (const unsigned char *)hostile[i], strlen(hostile[i]));
	/* every single byte, and every byte followed by a continuation */
	for (i = 0; i < 256; i++) {
		buf[0] = (unsigned char)i;
		buf[1] = 0x80 | (i & 0x3f);
		buf[2] = 'z';
		check_one(f, buf, 1);
		check_one(f, buf, 3);
	}
	/* seeded fuzz: random bytes biased towards UTF-8 structure */
	srandom(1234);
	for (i = 0; i < 3000; i++) {
		size_t n = (size_t)random() % sizeof(buf);

		for (j = 0; j < n; j++) {
			long r = random();

			switch (r % 4) {
			case 0: buf[j] = (unsigned char)(r >> 8); break;
			case 1: buf[j] = (unsigned char)(0x80 | ((r >> 8) & 0x3f)); break;
			case 2: buf[j] = (unsigned char)(0xc0 | ((r >> 8) & 0x3f)); break;
			default: buf[j] = (unsigned char)(0x20 + (r >> 8) % 0x60); break;
			}
		}
		check_one(f, buf, n);
	}
	assert_int_equal(pclose(f), 0);
}

static const char *term(const char *s, size_t n)
{
	static char out[1024];

	vg_term_escape(out, sizeof(out), s, n);
	return out;
}

#define T(lit) term(lit, sizeof(lit) - 1)

static void test_term_exact(void **state)
{
	char small[8];

	assert_string_equal(T("ls -la"), "ls -la");
	assert_string_equal(T("\x1b[31mred\x1b[0m"), "\\x1b[31mred\\x1b[0m");
	assert_string_equal(T("a\nb\tc\r"), "a\\nb\\tc\\r");
	assert_string_equal(T("\x7f\x01"), "\\x7f\\x01");
	assert_string_equal(T("C:\\x"), "C:\\\\x");
	assert_string_equal(T("\"q\""), "\"q\"");
	/* C1 as UTF-8 (CSI U+009B) and as a raw byte */
	assert_string_equal(T("\xc2\x9b" "2J"), "\\u009b2J");
	assert_string_equal(T("\x9b" "2J"), "\\x9b2J");
	/* bidi override */
	assert_string_equal(T("a\xe2\x80\xae" "b"), "a\\u202eb");
	/* invisible format characters: Arabic letter mark, soft hyphen,
	 * word joiner, a Hangul filler, a tag (past the BMP) */
	assert_string_equal(T("a\xd8\x9c" "b"), "a\\u061cb");
	assert_string_equal(T("a\xc2\xad" "b"), "a\\u00adb");
	assert_string_equal(T("a\xe2\x81\xa0" "b"), "a\\u2060b");
	assert_string_equal(T("a\xe3\x85\xa4" "b"), "a\\u3164b");
	assert_string_equal(T("a\xf3\xa0\x80\x81" "b"), "a\\U000e0001b");
	/* combining grapheme joiner, a variation selector past the BMP, an
	 * Arabic number sign; a letter beside them stays */
	assert_string_equal(T("a\xcd\x8f" "b"), "a\\u034fb");
	assert_string_equal(T("a\xf3\xa0\x84\x80" "b"), "a\\U000e0100b");
	assert_string_equal(T("\xd8\x80\xd8\xa8"), "\\u0600\xd8\xa8");
	/* valid printable UTF-8 passes */
	assert_string_equal(T("caf\xc3\xa9 \xf0\x9f\x98\x80"), "caf\xc3\xa9 \xf0\x9f\x98\x80");
	/* invalid UTF-8: one \xNN per byte */
	assert_string_equal(T("\xed\xa0\x80"), "\\xed\\xa0\\x80");
	assert_string_equal(T("\xe2\x82"), "\\xe2\\x82");
	assert_string_equal(T("a\0b"), "a\\x00b");

	/* truncation never cuts an escape or a character */
	assert_int_equal(vg_term_escape(small, sizeof(small), "abcd\x1b", 5), 4);
	assert_string_equal(small, "abcd");
	assert_int_equal(vg_term_escape(small, sizeof(small), "abcdef\xc3\xa9", 8), 6);
	assert_string_equal(small, "abcdef");
	assert_int_equal(vg_term_escape(small, sizeof(small), "abcdefghij", 10), 7);
	assert_int_equal(vg_term_escape(small, 1, "abc", 3), 0);
	assert_string_equal(small, "");
	assert_int_equal(vg_term_escape(small, 0, "abc", 3), 0);
}

/* the 8-bytes-at-a-time scan finds a byte needing escape at any offset, in
 * strings of every length around the word size */
static void test_escape_at_every_offset(void **state)
{
	static const struct {
		unsigned char c;
		const char *want;
	} special[] = {
		{0x01, "\\u0001"}, {0x1f, "\\u001f"}, {'"', "\\\""}, {'\\', "\\\\"},
		{0x80, "\xef\xbf\xbd"}, {0xff, "\xef\xbf\xbd"}, {0x7f, "\x7f"}, {' ', " "},
	};
	char in[40], want[128], got[256];
	struct vg_buf b;

	(void)state;
	for (size_t len = 1; len <= 33; len++) {
		for (size_t k = 0; k < sizeof(special) / sizeof(special[0]); k++) {
			for (size_t pos = 0; pos < len; pos++) {
				memset(in, 'a', len);
				in[pos] = (char)special[k].c;
				snprintf(want, sizeof(want), "\"%.*s%s%.*s\"", (int)pos, in,
					 special[k].want, (int)(len - 1 - pos), in + pos + 1);
				vg_buf_init(&b, got, sizeof(got));
				vg_json_str(&b, in, len);
				assert_false(b.overflow);
				assert_string_equal(got, want);
			}
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_at_every_offset),
		cmocka_unit_test(test_object_layout),
		cmocka_unit_test(test_escapes_exact),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_overflow),
		cmocka_unit_test(test_numbers_like_printf),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_hostile_real_parser),
		cmocka_unit_test(test_term_exact),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
