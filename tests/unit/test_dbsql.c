/*
 * test_dbsql.c - the SQL text builder of db.c (no server): every append at every fill of the buffer
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "db.h"

/*
 * A hex literal lands exactly at the end of the buffer for some prefix
 * length: the closing quote and the NUL must fit (under ASan an
 * overflow aborts here).  The text must be the prefix, then
 * _utf8mb4 X'<hex>', and len must be its length.
 */
static void
test_strn_at_every_fill(void **state)
{
	static const char want_hex[] = "_utf8mb4 X'616263'";

	(void)state;
	for (size_t pre = 0; pre < 1100; pre++) {
		struct db_sql q;
		char *prefix = malloc(pre + 1);

		assert_non_null(prefix);
		memset(prefix, 'p', pre);
		prefix[pre] = '\0';
		db_sql_init(&q);
		db_sql_raw(&q, prefix);
		db_sql_strn(&q, "abc", 3);
		assert_true(db_sql_ok(&q));
		assert_int_equal(strlen(q.buf), q.len);
		assert_int_equal(q.len, pre + sizeof(want_hex) - 1);
		assert_string_equal(q.buf + pre, want_hex);
		db_sql_free(&q);
		free(prefix);
	}
}

/* Long values: one byte to 2 kB, each byte as two digits. */
static void
test_strn_lengths(void **state)
{
	char value[2048];

	(void)state;
	memset(value, 0xff, sizeof(value));
	for (size_t n = 1; n <= sizeof(value); n += 7) {
		struct db_sql q;

		db_sql_init(&q);
		db_sql_strn(&q, value, n);
		assert_true(db_sql_ok(&q));
		assert_int_equal(q.len, 11 + 2 * n + 1);
		assert_int_equal(q.buf[q.len - 1], '\'');
		assert_int_equal(q.buf[11], 'f');
		db_sql_free(&q);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strn_at_every_fill),
		cmocka_unit_test(test_strn_lengths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
