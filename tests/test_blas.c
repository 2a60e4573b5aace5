/*
 * test_blas.c: w2s_blas_sgemm against a naive triple loop in double, for
 * every transpose combination, odd sizes, padded leading dimensions, and
 * the beta/alpha cases the models use; the strided form in every
 * row/column-major layout, with sizes past every cache block; the BLIS
 * sub-configuration and block sizes chosen on this CPU; and that a row of
 * a product does not depend on the row count where blas says so.
 *
 * Not tested: that a BLIS_ARCH_TYPE set by the user wins over ours; BLIS
 * reads it once per process, so that needs a second process.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "w2s/blas.h"
#include "w2s/common.h"
#include "w2s/rng.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

/* Whether the user set BLIS_ARCH_TYPE, seen before w2s_blas_init sets it. */
static bool arch_set_by_user;

/* Fills x (rows, ld) with normals; the padding past `cols` gets NaN so that
 * a read past the logical width shows up in the result. */
static float *random_matrix(size_t rows, size_t cols, size_t ld, uint64_t index)
{
	float *x = w2s_xmalloc(rows * ld * sizeof(float) + sizeof(float));
	w2s_rng_normals(42, 1, index, x, rows * ld);
	for (size_t i = 0; i < rows; i++)
		for (size_t j = cols; j < ld; j++)
			x[i * ld + j] = NAN;
	return x;
}

/* Element (i, j) of op(X) for row-major X with leading dimension ld. */
static double op_at(const float *x, size_t ld, bool trans, size_t i, size_t j)
{
	return trans ? (double)x[j * ld + i] : (double)x[i * ld + j];
}

/* Runs one sgemm and compares with the naive product.  The tolerance is
 * relative to sum_k |alpha a_ik b_kj| + |beta c_ij|, the size of the terms
 * float rounding acts on. */
static void check_sgemm(bool ta, bool tb, size_t m, size_t n, size_t k, size_t pad,
			float alpha, float beta)
{
	size_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
	float *a = random_matrix(ta ? k : m, ta ? m : k, lda, 1);
	float *b = random_matrix(tb ? n : k, tb ? k : n, ldb, 2);
	float *c = random_matrix(m, n, ldc, 3);
	if (beta == 0.0f)
		for (size_t i = 0; i < m * ldc; i++)
			c[i] = NAN; /* beta == 0 must ignore what C held */
	float *c0 = w2s_xmalloc(m * ldc * sizeof(float) + sizeof(float));
	memcpy(c0, c, m * ldc * sizeof(float));

	w2s_blas_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

	/* The worst entry is the one furthest past its tolerance; NaN is
	 * furthest of all. */
	double worst = 0.0, worst_tol = 0.0, worst_ratio = -1.0;
	size_t wi = 0, wj = 0;
	for (size_t i = 0; i < m; i++) {
		for (size_t j = 0; j < n; j++) {
			double ref = 0.0, mag = 0.0;
			for (size_t p = 0; p < k; p++) {
				double t = (double)alpha * op_at(a, lda, ta, i, p) * op_at(b, ldb, tb, p, j);
				ref += t;
				mag += fabs(t);
			}
			if (beta != 0.0f) {
				ref += (double)beta * c0[i * ldc + j];
				mag += fabs((double)beta * c0[i * ldc + j]);
			}
			double tol = 1e-5 * mag + 1e-30;
			double diff = fabs((double)c[i * ldc + j] - ref);
			double ratio = isnan(diff) ? INFINITY : diff / tol;
			if (ratio > worst_ratio) {
				worst_ratio = ratio;
				worst = diff;
				worst_tol = tol;
				wi = i;
				wj = j;
			}
		}
		/* The padding of C belongs to the caller. */
		for (size_t j = n; j < ldc; j++)
			if (memcmp(&c[i * ldc + j], &c0[i * ldc + j], sizeof(float)) != 0)
				fail_msg("sgemm wrote C(%zu, %zu) past its width %zu", i, j, n);
	}
	if (worst_ratio > 1.0)
		fail_msg("sgemm ta=%d tb=%d m=%zu n=%zu k=%zu pad=%zu alpha=%g beta=%g: "
			 "largest difference %g at (%zu, %zu), tolerance there %g",
			 ta, tb, m, n, k, pad, alpha, beta, worst, wi, wj, worst_tol);
	free(a);
	free(b);
	free(c);
	free(c0);
}

static void sgemm_matches_naive_product_all_transposes(void **state)
{
	static const size_t sizes[][3] = {
		{1, 1, 1}, {7, 5, 3}, {1, 9, 4}, {8, 1, 6}, {37, 29, 53}, {65, 33, 17},
	};
	for (int ta = 0; ta < 2; ta++)
		for (int tb = 0; tb < 2; tb++)
			for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
				check_sgemm(ta, tb, sizes[s][0], sizes[s][1], sizes[s][2], 0,
					    1.0f, 0.0f);
}

static void sgemm_respects_leading_dimension_wider_than_row(void **state)
{
	for (int ta = 0; ta < 2; ta++)
		for (int tb = 0; tb < 2; tb++) {
			check_sgemm(ta, tb, 13, 11, 19, 3, 1.0f, 0.0f);
			check_sgemm(ta, tb, 5, 1, 7, 5, 1.0f, 1.0f);
		}
}

static void sgemm_beta_one_accumulates_and_alpha_scales(void **state)
{
	for (int ta = 0; ta < 2; ta++)
		for (int tb = 0; tb < 2; tb++) {
			check_sgemm(ta, tb, 23, 17, 31, 2, 1.0f, 1.0f);
			check_sgemm(ta, tb, 23, 17, 31, 2, -0.75f, 1.0f);
			check_sgemm(ta, tb, 23, 17, 31, 0, 2.5f, 0.0f);
			check_sgemm(ta, tb, 9, 12, 10, 1, 0.5f, -0.5f);
		}
}

static void sgemm_with_k_zero_scales_c_by_beta(void **state)
{
	float c[2 * 4] = {1, 2, 3, 99, 4, 5, 6, 99};
	w2s_blas_sgemm(false, false, 2, 3, 0, 1.0f, NULL, 1, NULL, 3, 0.5f, c, 4);
	const float want[8] = {0.5f, 1, 1.5f, 99, 2, 2.5f, 3, 99};
	for (int i = 0; i < 8; i++)
		if (c[i] != want[i])
			fail_msg("k = 0, beta = 0.5: c[%d] = %g, want %g", i, c[i], want[i]);

	float z[2 * 3] = {NAN, NAN, NAN, INFINITY, NAN, 1};
	w2s_blas_sgemm(true, true, 2, 3, 0, 1.0f, NULL, 2, NULL, 1, 0.0f, z, 3);
	for (int i = 0; i < 6; i++)
		if (z[i] != 0.0f)
			fail_msg("k = 0, beta = 0: c[%d] = %g, want 0", i, z[i]);
}

static void sgemm_with_m_or_n_zero_leaves_c_alone(void **state)
{
	float c[4] = {1, 2, 3, 4};
	float a[4] = {1, 1, 1, 1}, b[4] = {1, 1, 1, 1};
	w2s_blas_sgemm(false, false, 0, 2, 2, 1.0f, a, 2, b, 2, 0.0f, c, 2);
	w2s_blas_sgemm(false, false, 2, 0, 2, 1.0f, a, 2, b, 2, 0.0f, c, 2);
	assert_true(c[0] == 1 && c[1] == 2 && c[2] == 3 && c[3] == 4);
}

/* One strided sgemm with each operand row-major (r = 1) or column-major,
 * padded by one element per row or column, against the naive product. */
static void check_strided(size_t m, size_t n, size_t k, int ra, int rb, int rc, float beta)
{
	size_t lda = (ra ? k : m) + 1, ldb = (rb ? n : k) + 1, ldc = (rc ? n : m) + 1;
	float *a = random_matrix(ra ? m : k, lda, lda, 4);
	float *b = random_matrix(rb ? k : n, ldb, ldb, 5);
	float *c = random_matrix(rc ? m : n, ldc, ldc, 6);
	size_t csize = (rc ? m : n) * ldc;
	if (beta == 0.0f)
		for (size_t i = 0; i < csize; i++)
			c[i] = NAN;
	float *c0 = w2s_xmalloc(csize * sizeof(float));
	memcpy(c0, c, csize * sizeof(float));
	size_t rsa = ra ? lda : 1, csa = ra ? 1 : lda, rsb = rb ? ldb : 1, csb = rb ? 1 : ldb;
	size_t rsc = rc ? ldc : 1, csc = rc ? 1 : ldc;
	w2s_blas_sgemm_strided(m, n, k, 1.0f, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc);
	for (size_t i = 0; i < m; i++)
		for (size_t j = 0; j < n; j++) {
			double ref = 0, mag = 0;
			for (size_t p = 0; p < k; p++) {
				double t = (double)a[i * rsa + p * csa] * (double)b[p * rsb + j * csb];
				ref += t;
				mag += fabs(t);
			}
			if (beta != 0.0f) {
				ref += (double)beta * c0[i * rsc + j * csc];
				mag += fabs((double)beta * c0[i * rsc + j * csc]);
			}
			double diff = fabs((double)c[i * rsc + j * csc] - ref);
			if (!(diff <= 1e-5 * mag + 1e-30))
				fail_msg("strided sgemm m=%zu n=%zu k=%zu, A %s, B %s, C %s, beta %g: "
					 "C(%zu, %zu) = %g, want %g",
					 m, n, k, ra ? "rows" : "cols", rb ? "rows" : "cols",
					 rc ? "rows" : "cols", beta, i, j, c[i * rsc + j * csc], ref);
		}
	/* What lies between the rows (or columns) of C is the caller's. */
	for (size_t i = 0; i < csize; i++)
		if (i % ldc == ldc - 1 && memcmp(&c[i], &c0[i], sizeof(float)) != 0)
			fail_msg("strided sgemm wrote the padding of C at %zu", i);
	free(a);
	free(b);
	free(c);
	free(c0);
}

static void sgemm_strided_matches_naive_product_in_every_layout(void **state)
{
	static const size_t sizes[][3] = {
		{1, 1, 1}, {1, 7, 3}, {6, 1, 4}, {5, 4, 1}, {17, 5, 33}, {40, 37, 16},
	};
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
		for (int l = 0; l < 8; l++) {
			check_strided(sizes[s][0], sizes[s][1], sizes[s][2], l & 1, (l >> 1) & 1,
				      (l >> 2) & 1, 0.0f);
			check_strided(sizes[s][0], sizes[s][1], sizes[s][2], l & 1, (l >> 1) & 1,
				      (l >> 2) & 1, 1.0f);
		}
	/* k = 0 scales C by beta in either layout. */
	float c[6] = {1, 2, 3, 4, 5, 6};
	w2s_blas_sgemm_strided(2, 3, 0, 1.0f, NULL, 1, 1, NULL, 1, 1, 2.0f, c, 1, 2);
	for (int i = 0; i < 6; i++)
		assert_true(c[i] == 2.0f * (float)(i + 1));
}

/* Sizes past the largest cache blocks (512 rows, 1024 inner, 4096
 * columns), so that every block loop runs more than once and ends on a
 * partial block, in the layouts mlp.c uses. */
static void sgemm_spans_several_cache_blocks(void **state)
{
	check_sgemm(false, false, 600, 20, 1100, 1, 1.0f, 0.0f);
	check_sgemm(true, false, 600, 20, 1100, 0, 1.0f, 1.0f);
	check_sgemm(false, true, 20, 4100, 40, 0, 1.0f, 0.0f);
	check_strided(600, 13, 1100, 0, 1, 0, 0.0f); /* a forward layer */
	check_strided(13, 4100, 30, 1, 0, 1, 1.0f);  /* a weight gradient */
	check_strided(530, 17, 1030, 0, 1, 0, 0.0f); /* an input gradient */
}

/* AMD family 19h (Zen 3 and 4), as blas.c tells it. */
static bool cpu_is_amd_family_19h(void)
{
#if defined(__x86_64__) || defined(__i386__)
	unsigned int eax, ebx, ecx, edx;
	__builtin_cpu_init();
	if (!__builtin_cpu_is("amd") || !__get_cpuid(1, &eax, &ebx, &ecx, &edx))
		return false;
	unsigned int family = (eax >> 8) & 0xf;
	return family == 0xf && family + ((eax >> 20) & 0xff) == 0x19;
#else
	return false;
#endif
}

/* On Zen 4, where w2s chose skx itself, the GEMMs run with the block sizes
 * measured faster there; elsewhere with BLIS's own. */
static void block_sizes_are_the_zen4_ones_where_w2s_chose_skx(void **state)
{
	w2s_blas_init();
	size_t mc, kc, nc;
	w2s_blas_blocks(&mc, &kc, &nc);
	print_message("BLIS %s, block sizes MC %zu, KC %zu, NC %zu\n", w2s_blas_arch(), mc, kc, nc);
	assert_true(mc > 0 && kc > 0 && nc > 0);
	bool zen4 = !arch_set_by_user && strcmp(w2s_blas_arch(), "skx") == 0 &&
		    cpu_is_amd_family_19h();
	if (!zen4) {
		print_message("not Zen 4 with skx chosen by w2s: BLIS's own block sizes\n");
		assert_false(mc == 512 && kc == 1024 && nc == 4096);
		return;
	}
	if (mc != 512 || kc != 1024 || nc != 4096)
		fail_msg("Zen 4: block sizes %zu, %zu, %zu, want 512, 1024, 4096", mc, kc, nc);
}

/* Where blas says a row's bits do not depend on the row count, a row of
 * a product is the same in calls of 1 to 600 rows (straddling the sizes at
 * which haswell and zen3 switch kernels: 201 and 512 rows), in the layout
 * of mlp.c's forward pass; skx and generic, which have no small-size
 * kernels, must say so, or the exact reduction would lose its blocks. */
static void rows_are_independent_where_blas_says_so(void **state)
{
	(void)state;
	const bool independent = w2s_blas_rows_independent();
	const char *arch = w2s_blas_arch();
	print_message("BLIS %s: rows independent of the row count: %s\n", arch,
		      independent ? "yes" : "no");
	if (strcmp(arch, "skx") == 0 || strcmp(arch, "generic") == 0)
		assert_true(independent);
	if (!independent)
		skip();
	enum { M = 600, K = 300 };
	static const size_t rows[] = {1, 2, 7, 64, 200, 201, 300, 511, 512};
	static const size_t cols[] = {13, 300};
	float *a = random_matrix(K, M, M, 4); /* (M, K) feature-major: a[i + p * M] */
	float *b = random_matrix(cols[1], K, K, 5); /* (K, n) as W^T: b[p + j * K] */
	float *all = w2s_xmalloc(M * cols[1] * sizeof(float));
	float *part = w2s_xmalloc(M * cols[1] * sizeof(float));
	for (size_t c = 0; c < 2; c++) {
		const size_t n = cols[c];
		w2s_blas_sgemm_strided(M, n, K, 1.0f, a, 1, M, b, 1, K, 0.0f, all, 1, M);
		for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
			const size_t m = rows[r];
			w2s_blas_sgemm_strided(m, n, K, 1.0f, a, 1, M, b, 1, K, 0.0f, part, 1, m);
			for (size_t i = 0; i < m; i++)
				for (size_t j = 0; j < n; j++)
					if (memcmp(&part[i + j * m], &all[i + j * M], sizeof(float)))
						fail_msg("%zu x %zu x %d: C(%zu, %zu) = %a, %a in a "
							 "call of %d rows", m, n, K, i, j,
							 part[i + j * m], all[i + j * M], M);
		}
	}
	free(a);
	free(b);
	free(all);
	free(part);
}

static void blis_is_not_generic_on_avx512_cpu(void **state)
{
	bool warn = w2s_blas_init();
	const char *arch = w2s_blas_arch();
	const char *version = w2s_blas_version();
	assert_non_null(arch);
	assert_non_null(version);
	assert_true(version[0] != '\0');
	print_message("BLIS %s, sub-configuration %s\n", version, arch);
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx512f")) {
		print_message("CPU has no AVX-512F: nothing to check\n");
		skip();
	}
	if (strcmp(arch, "generic") == 0)
		fail_msg("AVX-512F CPU but BLIS chose generic (BLIS_ARCH_TYPE=%s)",
			 getenv("BLIS_ARCH_TYPE") ? getenv("BLIS_ARCH_TYPE") : "unset");
	assert_false(warn);
	/* Later calls do nothing and do not warn. */
	assert_false(w2s_blas_init());
}

int main(void)
{
	arch_set_by_user = getenv("BLIS_ARCH_TYPE") != NULL;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(blis_is_not_generic_on_avx512_cpu),
		cmocka_unit_test(block_sizes_are_the_zen4_ones_where_w2s_chose_skx),
		cmocka_unit_test(sgemm_matches_naive_product_all_transposes),
		cmocka_unit_test(sgemm_respects_leading_dimension_wider_than_row),
		cmocka_unit_test(sgemm_beta_one_accumulates_and_alpha_scales),
		cmocka_unit_test(sgemm_with_k_zero_scales_c_by_beta),
		cmocka_unit_test(sgemm_with_m_or_n_zero_leaves_c_alone),
		cmocka_unit_test(sgemm_strided_matches_naive_product_in_every_layout),
		cmocka_unit_test(sgemm_spans_several_cache_blocks),
		cmocka_unit_test(rows_are_independent_where_blas_says_so),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
