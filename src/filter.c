/*
 * filter.c: masks over a split's rows: by the weak model's confidence, by
 * disagreement with the nearest neighbours' weak labels, by a reference
 * model's loss band, or at random.
 *
 * Every ranking is one sort by (score, row index), a total order, so qsort's
 * instability never shows and the mask depends on the inputs alone.
 *
 * The kNN distances are the one place where rank count could leak in: a
 * GEMM's rounding depends on the shape of the call (BLIS picks other kernels
 * and other blockings for other sizes).  So the calls are fixed by the row
 * indices alone (query block q by reference block r, whoever computes it)
 * and ranks share out whole query blocks.  Recomputing near-ties in double
 * was the alternative; it would still depend on which rows the float pass
 * had shortlisted.
 *
 * Not here: the losses or probabilities themselves (the caller's models).
 */
#include "w2s/filter.h"

#include "w2s/blas.h"
#include "w2s/common.h"
#include "w2s/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int64_t w2s_filter_keep_count(int64_t N, double keep)
{
	W2S_CHECK(N >= 0 && keep >= 0.0 && keep <= 1.0);
	int64_t k = (int64_t)floor(keep * (double)N + 0.5);
	return k < 0 ? 0 : k > N ? N : k;
}

int64_t w2s_filter_rows(const uint8_t *kept, int64_t N, int64_t *rows)
{
	int64_t n = 0;
	for (int64_t i = 0; i < N; i++)
		if (kept[i])
			rows[n++] = i;
	return n;
}

struct filter_key {
	double key;
	int64_t row;
};

/* Ascending key, then ascending row; keys are never NaN here. */
static int filter_key_cmp(const void *pa, const void *pb)
{
	const struct filter_key *a = pa, *b = pb;
	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	return (a->row > b->row) - (a->row < b->row);
}

/* kept (N) = 1 exactly for the rows at positions [lo, lo + k) when the rows
 * are sorted by (key, row) ascending; NaN keys sort as +inf. */
static void filter_keep_band(const double *key, int64_t N, int64_t lo, int64_t k,
			     uint8_t *kept)
{
	W2S_CHECK(lo >= 0 && k >= 0 && lo + k <= N);
	if (N == 0)
		return;
	if (k == N) {
		memset(kept, 1, (size_t)N);
		return;
	}
	memset(kept, 0, (size_t)N);
	if (k == 0)
		return;
	struct filter_key *order = w2s_xmalloc((size_t)N * sizeof *order);
	for (int64_t i = 0; i < N; i++) {
		order[i].key = isnan(key[i]) ? INFINITY : key[i];
		order[i].row = i;
	}
	qsort(order, (size_t)N, sizeof *order, filter_key_cmp);
	for (int64_t p = lo; p < lo + k; p++)
		kept[order[p].row] = 1;
	free(order);
}

void w2s_filter_confidence(const float *probs, int64_t N, size_t C, double keep,
			   uint8_t *kept)
{
	W2S_CHECK(N >= 0 && (N == 0 || C > 0));
	int64_t k = w2s_filter_keep_count(N, keep);
	double *key = w2s_xmalloc((size_t)(N > 0 ? N : 1) * sizeof *key);
	for (int64_t i = 0; i < N; i++) {
		const float *p = probs + (size_t)i * C;
		double m = -INFINITY;
		for (size_t c = 0; c < C; c++)
			m = isnan(p[c]) || isnan(m) ? NAN : (p[c] > m ? p[c] : m);
		key[i] = -m; /* most confident first */
	}
	filter_keep_band(key, N, 0, k, kept);
	free(key);
}

/* The k nearest so far of one query row: best_d (k) ascending, best_i (k)
 * their rows, -1 where empty.  Inserts (d, j) if it is nearer than the
 * last, by distance, then by row. */
static void filter_knn_insert(double *best_d, int64_t *best_i, int k, double d, int64_t j)
{
	int last = k - 1;
	if (best_i[last] >= 0 && (d > best_d[last] || (d == best_d[last] && j > best_i[last])))
		return;
	int p = last;
	while (p > 0 && (best_i[p - 1] < 0 || d < best_d[p - 1] ||
			 (d == best_d[p - 1] && j < best_i[p - 1]))) {
		best_d[p] = best_d[p - 1];
		best_i[p] = best_i[p - 1];
		p--;
	}
	best_d[p] = d;
	best_i[p] = j;
}

/* counts (qn) = how many of the k nearest neighbours of each row of the
 * query block [q0, q0 + qn) have a weak label other than the row's.
 * gram: qn * min(block, N) floats; best_d, best_i: qn * k each; all
 * overwritten. */
static void filter_knn_block(const float *x, int64_t N, size_t D, const double *norm,
			     const int32_t *weak, int k, int64_t block, int64_t q0, int64_t qn,
			     float *gram, double *best_d, int64_t *best_i, int32_t *counts)
{
	for (int64_t i = 0; i < qn * k; i++) {
		best_d[i] = INFINITY;
		best_i[i] = -1;
	}
	for (int64_t r0 = 0; r0 < N; r0 += block) {
		int64_t rn = N - r0 < block ? N - r0 : block;
		w2s_blas_sgemm(false, true, (size_t)qn, (size_t)rn, D, 1.0f, x + (size_t)q0 * D, D,
			       x + (size_t)r0 * D, D, 0.0f, gram, (size_t)rn);
		for (int64_t i = 0; i < qn; i++) {
			int64_t gi = q0 + i;
			double *bd = best_d + i * k;
			int64_t *bi = best_i + i * k;
			const float *g = gram + i * rn;
			for (int64_t j = 0; j < rn; j++) {
				int64_t gj = r0 + j;
				if (gj == gi)
					continue;
				double d = norm[gi] + norm[gj] - 2.0 * (double)g[j];
				if (isnan(d))
					continue;
				if (d < 0.0) /* cancellation between near-equal rows */
					d = 0.0;
				filter_knn_insert(bd, bi, k, d, gj);
			}
		}
	}
	for (int64_t i = 0; i < qn; i++) {
		int32_t n = 0;
		for (int m = 0; m < k; m++) {
			int64_t j = best_i[i * k + m];
			n += j >= 0 && weak[j] != weak[q0 + i];
		}
		counts[i] = n;
	}
}

void w2s_filter_knn(const struct w2s_comm *c, const float *x, int64_t N, size_t D,
		    const int32_t *weak, const struct w2s_filter_knn_opts *o, uint8_t *kept,
		    float *disagree)
{
	W2S_CHECK(N >= 0 && o->k >= 1);
	int64_t nkeep = w2s_filter_keep_count(N, o->keep);
	if (nkeep == N && disagree == NULL) {
		if (N > 0)
			memset(kept, 1, (size_t)N);
		return;
	}
	int k = N - 1 < (int64_t)o->k ? (int)(N > 0 ? N - 1 : 0) : o->k;
	int64_t block = o->block ? (int64_t)o->block : W2S_FILTER_BLOCK;
	int64_t nblocks = (N + block - 1) / block;
	int64_t b0, b1;
	w2s_shard(nblocks, c->rank, c->size, &b0, &b1);
	int64_t qmax = N < block ? N : block; /* rows of the largest block */

	/* +1: no zero-size allocations on ranks without blocks or without
	 * neighbours. */
	double *norm = w2s_xmalloc((size_t)(N + 1) * sizeof *norm);
	int32_t *local = w2s_xcalloc((size_t)((b1 - b0) * block + 1), sizeof *local);
	int32_t *all = w2s_xmalloc((size_t)(nblocks * block + 1) * sizeof *all);
	float *gram = w2s_xmalloc((size_t)(qmax * qmax + 1) * sizeof *gram);
	double *best_d = w2s_xmalloc((size_t)(qmax * k + 1) * sizeof *best_d);
	int64_t *best_i = w2s_xmalloc((size_t)(qmax * k + 1) * sizeof *best_i);
	double *key = w2s_xmalloc((size_t)(N + 1) * sizeof *key);

	for (int64_t i = 0; i < N; i++) {
		double s = 0.0;
		for (size_t j = 0; j < D; j++) {
			double v = x[(size_t)i * D + j];
			s += v * v;
		}
		norm[i] = s;
	}
	if (k > 0)
		for (int64_t q = b0; q < b1; q++) {
			int64_t q0 = q * block, qn = N - q0 < block ? N - q0 : block;
			filter_knn_block(x, N, D, norm, weak, k, block, q0, qn, gram, best_d,
					 best_i, local + (q - b0) * block);
		}
	w2s_comm_allgather_shards(c, local, nblocks, (size_t)block * sizeof *local, all);

	for (int64_t i = 0; i < N; i++) {
		key[i] = all[i];
		if (disagree)
			disagree[i] = k > 0 ? (float)((double)all[i] / k) : 0.0f;
	}
	filter_keep_band(key, N, 0, nkeep, kept);

	free(key);
	free(best_i);
	free(best_d);
	free(gram);
	free(all);
	free(local);
	free(norm);
}

void w2s_filter_report(const uint8_t *kept, const int32_t *weak, const int32_t *truth,
		       int64_t N, struct w2s_filter_report *r)
{
	memset(r, 0, sizeof *r);
	r->rows = N;
	for (int64_t i = 0; i < N; i++) {
		int wrong = weak[i] != truth[i];
		r->kept += kept[i] != 0;
		r->errors += wrong;
		if (kept[i])
			r->errors_kept += wrong;
		else
			r->errors_removed += wrong;
	}
	r->removed = N - r->kept;
	r->precision = r->removed ? (double)r->errors_removed / (double)r->removed : NAN;
	r->recall = r->errors ? (double)r->errors_removed / (double)r->errors : NAN;
	r->error_before = N ? (double)r->errors / (double)N : NAN;
	r->error_after = r->kept ? (double)r->errors_kept / (double)r->kept : NAN;
}

void w2s_filter_select(const float *loss, int64_t N, const struct w2s_filter_select_opts *o,
		       uint8_t *kept)
{
	W2S_CHECK(N >= 0);
	int64_t k = w2s_filter_keep_count(N, o->fraction);
	if (o->band == W2S_FILTER_BAND_RANDOM) {
		if (N == 0)
			return;
		memset(kept, k == N, (size_t)N);
		if (k == N || k == 0)
			return;
		int64_t *perm = w2s_xmalloc((size_t)N * sizeof *perm);
		w2s_rng_permutation(o->seed, o->stream, 0, perm, (size_t)N);
		for (int64_t p = 0; p < k; p++)
			kept[perm[p]] = 1;
		free(perm);
		return;
	}
	int64_t lo;
	switch (o->band) {
	case W2S_FILTER_BAND_LOW:
		lo = 0;
		break;
	case W2S_FILTER_BAND_MIDDLE:
		lo = (N - k) / 2;
		break;
	case W2S_FILTER_BAND_HIGH:
		lo = N - k;
		break;
	default:
		W2S_CHECK(!"unknown selection band");
		lo = 0;
	}
	double *key = w2s_xmalloc((size_t)(N > 0 ? N : 1) * sizeof *key);
	for (int64_t i = 0; i < N; i++)
		key[i] = loss[i];
	filter_keep_band(key, N, lo, k, kept);
	free(key);
}

const char *w2s_filter_band_name(enum w2s_filter_band b)
{
	switch (b) {
	case W2S_FILTER_BAND_LOW:
		return "low";
	case W2S_FILTER_BAND_MIDDLE:
		return "middle";
	case W2S_FILTER_BAND_HIGH:
		return "high";
	case W2S_FILTER_BAND_RANDOM:
		return "random";
	}
	return "?";
}
