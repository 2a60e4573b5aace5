/*
 * blas.c: the one file that talks to BLIS.  It picks BLIS's
 * sub-configuration at start-up and maps row-major sgemm onto BLIS's typed
 * API, which takes a row and a column stride per matrix, so no transposed
 * copies and no column-major gymnastics are needed.
 *
 * On AMD Zen 4, where w2s itself picks skx, the GEMMs run with block sizes
 * of their own (see blas_tune_blocks).
 *
 * Not here: threading policy (BLIS_NUM_THREADS is left to the user; with one
 * rank per core BLIS should stay at one thread), other precisions.
 */
#include "w2s/blas.h"

#include "w2s/common.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <blis.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

static bool blas_ready;
/* The context every sgemm runs with: BLIS's own (NULL), or a copy of it
 * with other block sizes.  Written once, in init. */
static cntx_t blas_tuned;
static cntx_t *blas_cntx;

/* __builtin_cpu_supports exists on x86 only; elsewhere BLIS's own choice
 * stands and there is nothing to warn about. */
#if defined(__x86_64__) || defined(__i386__)
/* The CPU can run BLIS's skx kernels: they need all four of these. */
static bool cpu_has_skx_isa(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
	       __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
}

/* AMD family 19h: Zen 3 and Zen 4, of which only Zen 4 has AVX-512. */
static bool cpu_is_amd_family_19h(void)
{
	__builtin_cpu_init();
	if (!__builtin_cpu_is("amd"))
		return false;
	unsigned int eax, ebx, ecx, edx;
	if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
		return false;
	unsigned int family = (eax >> 8) & 0xf;
	if (family == 0xf)
		family += (eax >> 20) & 0xff;
	return family == 0x19;
}

/* The CPU has vector units that some BLIS sub-configuration uses. */
static bool cpu_has_blis_vectors(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") || __builtin_cpu_supports("avx512f");
}
#else
static bool cpu_has_skx_isa(void)
{
	return false;
}

static bool cpu_is_amd_family_19h(void)
{
	return false;
}

static bool cpu_has_blis_vectors(void)
{
	return false;
}
#endif

/* BLIS's skx block sizes (float MC 480, KC 384, NC 3072) were chosen for
 * Skylake-X.  On Zen 4 (1 MiB L2 per core, 32 MiB L3) larger ones ran the
 * GEMMs of a training step faster, measured with every operand layout
 * mlp.c uses, one rank and two: 512 x 4096 x 4096 layers 5-7%, 256 x 1024
 * x 1024 layers 1-3%, the small layers of the default experiment the same
 * (one block either way).  KC 512 gave 2-3% less on the large layers and
 * its packing buffers are smaller (BLIS fills a KC x NC block of B): 3 MB
 * more peak memory for 1024-wide layers at KC 1024, which mlp.c's single
 * activation buffer for relu makes up for.  MC stays a multiple of the
 * kernel's 32 rows.  Only for a choice that w2s made: a user's
 * BLIS_ARCH_TYPE gets BLIS's own context. */
static void blas_tune_blocks(void)
{
	blksz_t mc, kc, nc;
	/* float, double, scomplex, dcomplex; only float is used. */
	bli_blksz_init_easy(&mc, 512, 240, 144, 72);
	bli_blksz_init_easy(&kc, 1024, 384, 256, 256);
	bli_blksz_init_easy(&nc, 4096, 3752, 4080, 4080);
	blas_tuned = *bli_gks_query_cntx();
	bli_cntx_set_blkszs(BLIS_NAT, 3, BLIS_NC, &nc, BLIS_NR, BLIS_MC, &mc, BLIS_MR, BLIS_KC,
			    &kc, BLIS_KR, &blas_tuned);
	blas_cntx = &blas_tuned;
}

bool w2s_blas_init(void)
{
	if (blas_ready)
		return false;
	blas_ready = true;

	/* BLIS reads the variable once, in bli_init(), and only as a number
	 * (0 is skx); a user's own setting always wins, hence overwrite = 0. */
	bool chosen = false;
	if (getenv("BLIS_ARCH_TYPE") == NULL && cpu_has_skx_isa()) {
		setenv("BLIS_ARCH_TYPE", "0", 0);
		chosen = true;
	}
	/* With BLIS_ARCH_TYPE set, bli_arch_query_id() before bli_init()
	 * aborts inside BLIS. */
	bli_init();
	if (chosen && bli_arch_query_id() == BLIS_ARCH_SKX && cpu_is_amd_family_19h())
		blas_tune_blocks();

	return bli_arch_query_id() == BLIS_ARCH_GENERIC && cpu_has_blis_vectors();
}

/* A function here called before w2s_blas_init() initializes as init would,
 * so that a forgotten init cannot leave BLIS on its generic kernels (5x
 * slower on this CPU); only init's return value, the warning, is lost. */
static void blas_ensure_ready(void)
{
	if (!blas_ready)
		(void)w2s_blas_init();
}

const char *w2s_blas_arch(void)
{
	blas_ensure_ready();
	return bli_arch_string(bli_arch_query_id());
}

const char *w2s_blas_version(void)
{
	blas_ensure_ready();
	return bli_info_get_version_str();
}

void w2s_blas_blocks(size_t *mc, size_t *kc, size_t *nc)
{
	blas_ensure_ready();
	cntx_t *c = blas_cntx ? blas_cntx : bli_gks_query_cntx();
	*mc = (size_t)bli_cntx_get_blksz_def_dt(BLIS_FLOAT, BLIS_MC, c);
	*kc = (size_t)bli_cntx_get_blksz_def_dt(BLIS_FLOAT, BLIS_KC, c);
	*nc = (size_t)bli_cntx_get_blksz_def_dt(BLIS_FLOAT, BLIS_NC, c);
}

bool w2s_blas_rows_independent(void)
{
	blas_ensure_ready();
	cntx_t *c = blas_cntx ? blas_cntx : bli_gks_query_cntx();
	/* A size below any of the thresholds goes to the sup kernels. */
	return bli_cntx_get_l3_sup_thresh_dt(BLIS_FLOAT, BLIS_MT, c) <= 0 &&
	       bli_cntx_get_l3_sup_thresh_dt(BLIS_FLOAT, BLIS_NT, c) <= 0 &&
	       bli_cntx_get_l3_sup_thresh_dt(BLIS_FLOAT, BLIS_KT, c) <= 0;
}

/* C (m, n) = beta * C, element (i, j) at c[i * rsc + j * csc]; beta == 0
 * clears NaNs too. */
static void blas_scale(size_t m, size_t n, float beta, float *c, size_t rsc, size_t csc)
{
	for (size_t i = 0; i < m; i++)
		for (size_t j = 0; j < n; j++) {
			float *e = c + i * rsc + j * csc;
			*e = beta == 0.0f ? 0.0f : *e * beta;
		}
}

/* BLIS refuses a matrix whose row and column strides are both 1 unless it
 * is 1 x 1; a single row or column has one stride that never matters, so
 * it is set to what a dense row-major or column-major matrix would have. */
static void blas_fix_strides(size_t rows, size_t cols, size_t *rs, size_t *cs)
{
	if (*rs == 1 && *cs == 1) {
		if (rows == 1)
			*rs = cols;
		else
			*cs = rows;
	}
}

void w2s_blas_sgemm(bool trans_a, bool trans_b, size_t m, size_t n, size_t k,
		    float alpha, const float *a, size_t lda, const float *b,
		    size_t ldb, float beta, float *c, size_t ldc)
{
	if (m == 0 || n == 0)
		return;
	W2S_CHECK(ldc >= n);
	if (k == 0) {
		/* op(A) op(B) is an empty sum.  Done here so that empty A and
		 * B (NULL, any ld) never meet BLIS's stride checks. */
		blas_scale(m, n, beta, c, ldc, 1);
		return;
	}
	W2S_CHECK(lda >= (trans_a ? m : k));
	W2S_CHECK(ldb >= (trans_b ? k : n));
	W2S_CHECK(m <= INT64_MAX && n <= INT64_MAX && k <= INT64_MAX);
	W2S_CHECK(lda <= INT64_MAX && ldb <= INT64_MAX && ldc <= INT64_MAX);
	blas_ensure_ready();

	/* Row-major storage is a row stride of ld and a column stride of 1;
	 * BLIS applies the transpose to the matrix as stored.  BLIS's typed
	 * API is not const-correct, but does not write to A, B, alpha, beta. */
	bli_sgemm_ex(trans_a ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE,
		     trans_b ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE,
		     (dim_t)m, (dim_t)n, (dim_t)k,
		     &alpha, (float *)a, (inc_t)lda, 1, (float *)b, (inc_t)ldb, 1,
		     &beta, c, (inc_t)ldc, 1, blas_cntx, NULL);
}

void w2s_blas_sgemm_strided(size_t m, size_t n, size_t k, float alpha,
			    const float *a, size_t rsa, size_t csa,
			    const float *b, size_t rsb, size_t csb, float beta,
			    float *c, size_t rsc, size_t csc)
{
	if (m == 0 || n == 0)
		return;
	W2S_CHECK(rsc > 0 && csc > 0);
	if (k == 0) {
		blas_scale(m, n, beta, c, rsc, csc);
		return;
	}
	W2S_CHECK(rsa > 0 && csa > 0 && rsb > 0 && csb > 0);
	W2S_CHECK(m <= INT64_MAX && n <= INT64_MAX && k <= INT64_MAX);
	W2S_CHECK(rsa <= INT64_MAX && csa <= INT64_MAX && rsb <= INT64_MAX &&
		  csb <= INT64_MAX && rsc <= INT64_MAX && csc <= INT64_MAX);
	blas_fix_strides(m, k, &rsa, &csa);
	blas_fix_strides(k, n, &rsb, &csb);
	blas_fix_strides(m, n, &rsc, &csc);
	blas_ensure_ready();
	bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, (dim_t)m, (dim_t)n, (dim_t)k,
		     &alpha, (float *)a, (inc_t)rsa, (inc_t)csa, (float *)b, (inc_t)rsb,
		     (inc_t)csb, &beta, c, (inc_t)rsc, (inc_t)csc, blas_cntx, NULL);
}
