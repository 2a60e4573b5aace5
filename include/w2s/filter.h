/*
 * filter.h: which rows a student learns from.  Filters drop transfer rows
 * whose weak labels look wrong before the student trains; selection keeps a
 * band of a pool by a small reference model's loss.
 *
 * Every function answers with a mask kept (N) of 0 and 1 over the rows as
 * given, so the kept rows stay in their order (w2s_filter_rows lists them).
 * How many rows a fraction keeps is w2s_filter_keep_count; a fraction of 1
 * keeps every row, in order, and is an exact no-op.  Rows are ranked by a
 * score, ties broken by row index (the earlier row first), so a mask is a
 * function of the inputs alone: the same on every rank, every run.
 *
 * Dimension legend: N rows (the whole split, held by every rank), C classes,
 * D the width of the student's view.
 *
 * Not here: which split or view (the caller passes arrays), training,
 * files.  Only w2s_filter_knn is collective.
 */
#ifndef W2S_FILTER_H
#define W2S_FILTER_H

#include <stddef.h>
#include <stdint.h>

#include "w2s/comm.h"

/* Rows per side of a distance block of w2s_filter_knn: a block of
 * distances is 1024^2 floats, 4 MiB. */
#define W2S_FILTER_BLOCK 1024

/* The number of rows a fraction keep in [0, 1] of N keeps: keep * N
 * rounded to the nearest integer, halves up; keep = 1 gives N. */
int64_t w2s_filter_keep_count(int64_t N, double keep);

/* Writes the indices of the kept rows (ascending) into rows (up to N) and
 * returns how many there are. */
int64_t w2s_filter_rows(const uint8_t *kept, int64_t N, int64_t *rows);

/* Confidence filter: keeps the w2s_filter_keep_count(N, keep) rows where
 * the weak model is most confident, max_c probs (N, C); among equal
 * confidence, earlier rows first; a NaN row is the least confident. */
void w2s_filter_confidence(const float *probs, int64_t N, size_t C, double keep,
			   uint8_t *kept);

struct w2s_filter_knn_opts {
	int k;        /* neighbours, >= 1; a row has min(k, N - 1) of them */
	double keep;  /* fraction of rows kept, in [0, 1] */
	size_t block; /* rows per side of a distance block; 0 = W2S_FILTER_BLOCK */
};

/* Collective: kNN-disagreement filter.  Each row's k nearest other rows
 * (Euclidean in x (N, D), itself excluded by index, ties to the lower
 * index) vote with their weak labels weak (N); its disagreement is the
 * fraction of them whose weak label differs from its own.  Keeps the
 * w2s_filter_keep_count(N, o->keep) rows of least disagreement (ties:
 * earlier rows first) and writes the disagreement of every row into
 * disagree (N) unless it is NULL.  x and weak are the same on every rank.
 *
 * Distances are ||a||^2 + ||b||^2 - 2 a.b, the products by w2s_blas_sgemm
 * over blocks of o->block query rows by o->block reference rows.  The
 * blocks are fixed by the row index alone and whole query blocks are
 * sharded over ranks (w2s_shard of the block count), so every product is
 * the same call with the same operands for any number of ranks: the
 * distances, the neighbours and the mask are bit for bit those of one rank
 * (given the same BLIS sub-configuration on every rank).  The counts are
 * then gathered so that every rank selects from all of them.  A distance
 * carries float rounding of about 1e-7 ||a|| ||b||, so a near-tie between
 * two neighbours may go either way, but the same way for any rank count.
 * Rows with a NaN distance never become neighbours.  Memory per rank:
 * block^2 floats, block * k neighbours, N norms.  keep = 1 computes
 * nothing unless disagree is asked for. */
void w2s_filter_knn(const struct w2s_comm *c, const float *x, int64_t N, size_t D,
		    const int32_t *weak, const struct w2s_filter_knn_opts *o, uint8_t *kept,
		    float *disagree);

/* What a filter did to the weak labels' errors. */
struct w2s_filter_report {
	int64_t rows, kept, removed;
	int64_t errors;         /* rows whose weak label is not the truth */
	int64_t errors_removed; /* of them, removed by the filter */
	int64_t errors_kept;
	double precision;    /* errors_removed / removed: NaN when nothing was removed */
	double recall;       /* errors_removed / errors: NaN when there were no errors */
	double error_before; /* errors / rows */
	double error_after;  /* errors_kept / kept: NaN when nothing was kept */
};

/* Fills r from the mask kept (N), the weak hard labels weak (N) and the
 * ground truth truth (N). */
void w2s_filter_report(const uint8_t *kept, const int32_t *weak, const int32_t *truth,
		       int64_t N, struct w2s_filter_report *r);

/* Which part of a pool, ranked by a reference model's loss, to keep. */
enum w2s_filter_band {
	W2S_FILTER_BAND_LOW = 0, /* the easiest rows: lowest loss */
	W2S_FILTER_BAND_MIDDLE,
	W2S_FILTER_BAND_HIGH,    /* the hardest rows: highest loss */
	W2S_FILTER_BAND_RANDOM,  /* regardless of loss */
};

struct w2s_filter_select_opts {
	enum w2s_filter_band band;
	double fraction; /* of the pool kept, in [0, 1] */
	uint64_t seed;   /* RANDOM: the permutation is w2s_rng_permutation(seed, stream, 0) */
	uint32_t stream;
};

/* Selection from a pool: keeps k = w2s_filter_keep_count(N, fraction) rows
 * by their losses loss (N) (not read for RANDOM; NaN ranks as the highest
 * loss).  With the rows sorted by loss ascending, ties by index, LOW keeps
 * positions [0, k), HIGH [N - k, N), MIDDLE [(N - k) / 2, (N - k) / 2 + k)
 * (rounded down): the band centred on the median.  RANDOM keeps the rows
 * named by the first k entries of the permutation: the same for the same
 * seed and stream. */
void w2s_filter_select(const float *loss, int64_t N, const struct w2s_filter_select_opts *o,
		       uint8_t *kept);

const char *w2s_filter_band_name(enum w2s_filter_band b);

#endif
