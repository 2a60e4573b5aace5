/*
 * vec_internal.h: the portable vectors that the hot loops of mlp.c and
 * optim.c are written in.
 *
 * GCC vector types of VL floats, which the compiler maps onto whatever the
 * target has (one zmm register, two ymm, four xmm), in functions compiled
 * for AVX-512, AVX2 and the baseline and picked at load time (W2S_CLONES),
 * so the build needs no -march flag.  The alternative, plain loops left to
 * the auto-vectorizer, is not vectorized at the -O2 every build uses.
 *
 * Every operation on these types is lane by lane, so a loop gives the same
 * bits in every clone as long as the compiler fuses no multiply-add
 * (-ffp-contract=off, the default of -std=c11): ranks on different CPUs
 * then agree exactly.
 *
 * Not here: anything that knows about layers or optimizers.
 */
#ifndef W2S_VEC_INTERNAL_H
#define W2S_VEC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__clang__)
/* clang refuses 64-byte vectors in code compiled without AVX-512 (the
 * baseline clone) even when inlined; its builds (the fuzzer's) are not the
 * ones that train fast, so they use 16-byte vectors. */
#define VL 4
#else
#define VL 16
#endif
/* The helpers below are inlined into each clone; no vector crosses a call,
 * so the ABI of 64-byte vector arguments that GCC warns about never
 * applies. */
#pragma GCC diagnostic ignored "-Wpsabi"
typedef float w2s_vf __attribute__((vector_size(VL * sizeof(float))));
typedef int32_t w2s_vi __attribute__((vector_size(VL * sizeof(float))));
/* Half as many lanes: VL / 2 floats, and as many doubles (w2s_vd is as
 * wide as w2s_vf). */
typedef float w2s_vh __attribute__((vector_size(VL / 2 * sizeof(float))));
typedef double w2s_vd __attribute__((vector_size(VL / 2 * sizeof(double))));
/* And as many 32- and 64-bit integers (the exact reduction's fixed point). */
typedef int32_t w2s_vhi __attribute__((vector_size(VL / 2 * sizeof(int32_t))));
typedef int64_t w2s_vl __attribute__((vector_size(VL / 2 * sizeof(int64_t))));
typedef uint64_t w2s_vu __attribute__((vector_size(VL / 2 * sizeof(uint64_t))));

#if defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define W2S_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
#endif
#ifndef W2S_CLONES
#define W2S_CLONES
#endif

static inline __attribute__((always_inline)) w2s_vf vload(const float *p)
{
	w2s_vf v;
	memcpy(&v, p, sizeof v);
	return v;
}

static inline __attribute__((always_inline)) void vstore(float *p, w2s_vf v)
{
	memcpy(p, &v, sizeof v);
}

/* VL / 2 floats from p, widened to double. */
static inline __attribute__((always_inline)) w2s_vd vload_half_d(const float *p)
{
	w2s_vh h;
	memcpy(&h, p, sizeof h);
	return __builtin_convertvector(h, w2s_vd);
}

/* The first len < VL floats of p, the rest zero. */
static inline __attribute__((always_inline)) w2s_vf vload_part(const float *p, size_t len)
{
	w2s_vf v = {0};
	memcpy(&v, p, len * sizeof(float));
	return v;
}

static inline __attribute__((always_inline)) w2s_vf vsplat(float x)
{
	return (w2s_vf){0} + x;
}

/* v where keep is true (all ones), else +0. */
static inline __attribute__((always_inline)) w2s_vf vmask(w2s_vf v, w2s_vi keep)
{
	return (w2s_vf)((w2s_vi)v & keep);
}

static inline __attribute__((always_inline)) float vsum(w2s_vf v)
{
	float s = 0.0f;
	for (int j = 0; j < VL; j++)
		s += v[j];
	return s;
}

#endif
