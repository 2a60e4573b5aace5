/*
 * loss.h: losses on logits and the gradient with respect to them.
 *
 * Dimension legend: n rows, C classes.  Every function returns the SUM of
 * the per-row losses over its n rows and writes dlogits = scale * d(sum)/d
 * logits, so a data-parallel step passes scale = 1 / global batch and the
 * sum over ranks is the gradient of the mean.  dlogits may be NULL (loss only).
 * Softmax is computed stably (max subtracted); log of zero targets is never
 * taken.  Sums are accumulated in double and nothing allocates: the one loss
 * that needs working memory (confidence) takes it from the caller.
 */
#ifndef W2S_LOSS_H
#define W2S_LOSS_H

#include <stddef.h>
#include <stdint.h>

/* Cross-entropy against class ids y (n) in [0, C). */
double w2s_loss_xent_hard(const float *logits, const int32_t *y, size_t n, size_t C,
			  float scale, float *dlogits);

/* Cross-entropy against target distributions t (n, C), rows summing to 1:
 * sum_i -sum_c t_ic log softmax(z_i)_c.  Gradient scale * (softmax - t). */
double w2s_loss_xent_soft(const float *logits, const float *t, size_t n, size_t C,
			  float scale, float *dlogits);

/* KL(t_i || softmax(z_i)) summed over rows: xent_soft minus the entropy of
 * t.  Each row is computed as sum_c t_c log(t_c / p_c) + (1 - sum_c t_c),
 * the generalized KL, which equals KL for rows summing to 1 and stays >= 0
 * for float rows whose sum is off by rounding, so at t == softmax(z) it is 0
 * to about 1e-15 rather than to the 1e-7 of the row sum.  What rounding still
 * leaves below 0 is set to 0 per row.  Gradient scale * (softmax - t), bit
 * for bit that of xent_soft. */
double w2s_loss_kl(const float *logits, const float *t, size_t n, size_t C, float scale,
		   float *dlogits);

/* Knowledge distillation (Hinton et al. 2015) from teacher logits tz (n, C)
 * at temperature T > 0, mixed with ground truth y (n) by l in [0, 1]:
 *   (1 - l) xent(softmax(z), y) + l T^2 KL(softmax(tz / T) || softmax(z / T)).
 * T^2 keeps the soft term's gradient, T (softmax(z/T) - softmax(tz/T)), on
 * the scale of the hard one as T grows.  l = 0 is w2s_loss_xent_hard bit
 * for bit and never reads tz (may be NULL); l = 1 never reads y (may be
 * NULL).  dlogits may alias logits, not tz. */
double w2s_loss_kd(const float *logits, const int32_t *y, const float *tz, size_t n, size_t C,
		   float T, float l, float scale, float *dlogits);

/* Cross-entropy against a product of experts of the student and the
 * teacher: target_i proportional to softmax(z_i)^b * t_i^c, b, c >= 0,
 * formed in log space (b log softmax(z) + c log t, then normalized), so
 * sharp rows neither underflow nor overflow.  Where t is 0 the target is 0
 * unless c = 0; a row whose target has no mass at all gives NaN.  The
 * target is a constant to the gradient: scale * (softmax(z) - target).
 * b = 0, c = 1 is xent_soft against t renormalized to sum 1 (xent_soft
 * itself to double rounding on rows that sum to 1). */
double w2s_loss_product(const float *logits, const float *t, size_t n, size_t C, float b,
			float c, float scale, float *dlogits);

/* The auxiliary confidence loss of Burns et al. (2023): cross-entropy
 * against
 *   target_i = (1 - a) t_i + a onehot(h_i),   a in [0, 1],
 * where h_i hardens the student's own prediction softmax(z_i) so that, over
 * the n rows, each class is about as frequent in h as in the teacher's prior,
 * the mean of t over the rows (exactly so for C = 2).  h is a constant to the
 * gradient: scale * (softmax(z) - target).  a = 0 is w2s_loss_xent_soft bit
 * for bit.  The prior and the ranking are those of the n rows given: a rank
 * that passes its share of a batch hardens within its share.
 * scratch: n + 3 C doubles, overwritten.  dlogits may alias logits.
 *
 * C = 2: k = floor(sum_i t_i1 + 1/2), clamped to [0, n]: the teacher's count
 *   of class 1, halves rounded up.  The k rows with the largest p_i1 get
 *   h = 1, the others 0.  That is, with threshold = the k-th largest p_i1,
 *   h = 1 where p_i1 > threshold, and among the rows where p_i1 equals it,
 *   the first in row order until k rows have h = 1.  Rows are ranked by
 *   z_i1 - z_i0 in double, which orders them as p_i1 does without p_i1's
 *   saturation at 1 in float; a NaN margin counts as -inf.
 * C != 2: h_i = argmax_c z_ic + log(prior_c / q_c), prior_c = mean_i t_ic,
 *   q_c = mean_i softmax(z_i)_c, ties to the lower class.  The C = 2 rule is
 *   argmax_c log p_ic + lambda_c with lambda chosen so that the counts match;
 *   for more classes that takes a search, and lambda = log(prior / q), the
 *   label-shift correction of Saerens et al. (2002), moves the counts toward
 *   the prior in one step instead.  It is plain argmax when the student's
 *   mean prediction already is the prior, and never picks a class of prior
 *   0; counts match the prior only approximately. */
double w2s_loss_confidence(const float *logits, const float *t, size_t n, size_t C, float a,
			   double *scratch, float scale, float *dlogits);

/* The hardened classes h (n) of w2s_loss_confidence, for logits and t as
 * given to it.  scratch: n + 3 C doubles, overwritten. */
void w2s_loss_confidence_harden(const float *logits, const float *t, size_t n, size_t C,
				double *scratch, int32_t *h);

/* The weight a of the confidence loss at step `step` (counted from 0) of
 * total_steps: final_a * step / W while step < W, final_a from step W on,
 * where W = warmup_fraction * total_steps rounded to the nearest whole step
 * (halves away from 0).  warmup_fraction 0 gives final_a from the first
 * step.  final_a and warmup_fraction in [0, 1]. */
float w2s_loss_confidence_alpha(float final_a, float warmup_fraction, int64_t step,
				int64_t total_steps);

/* Squared error of a regression model's single output pred (n) against
 * targets y (n): sum_i (pred_i - y_i)^2, the sum as elsewhere (scale makes
 * it a mean).  dpred = scale * 2 (pred - y); may be NULL, may alias pred. */
double w2s_loss_mse(const float *pred, const float *y, size_t n, float scale, float *dpred);

/* sum_i (a_i - b_i)^2 over n entries, in double: the misfit between a
 * student's and a teacher's outputs, or between predictions and targets. */
double w2s_sum_squared_diff(const float *a, const float *b, size_t n);

/* Row-wise softmax of logits (n, C) into probs (n, C); may alias. */
void w2s_softmax(const float *logits, float *probs, size_t n, size_t C);

/* Number of rows whose argmax of logits equals y. Ties go to the lower class. */
size_t w2s_count_correct(const float *logits, const int32_t *y, size_t n, size_t C);
/* Argmax of each row (ties: lower class). */
void w2s_argmax_rows(const float *v, int32_t *out, size_t n, size_t C);

#endif
