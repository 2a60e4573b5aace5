/*
 * blas.h: dense linear algebra for the rest of w2s.  The only module that
 * calls BLIS.  Matrices are row-major float32 with a leading dimension
 * (the distance in elements between two rows).
 *
 * Not a general BLAS binding: only what the models need.
 */
#ifndef W2S_BLAS_H
#define W2S_BLAS_H

#include <stdbool.h>
#include <stddef.h>

/* Picks BLIS's sub-configuration and initializes it.  Debian's BLIS has no
 * Zen 4/5 entry and silently falls back to the slow `generic` kernels on
 * those CPUs; when the user has not set BLIS_ARCH_TYPE and the CPU has
 * AVX-512 F/DQ/BW/VL, this selects the skx (AVX-512) kernels, with block
 * sizes of its own on Zen 4 (w2s_blas_blocks).  Call once,
 * before any other function here; later calls do nothing.
 * Returns true when the chosen sub-configuration is `generic` on a CPU that
 * has vector kernels BLIS knows (worth a warning). */
bool w2s_blas_init(void);

/* Name of the BLIS sub-configuration in use ("skx", "zen3", "generic"...). */
const char *w2s_blas_arch(void);
/* BLIS version string. */
const char *w2s_blas_version(void);
/* The float GEMM's cache block sizes in use: rows of A (mc), the inner
 * dimension (kc) and columns of B (nc) per block.  BLIS's own for the
 * sub-configuration, except on AMD Zen 4 where init chose skx: 512, 1024,
 * 4096, measured faster there. */
void w2s_blas_blocks(size_t *mc, size_t *kc, size_t *nc);

/* Whether every row of a product's result has the same bits however many
 * rows the call has: true when BLIS runs each size on its conventional
 * (packed) path, where a row's sums run the same way at any m; false when
 * the sub-configuration sends small sizes to its other (sup) kernels, as
 * haswell and zen3 do, so that the same row can round differently in a
 * smaller call. */
bool w2s_blas_rows_independent(void);

/* C = alpha * op(A) * op(B) + beta * C, row-major.
 * op(A) is (m, k): A is (m, lda>=k) when !trans_a, (k, lda>=m) when trans_a.
 * op(B) is (k, n): B is (k, ldb>=n) when !trans_b, (n, ldb>=k) when trans_b.
 * C is (m, ldc>=n).  beta == 0 ignores what C held (NaNs included). */
void w2s_blas_sgemm(bool trans_a, bool trans_b, size_t m, size_t n, size_t k,
		    float alpha, const float *a, size_t lda, const float *b,
		    size_t ldb, float beta, float *c, size_t ldc);

/* C = alpha * A B + beta * C for operands stored with any element strides:
 * element (i, j) of A (m, k) is a[i * rsa + j * csa], of B (k, n)
 * b[i * rsb + j * csb], of C (m, n) c[i * rsc + j * csc].  Row-major is
 * (ld, 1), column-major (1, ld), a transpose swaps the two; so a caller can
 * keep each buffer in the layout BLIS runs fastest on and never copy one.
 * beta == 0 ignores what C held (NaNs included). */
void w2s_blas_sgemm_strided(size_t m, size_t n, size_t k, float alpha,
			    const float *a, size_t rsa, size_t csa,
			    const float *b, size_t rsb, size_t csb, float beta,
			    float *c, size_t rsc, size_t csc);

#endif
