/*
 * rng.c: counter-based streams over Random123's Philox4x32-10.
 * The only file that includes Random123.
 *
 * Normals are made many at a time: Philox on vectors of counters, then a
 * branch-free Box-Muller transform in float with its own log, sin and cos
 * (polynomials on reduced arguments), so that the data generator spends its
 * time writing rather than in libm.  The vectors use only IEEE adds,
 * multiplies, divides and square roots, and GCC contracts nothing into FMAs
 * in ISO C mode, so every clone (AVX-512, AVX2, baseline) gives the same
 * bits; a number still depends only on (seed, stream, index, position).
 */
#include "w2s/rng.h"

#include <math.h>
#include <string.h>

#include <Random123/philox.h>

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

void w2s_rng_u32x4(uint64_t seed, uint32_t stream, uint64_t index, uint32_t block,
		   uint32_t out[4])
{
	philox4x32_ctr_t ctr = {{block, (uint32_t)index, (uint32_t)(index >> 32), stream}};
	philox4x32_key_t key = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
	philox4x32_ctr_t r = philox4x32(ctr, key);
	for (int i = 0; i < 4; i++)
		out[i] = r.v[i];
}

/* ---- vectors ----
 *
 * RNG_VL counters at a time.  Philox runs on 64-bit lanes holding 32-bit
 * words, so its 32 x 32 -> 64 products are plain lane multiplies whatever
 * the byte order; the transform runs on float lanes.  clang refuses wide
 * vectors in a baseline clone (see mlp.c), so its builds (the fuzzer's)
 * get no clones and narrower vectors.  The width changes no bit of the
 * result: lanes never mix. */
#if defined(__clang__)
#define RNG_VL 4
#else
#define RNG_VL 8
#endif
#pragma GCC diagnostic ignored "-Wpsabi"
typedef uint64_t rng_vq __attribute__((vector_size(RNG_VL * 8)));
typedef uint32_t rng_vu __attribute__((vector_size(RNG_VL * 4)));
typedef int32_t rng_vi __attribute__((vector_size(RNG_VL * 4)));
typedef float rng_vf __attribute__((vector_size(RNG_VL * 4)));

#if defined(__x86_64__) && defined(__has_attribute) && !defined(__clang__)
#if __has_attribute(target_clones)
#define RNG_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
#endif
#ifndef RNG_CLONES
#define RNG_CLONES
#endif

#define RNG_INLINE static inline __attribute__((always_inline))

/* Philox4x32-10 (Salmon et al., SC11) on RNG_VL counters: the same words
 * as philox4x32() of Random123 (test_rng compares them). */
RNG_INLINE void philox_vec(rng_vq *x0, rng_vq *x1, rng_vq *x2, rng_vq *x3, uint32_t k0,
			   uint32_t k1)
{
	const uint64_t lo32 = 0xffffffffu;
	rng_vq a = *x0, b = *x1, c = *x2, d = *x3;
	for (int r = 0; r < 10; r++) {
		rng_vq p0 = a * (uint64_t)0xD2511F53u; /* a < 2^32: exact */
		rng_vq p1 = c * (uint64_t)0xCD9E8D57u;
		a = (p1 >> 32) ^ b ^ k0;
		b = p1 & lo32;
		c = (p0 >> 32) ^ d ^ k1;
		d = p0 & lo32;
		k0 += 0x9E3779B9u;
		k1 += 0xBB67AE85u;
	}
	*x0 = a;
	*x1 = b;
	*x2 = c;
	*x3 = d;
}

/* *y = its IEEE square root, lane by lane.  sqrtf itself stays scalar at
 * -O2 (it must set errno on negative input); SSE's sqrtps is the same
 * correctly rounded operation without that check.  *y >= 0 here.  (The
 * helpers take vectors by pointer: by value GCC notes an ABI change,
 * though all of them are inlined.) */
RNG_INLINE void vsqrt(rng_vf *y)
{
#if defined(__SSE__) && RNG_VL == 8
	/* built lane by lane in registers: through memory, two 16-byte
	 * stores read back as one 32-byte load would stall the pipeline */
	rng_vf v = *y;
	__m128 a = _mm_sqrt_ps((__m128){v[0], v[1], v[2], v[3]});
	__m128 b = _mm_sqrt_ps((__m128){v[4], v[5], v[6], v[7]});
	*y = (rng_vf){a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]};
#else
	for (int k = 0; k < RNG_VL; k++)
		(*y)[k] = sqrtf((*y)[k]);
#endif
}

/* -2 ln(u) for u = x / 2^31, x in [0.5, 2^31]: x = m 2^e with m in
 * [sqrt(1/2), sqrt(2)), ln m = 2 atanh(s), s = (m - 1) / (m + 1), |s| <
 * 0.172, by its series to s^9 (the next term is below 1e-9 of ln m).  The
 * exponent enters exactly: ln 2 is split so that (e - 31) ln2_hi has no
 * rounding error. */
RNG_INLINE void minus_two_log(const rng_vf *x, rng_vf *out)
{
	rng_vi bits = (rng_vi)*x;
	rng_vi e = ((bits >> 23) & 0xff) - 127;
	rng_vi mb = (bits & 0x7fffff) | 0x3f800000;
	rng_vi big = mb > 0x3fb504f3; /* m > sqrt(2): halve m; all ones */
	mb -= big & 0x00800000;
	e -= big;
	rng_vf m = (rng_vf)mb;
	rng_vf s = (m - 1.0f) / (m + 1.0f), s2 = s * s;
	rng_vf lnm = s * (2.0f + s2 * (0.6666666667f + s2 * (0.4f + s2 * (0.2857142857f +
									   s2 * 0.2222222222f))));
	rng_vf k = __builtin_convertvector(e - 31, rng_vf);
	const float ln2_hi = 0.693145751953125f, ln2_lo = 1.42860682030941723212e-6f;
	*out = -2.0f * (k * ln2_hi + (k * ln2_lo + lnm));
}

/* cos and sin of 2 pi w / 2^32.  The nearest quarter turn q is taken from
 * the top bits of w, so the remaining angle, |phi| <= pi/4, comes out of
 * integer arithmetic exactly; Taylor polynomials to phi^9 (sin) and
 * phi^10 (cos) are then within 3e-9 of the truth, below float rounding. */
RNG_INLINE void cos_sin_turn(const rng_vu *w, rng_vf *cos_out, rng_vf *sin_out)
{
	rng_vu q = (*w + 0x20000000u) >> 30;
	rng_vi f = (rng_vi)(*w - (q << 30)); /* in [-2^29, 2^29) */
	rng_vf phi = __builtin_convertvector(f, rng_vf) * 1.46291807926715968e-9f; /* 2 pi / 2^32 */
	rng_vf p2 = phi * phi;
	rng_vf s = phi + phi * p2 * (-1.0f / 6 + p2 * (1.0f / 120 + p2 * (-1.0f / 5040 +
									 p2 * (1.0f / 362880))));
	rng_vf c = 1.0f + p2 * (-0.5f + p2 * (1.0f / 24 + p2 * (-1.0f / 720 + p2 * (1.0f / 40320 +
									      p2 * (-1.0f / 3628800)))));
	/* cos(q pi/2 + phi), sin(...): q odd swaps c and s; the signs follow
	 * the quadrant. */
	rng_vi swap = -(rng_vi)(q & 1);
	rng_vi cb = (rng_vi)c, sb = (rng_vi)s;
	rng_vi cosb = (cb & ~swap) | (sb & swap), sinb = (sb & ~swap) | (cb & swap);
	cosb ^= (rng_vi)(((q + 1) & 2) << 30);
	sinb ^= (rng_vi)((q & 2) << 30);
	*cos_out = (rng_vf)cosb;
	*sin_out = (rng_vf)sinb;
}

/* Box-Muller on word pairs (wr, wt): radius from wr, angle from wt. */
RNG_INLINE void box_muller(const rng_vq *wr, const rng_vq *wt, rng_vf *z_cos, rng_vf *z_sin)
{
	rng_vu r32 = __builtin_convertvector(*wr, rng_vu);
	rng_vu t32 = __builtin_convertvector(*wt, rng_vu);
	/* u in (0, 1] from 31 bits, never 0, so the log is finite */
	rng_vf x = __builtin_convertvector((rng_vi)(r32 >> 1), rng_vf) + 0.5f;
	rng_vf r, c, s;
	minus_two_log(&x, &r);
	vsqrt(&r);
	cos_sin_turn(&t32, &c, &s);
	*z_cos = r * c;
	*z_sin = r * s;
}

/* out[4 k + j] = z[j][k]: the four normals of each lane side by side. */
RNG_INLINE void interleave4(const rng_vf z[4], float *out)
{
#if RNG_VL == 8 && !defined(__clang__)
	typedef uint64_t pair_v __attribute__((vector_size(RNG_VL * 4)));
	typedef int64_t pair_i __attribute__((vector_size(RNG_VL * 4)));
	const rng_vi lo = {0, 8, 1, 9, 2, 10, 3, 11}, hi = {4, 12, 5, 13, 6, 14, 7, 15};
	const pair_i first = {0, 4, 1, 5}, second = {2, 6, 3, 7};
	/* (z0 z1) and (z2 z3) pairs of lanes 0-3 and 4-7, then the pairs
	 * of one lane next to each other */
	pair_v ab_lo = (pair_v)__builtin_shuffle(z[0], z[1], lo);
	pair_v ab_hi = (pair_v)__builtin_shuffle(z[0], z[1], hi);
	pair_v cd_lo = (pair_v)__builtin_shuffle(z[2], z[3], lo);
	pair_v cd_hi = (pair_v)__builtin_shuffle(z[2], z[3], hi);
	pair_v o[4] = {__builtin_shuffle(ab_lo, cd_lo, first), __builtin_shuffle(ab_lo, cd_lo, second),
		       __builtin_shuffle(ab_hi, cd_hi, first), __builtin_shuffle(ab_hi, cd_hi, second)};
	memcpy(out, o, sizeof o);
#else
	for (size_t k = 0; k < RNG_VL; k++)
		for (size_t j = 0; j < 4; j++)
			out[4 * k + j] = z[j][k];
#endif
}

/* The normals of block b (4 of them) of item index + r go to
 * out[r * ld + 4 b ...], the last block of a row cut at n.  Lane k of a
 * pass holds slot q0 + k = (r, b) in row-major order; the slots advance as
 * vectors, so building the counters stores no lane by itself. */
RNG_CLONES static void normals_rows(uint64_t seed, uint32_t stream, uint64_t index, size_t rows,
				    size_t n, float *out, size_t ld)
{
	const size_t nb = (n + 3) / 4, slots = rows * nb;
	const uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
	/* Whole blocks, rows back to back: a pass fills 4 RNG_VL floats in a row. */
	const int packed = n % 4 == 0 && ld == n;
	/* Carries after adding RNG_VL to a block number below nb. */
	const int carries = (int)((RNG_VL - 1) / (nb ? nb : 1)) + 1;
	const rng_vq vstream = (rng_vq){0} + stream;
	rng_vq vb = {0}, vr = {0};
	for (size_t k = 0; k < RNG_VL; k++) {
		vb[k] = nb ? k % nb : 0;
		vr[k] = nb ? k / nb : 0;
	}
	for (size_t q0 = 0; q0 < slots; q0 += RNG_VL) {
		size_t lanes = slots - q0 < RNG_VL ? slots - q0 : RNG_VL;
		rng_vq i = index + vr; /* lanes past the end make a throwaway block */
		rng_vq w0 = vb, w1 = i & 0xffffffffu, w2 = i >> 32, w3 = vstream;
		philox_vec(&w0, &w1, &w2, &w3, k0, k1);
		rng_vf z[4];
		box_muller(&w0, &w1, &z[0], &z[1]);
		box_muller(&w2, &w3, &z[2], &z[3]);
		if (packed && lanes == RNG_VL) {
			interleave4(z, out + 4 * q0);
		} else if (packed) {
			float buf[4 * RNG_VL];
			interleave4(z, buf);
			memcpy(out + 4 * q0, buf, 4 * lanes * sizeof(float));
		} else {
			for (size_t k = 0; k < lanes; k++) {
				size_t b = (size_t)vb[k];
				float *dst = out + (size_t)vr[k] * ld + 4 * b;
				size_t m = n - 4 * b < 4 ? n - 4 * b : 4;
				for (size_t j = 0; j < m; j++)
					dst[j] = z[j][k];
			}
		}
		vb += RNG_VL;
		for (int c = 0; c < carries; c++) {
			rng_vq carry = (rng_vq)(vb >= nb); /* all ones where it carries */
			vb -= carry & nb;
			vr -= carry;
		}
	}
}

void w2s_rng_normals(uint64_t seed, uint32_t stream, uint64_t index, float *out, size_t n)
{
	normals_rows(seed, stream, index, 1, n, out, n);
}

void w2s_rng_normals_rows(uint64_t seed, uint32_t stream, uint64_t index, size_t rows,
			  size_t n, float *out, size_t ld)
{
	normals_rows(seed, stream, index, rows, n, out, ld);
}

void w2s_rng_uniforms(uint64_t seed, uint32_t stream, uint64_t index, double *out, size_t n)
{
	for (size_t j = 0; j < n; j += 2) {
		uint32_t w[4];
		w2s_rng_u32x4(seed, stream, index, (uint32_t)(j / 2), w);
		for (size_t k = 0; k < 2 && j + k < n; k++) {
			uint64_t bits = ((uint64_t)w[2 * k] << 21) ^ (uint64_t)(w[2 * k + 1] >> 11);
			bits &= (UINT64_C(1) << 53) - 1;
			out[j + k] = ((double)bits + 0.5) / 9007199254740992.0;
		}
	}
}

void w2s_rng_permutation(uint64_t seed, uint32_t stream, uint64_t index, int64_t *perm,
			 size_t n)
{
	for (size_t i = 0; i < n; i++)
		perm[i] = (int64_t)i;
	/* Draw the swap partners in blocks of 4 words, 64 bits per draw: the
	 * modulo bias of 64-bit words is below 2^-30 for any n we can hold. */
	uint32_t w[4];
	for (size_t i = n; i > 1; i--) {
		size_t k = n - i;
		if (k % 2 == 0)
			w2s_rng_u32x4(seed, stream, index, (uint32_t)(k / 2), w);
		uint64_t r = ((uint64_t)w[2 * (k % 2)] << 32) | w[2 * (k % 2) + 1];
		size_t j = (size_t)(r % i);
		int64_t t = perm[i - 1];
		perm[i - 1] = perm[j];
		perm[j] = t;
	}
}
