/*
 * mpi_h5io.c: parallel HDF5 under mpirun (tests/mpi_unit.sh runs it on 1,
 * 2 and 3 ranks): what ranks write collectively, each its hyperslab, reads
 * back equal on every rank; tables and attributes keep their values; a
 * missing, foreign or truncated file is refused on every rank with a
 * status, not a crash or a hang.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mpi.h>

#include "w2s/comm.h"
#include "w2s/h5io.h"
#include "w2s/log.h"

static struct w2s_comm world;
static char dir[256];

static void path_in_dir(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", dir, name);
}

enum { ROWS = 103, COLS = 7 };

static float cell(int64_t r, int64_t k)
{
	return (float)r * 0.5f - (float)k * 3.25f;
}

static void rows_written_by_every_rank_read_back_equal(void **state)
{
	char path[512];
	path_in_dir(path, sizeof path, "rows.h5");
	int64_t b, e;
	w2s_shard(ROWS, world.rank, world.size, &b, &e);
	float *mine = malloc((size_t)((e - b) * COLS + 1) * sizeof *mine);
	int64_t *ids = malloc((size_t)(e - b + 1) * sizeof *ids);
	for (int64_t r = b; r < e; r++) {
		ids[r - b] = r * 1000003;
		for (int k = 0; k < COLS; k++)
			mine[(r - b) * COLS + k] = cell(r, k);
	}
	struct w2s_h5 f = {.file = -1};
	assert_int_equal(w2s_h5_create(&f, &world, path), W2S_STATUS_OK);
	assert_int_equal(w2s_h5_write_rows(&f, &world, "/a/b/matrix", W2S_H5_F32, ROWS, COLS, b,
					   e - b, mine),
			 W2S_STATUS_OK);
	assert_int_equal(w2s_h5_write_rows(&f, &world, "/ids", W2S_H5_I64, ROWS, 0, b, e - b, ids),
			 W2S_STATUS_OK);
	assert_int_equal(w2s_h5_attr_string(&f, "/a/b/matrix", "note", "héllo"), W2S_STATUS_OK);
	assert_int_equal(w2s_h5_attr_int64(&f, "/", "answer", 42), W2S_STATUS_OK);
	w2s_h5_close(&f);

	assert_int_equal(w2s_h5_open(&f, &world, path), W2S_STATUS_OK);
	float *all = malloc(ROWS * COLS * sizeof *all);
	int64_t all_ids[ROWS];
	assert_int_equal(w2s_h5_read_rows(&f, "/a/b/matrix", W2S_H5_F32, COLS, 0, ROWS, all),
			 W2S_STATUS_OK);
	assert_int_equal(w2s_h5_read_rows(&f, "/ids", W2S_H5_I64, 0, 0, ROWS, all_ids),
			 W2S_STATUS_OK);
	for (int64_t r = 0; r < ROWS; r++) {
		assert_int_equal(all_ids[r], r * 1000003);
		for (int k = 0; k < COLS; k++)
			assert_true(all[r * COLS + k] == cell(r, k));
	}
	char *note = NULL;
	assert_int_equal(w2s_h5_attr_read_string(&f, "/a/b/matrix", "note", &note), W2S_STATUS_OK);
	assert_string_equal(note, "héllo");
	free(note);
	/* Asking for the wrong shape is an error with a message, not garbage. */
	w2s_log_init(world.rank, W2S_LOG_ERROR + 0);
	assert_int_equal(w2s_h5_read_rows(&f, "/a/b/matrix", W2S_H5_F32, COLS + 1, 0, 1, all),
			 W2S_STATUS_IO);
	assert_int_equal(w2s_h5_read_rows(&f, "/nothing", W2S_H5_F32, COLS, 0, 1, all),
			 W2S_STATUS_IO);
	w2s_h5_close(&f);
	w2s_h5_close(&f); /* twice is harmless */
	free(all);
	free(ids);
	free(mine);
}

struct row {
	char name[16];
	int64_t n;
	double value;
};

static void a_table_keeps_its_rows_and_columns(void **state)
{
	char path[512];
	path_in_dir(path, sizeof path, "table.h5");
	const struct w2s_h5_column cols[] = {
		{"name", W2S_H5_COL_STR, offsetof(struct row, name), 16},
		{"n", W2S_H5_COL_I64, offsetof(struct row, n), 0},
		{"value", W2S_H5_COL_F64, offsetof(struct row, value), 0},
	};
	struct row rows[3] = {{"first", 1, 0.5}, {"second", 2, -1.25}, {"third", 3, 1e300}};
	struct w2s_h5 f = {.file = -1};
	assert_int_equal(w2s_h5_create(&f, &world, path), W2S_STATUS_OK);
	assert_int_equal(w2s_h5_write_table(&f, &world, "/results", cols, 3, sizeof rows[0], rows, 3),
			 W2S_STATUS_OK);
	w2s_h5_close(&f);
	/* Read back through the library's own reader of 1-D data: the table
	 * has 3 rows. */
	assert_int_equal(w2s_h5_open(&f, &world, path), W2S_STATUS_OK);
	int64_t n = 0, c = -1;
	assert_int_equal(w2s_h5_shape(&f, "/results", &n, &c), W2S_STATUS_OK);
	assert_int_equal(n, 3);
	assert_int_equal(c, 0);
	w2s_h5_close(&f);
}

static void missing_foreign_and_truncated_files_are_refused_on_every_rank(void **state)
{
	char missing[512], foreign[512], truncated[512], good[512];
	path_in_dir(missing, sizeof missing, "missing.h5");
	path_in_dir(foreign, sizeof foreign, "foreign.h5");
	path_in_dir(truncated, sizeof truncated, "truncated.h5");
	path_in_dir(good, sizeof good, "rows.h5");
	if (world.rank == 0) {
		FILE *f = fopen(foreign, "w");
		fputs("seed: 1\nthis is a YAML file, not HDF5\n", f);
		fclose(f);
		/* The first 2 KiB of a real file: a valid signature, missing objects. */
		FILE *in = fopen(good, "rb"), *out = fopen(truncated, "wb");
		char buf[2048];
		size_t got = fread(buf, 1, sizeof buf, in);
		fwrite(buf, 1, got, out);
		fclose(in);
		fclose(out);
	}
	w2s_comm_barrier(&world);
	w2s_log_init(world.rank, W2S_LOG_ERROR);
	struct w2s_h5 f = {.file = -1};
	assert_int_equal(w2s_h5_open(&f, &world, missing), W2S_STATUS_IO);
	assert_int_equal(w2s_h5_open(&f, &world, foreign), W2S_STATUS_IO);
	enum w2s_status st = w2s_h5_open(&f, &world, truncated);
	if (st == W2S_STATUS_OK) {
		/* HDF5 may open the superblock; then reading the data must fail. */
		float x[COLS];
		int bad = w2s_h5_read_rows(&f, "/a/b/matrix", W2S_H5_F32, COLS, ROWS - 1, 1, x) !=
			  W2S_STATUS_OK;
		w2s_h5_close(&f);
		assert_true(w2s_comm_agree(&world, bad) != 0);
	}
	assert_true(f.file < 0);
}

static void a_trace_appends_rows_on_rank_zero(void **state)
{
	char path[512];
	path_in_dir(path, sizeof path, "metrics.h5");
	if (world.rank != 0)
		return;
	struct w2s_trace t;
	const char *names[] = {"weak.weak", "student.strong"};
	struct w2s_provenance p = {.kind = "metrics", .config_json = "{}", .world_size = 1};
	assert_int_equal(w2s_trace_create(&t, path, names, 2, &p), W2S_STATUS_OK);
	for (int i = 1; i <= 300; i++) {
		struct w2s_trace_row r = {.step = i * 10, .loss = 1.0 / i};
		assert_int_equal(w2s_trace_append(&t, i % 2, &r), W2S_STATUS_OK);
	}
	assert_int_equal(t.len[0], 150);
	assert_int_equal(t.len[1], 150);
	w2s_trace_close(&t);
	w2s_trace_close(&t);
}

int main(int argc, char **argv)
{
	MPI_Init(&argc, &argv);
	w2s_comm_init(&world, MPI_COMM_WORLD);
	w2s_log_init(world.rank, W2S_LOG_WARN);
	w2s_log_set_world(world.size);
	w2s_h5_init();
	if (world.rank == 0) {
		snprintf(dir, sizeof dir, "%s/w2s-h5io.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		if (!mkdtemp(dir))
			dir[0] = '\0';
	}
	w2s_comm_bcast(&world, dir, sizeof dir, 0);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rows_written_by_every_rank_read_back_equal),
		cmocka_unit_test(a_table_keeps_its_rows_and_columns),
		cmocka_unit_test(missing_foreign_and_truncated_files_are_refused_on_every_rank),
		cmocka_unit_test(a_trace_appends_rows_on_rank_zero),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	w2s_comm_barrier(&world);
	if (world.rank == 0) {
		const char *names[] = {"rows.h5", "table.h5", "foreign.h5", "truncated.h5", "metrics.h5"};
		for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
			char p[512];
			path_in_dir(p, sizeof p, names[i]);
			unlink(p);
		}
		rmdir(dir);
	}
	w2s_comm_free(&world);
	MPI_Finalize();
	return failed;
}
