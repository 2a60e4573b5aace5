/*
 * test_comm.c: sharding gives every row to exactly one rank, in order, with
 * shares that differ by at most one row.  Plain integers: no MPI needed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "w2s/comm.h"

static void shards_cover_every_row_once_in_order(void **state)
{
	const int64_t ns[] = {0, 1, 2, 3, 7, 100, 1001, 65537};
	for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
		for (int size = 1; size <= 9; size++) {
			int64_t next = 0, lo = INT64_MAX, hi = 0;
			for (int r = 0; r < size; r++) {
				int64_t b, e;
				w2s_shard(ns[k], r, size, &b, &e);
				assert_int_equal(b, next);
				assert_true(e >= b);
				next = e;
				lo = e - b < lo ? e - b : lo;
				hi = e - b > hi ? e - b : hi;
			}
			assert_int_equal(next, ns[k]);
			assert_true(hi - lo <= 1);
		}
	}
}

static void one_rank_owns_everything(void **state)
{
	int64_t b, e;
	w2s_shard(12345, 0, 1, &b, &e);
	assert_int_equal(b, 0);
	assert_int_equal(e, 12345);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(shards_cover_every_row_once_in_order),
		cmocka_unit_test(one_rank_owns_everything),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
