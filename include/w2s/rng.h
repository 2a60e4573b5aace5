/*
 * rng.h: counter-based random numbers (Random123's Philox4x32-10).
 *
 * A number is a pure function of (seed, stream, index, position): no state
 * to carry, so data generated in shards does not depend on the number of
 * ranks, and a checkpoint's random state is just a few integers.  The key is
 * the 64-bit seed; the counter is (block, index low, index high, stream).
 *
 * Streams separate the uses of one seed.  Their top 8 bits name the purpose
 * (W2S_STREAM_...), the low 24 bits an instance (a view, a model).
 */
#ifndef W2S_RNG_H
#define W2S_RNG_H

#include <stddef.h>
#include <stdint.h>

enum {
	W2S_STREAM_LATENT_Z = 1u << 24, /* latent signal z of each row */
	W2S_STREAM_LATENT_U = 2u << 24, /* latent nuisance u of each row */
	W2S_STREAM_TARGET = 3u << 24,   /* the target's fixed weights (theta, teacher MLP) */
	W2S_STREAM_NOISE = 4u << 24,    /* label noise, per row */
	W2S_STREAM_VIEW = 5u << 24,     /* per-view extra noise; + view index */
	W2S_STREAM_INPUT = 6u << 24,    /* teacher task inputs x */
	W2S_STREAM_INIT = 7u << 24,     /* model initialization; + model instance */
	W2S_STREAM_SHUFFLE = 8u << 24,  /* epoch order; + model instance */
};

/* Four raw 32-bit words: block `block` of item `index` in `stream`. */
void w2s_rng_u32x4(uint64_t seed, uint32_t stream, uint64_t index, uint32_t block,
		   uint32_t out[4]);

/* out[0..n) = standard normals for item `index`: Box-Muller in float on
 * the words of block j / 4, the radius from 31 bits (|z| up to 6.66), the
 * angle from 32, within a few float ulps of the exact transform.  out[j]
 * depends only on (seed, stream, index, j), so a prefix of a longer draw is
 * the shorter draw. */
void w2s_rng_normals(uint64_t seed, uint32_t stream, uint64_t index, float *out, size_t n);

/* Rows at once: out[r * ld + j] = w2s_rng_normals(seed, stream, index + r)[j]
 * for r < rows, j < n (ld >= n); vectorized across rows, so short rows
 * cost no more per number than long ones. */
void w2s_rng_normals_rows(uint64_t seed, uint32_t stream, uint64_t index, size_t rows,
			  size_t n, float *out, size_t ld);

/* out[0..n) = uniforms in the open interval (0, 1), double precision
 * (53 random bits each). */
void w2s_rng_uniforms(uint64_t seed, uint32_t stream, uint64_t index, double *out, size_t n);

/* perm[0..n) = a uniformly random permutation of 0..n-1 (Fisher-Yates), the
 * same for the same (seed, stream, index). */
void w2s_rng_permutation(uint64_t seed, uint32_t stream, uint64_t index, int64_t *perm,
			 size_t n);

#endif
