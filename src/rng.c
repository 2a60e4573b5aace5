/*
 * rng.c: counter-based streams over Random123's Philox4x32-10.
 * The only file that includes Random123.
 */
#include "w2s/rng.h"

#include <math.h>

#include <Random123/philox.h>

void w2s_rng_u32x4(uint64_t seed, uint32_t stream, uint64_t index, uint32_t block,
		   uint32_t out[4])
{
	philox4x32_ctr_t ctr = {{block, (uint32_t)index, (uint32_t)(index >> 32), stream}};
	philox4x32_key_t key = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
	philox4x32_ctr_t r = philox4x32(ctr, key);
	for (int i = 0; i < 4; i++)
		out[i] = r.v[i];
}

/* (0, 1]: never 0, so log() below is finite. */
static double u32_to_open01(uint32_t u)
{
	return ((double)u + 1.0) / 4294967296.0;
}

void w2s_rng_normals(uint64_t seed, uint32_t stream, uint64_t index, float *out, size_t n)
{
	const double two_pi = 6.283185307179586476925286766559;
	for (size_t j = 0; j < n; j += 4) {
		uint32_t w[4];
		w2s_rng_u32x4(seed, stream, index, (uint32_t)(j / 4), w);
		double z[4];
		for (int p = 0; p < 2; p++) {
			double r = sqrt(-2.0 * log(u32_to_open01(w[2 * p])));
			double t = two_pi * ((double)w[2 * p + 1] / 4294967296.0);
			z[2 * p] = r * cos(t);
			z[2 * p + 1] = r * sin(t);
		}
		for (size_t k = 0; k < 4 && j + k < n; k++)
			out[j + k] = (float)z[k];
	}
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
