/*
 * loss.c: softmax cross-entropy (hard and soft targets), the losses a
 * student learns from a teacher's outputs with, and the argmax helpers that
 * score predictions.
 *
 * Dimension legend: n rows, C classes.  Per row, the log-sum-exp is formed in
 * double after subtracting the row maximum, so logits of any finite size
 * give finite losses; the returned sums are double because a float sum over
 * a large batch loses the digits that distinguish two epochs.
 *
 * dlogits may be the logits buffer itself: each row's loss is taken before
 * the row is overwritten, and each entry is read before it is written.
 *
 * Not here: the gradient through the model (mlp.c), reductions over ranks.
 */
#include "w2s/loss.h"

#include "w2s/common.h"

#include <math.h>

/* log(sum_c exp(z_c - max)) of one row (C), with *max = max_c z_c, so that
 * no exp overflows and the largest term is exactly 1.  Kept apart from max
 * for losses that need log p = (z - max) - logsum to full precision: adding
 * max first rounds log p to the ulp of max, 1e-13 at logits of 1e3. */
static double loss_row_logsum(const float *z, size_t C, double *max)
{
	float m = z[0];
	for (size_t c = 1; c < C; c++)
		if (z[c] > m)
			m = z[c];
	double sum = 0.0;
	for (size_t c = 0; c < C; c++)
		sum += exp((double)z[c] - (double)m);
	*max = m;
	return log(sum);
}

/* log(sum_c exp(z_c)) of one row (C). */
static double loss_row_logsumexp(const float *z, size_t C)
{
	double max;
	double logsum = loss_row_logsum(z, C, &max);
	return max + logsum;
}

double w2s_loss_xent_hard(const float *logits, const int32_t *y, size_t n, size_t C,
			  float scale, float *dlogits)
{
	W2S_CHECK(n == 0 || C > 0);
	double total = 0.0;
	for (size_t i = 0; i < n; i++) {
		const float *z = logits + i * C;
		W2S_CHECK(y[i] >= 0 && (size_t)y[i] < C);
		double lse = loss_row_logsumexp(z, C);
		total += lse - (double)z[y[i]];
		if (dlogits == NULL)
			continue;
		float *d = dlogits + i * C;
		for (size_t c = 0; c < C; c++) {
			double p = exp((double)z[c] - lse);
			double t = (size_t)y[i] == c ? 1.0 : 0.0;
			d[c] = (float)((double)scale * (p - t));
		}
	}
	return total;
}

double w2s_loss_xent_soft(const float *logits, const float *t, size_t n, size_t C,
			  float scale, float *dlogits)
{
	W2S_CHECK(n == 0 || C > 0);
	double total = 0.0;
	for (size_t i = 0; i < n; i++) {
		const float *z = logits + i * C;
		const float *ti = t + i * C;
		double lse = loss_row_logsumexp(z, C);
		double row = 0.0;
		/* Classes with zero target are skipped, not multiplied by 0:
		 * z - lse can be -inf when a logit is -inf, and 0 * inf is NaN. */
		for (size_t c = 0; c < C; c++)
			if (ti[c] != 0.0f)
				row -= (double)ti[c] * ((double)z[c] - lse);
		total += row;
		if (dlogits == NULL)
			continue;
		float *d = dlogits + i * C;
		for (size_t c = 0; c < C; c++) {
			double p = exp((double)z[c] - lse);
			d[c] = (float)((double)scale * (p - (double)ti[c]));
		}
	}
	return total;
}

double w2s_loss_kl(const float *logits, const float *t, size_t n, size_t C, float scale,
		   float *dlogits)
{
	W2S_CHECK(n == 0 || C > 0);
	double total = 0.0;
	for (size_t i = 0; i < n; i++) {
		const float *z = logits + i * C;
		const float *ti = t + i * C;
		double max;
		double logsum = loss_row_logsum(z, C, &max);
		/* log t - log p per class rather than xent - H(t): those two
		 * sums are each O(1) while their difference may be 1e-15. */
		double row = 1.0;
		for (size_t c = 0; c < C; c++) {
			if (ti[c] == 0.0f)
				continue;
			double tc = (double)ti[c];
			row += tc * (log(tc) - (((double)z[c] - max) - logsum)) - tc;
		}
		total += row > 0.0 ? row : 0.0;
		if (dlogits == NULL)
			continue;
		/* The gradient as xent_soft forms it, bit for bit, so that
		 * training on kl or on xent_soft takes the same steps. */
		double lse = max + logsum;
		float *d = dlogits + i * C;
		for (size_t c = 0; c < C; c++) {
			double p = exp((double)z[c] - lse);
			d[c] = (float)((double)scale * (p - (double)ti[c]));
		}
	}
	return total;
}

/* log(sum_c exp(z_c / T)) of one row (C), in the manner of
 * loss_row_logsum: *max = max_c z_c / T, returned log sum exp(z/T - max).
 * Dividing before subtracting makes z_c / T - max exactly what the callers
 * form, so the largest term is exactly 1. */
static double loss_row_logsum_at(const float *z, size_t C, double T, double *max)
{
	float m = z[0];
	for (size_t c = 1; c < C; c++)
		if (z[c] > m)
			m = z[c];
	double mt = (double)m / T, sum = 0.0;
	for (size_t c = 0; c < C; c++)
		sum += exp((double)z[c] / T - mt);
	*max = mt;
	return log(sum);
}

double w2s_loss_kd(const float *logits, const int32_t *y, const float *tz, size_t n, size_t C,
		   float T, float l, float scale, float *dlogits)
{
	W2S_CHECK(n == 0 || C > 0);
	W2S_CHECK(T > 0.0f && l >= 0.0f && l <= 1.0f);
	W2S_CHECK(l == 0.0f || tz != NULL);
	W2S_CHECK(l == 1.0f || y != NULL);
	const double dT = T, hard = 1.0 - (double)l, soft = (double)l;
	double total = 0.0;
	for (size_t i = 0; i < n; i++) {
		const float *z = logits + i * C;
		const float *tzi = soft != 0.0 ? tz + i * C : NULL;
		/* Each term is skipped, not multiplied by 0, when its weight is
		 * 0: the other's inputs may then be anything, and l = 0 leaves
		 * exactly the arithmetic of xent_hard. */
		double lse = 0.0, smax = 0.0, slogsum = 0.0, tmax = 0.0, tlogsum = 0.0;
		double row = 0.0;
		if (hard != 0.0) {
			W2S_CHECK(y[i] >= 0 && (size_t)y[i] < C);
			lse = loss_row_logsumexp(z, C);
			row += hard * (lse - (double)z[y[i]]);
		}
		if (soft != 0.0) {
			slogsum = loss_row_logsum_at(z, C, dT, &smax);
			tlogsum = loss_row_logsum_at(tzi, C, dT, &tmax);
			double kl = 0.0;
			for (size_t c = 0; c < C; c++) {
				double lq = ((double)tzi[c] / dT - tmax) - tlogsum;
				double q = exp(lq);
				/* q underflowing to 0 contributes 0, and skipping it
				 * avoids 0 * -inf where a logit is -inf. */
				if (q != 0.0)
					kl += q * (lq - (((double)z[c] / dT - smax) - slogsum));
			}
			row += soft * dT * dT * (kl > 0.0 ? kl : 0.0);
		}
		total += row;
		if (dlogits == NULL)
			continue;
		float *d = dlogits + i * C;
		for (size_t c = 0; c < C; c++) {
			double g = 0.0;
			if (hard != 0.0) {
				double p = exp((double)z[c] - lse);
				double t = (size_t)y[i] == c ? 1.0 : 0.0;
				g = hard * (p - t);
			}
			if (soft != 0.0) {
				double ps = exp(((double)z[c] / dT - smax) - slogsum);
				double q = exp(((double)tzi[c] / dT - tmax) - tlogsum);
				g += soft * dT * (ps - q);
			}
			d[c] = (float)((double)scale * g);
		}
	}
	return total;
}

/* b log p + c log t for one class: the log of the product target before
 * normalization.  A power of 0 contributes 0 outright, so p^0 = t^0 = 1
 * even where the log is -inf. */
static double loss_product_log_weight(double logp, float t, double b, double c)
{
	double w = 0.0;
	if (b != 0.0)
		w += b * logp;
	if (c != 0.0)
		w += c * log((double)t);
	return w;
}

double w2s_loss_product(const float *logits, const float *t, size_t n, size_t C, float b,
			float c, float scale, float *dlogits)
{
	W2S_CHECK(n == 0 || C > 0);
	W2S_CHECK(b >= 0.0f && c >= 0.0f);
	double total = 0.0;
	for (size_t i = 0; i < n; i++) {
		const float *z = logits + i * C;
		const float *ti = t + i * C;
		double max;
		double logsum = loss_row_logsum(z, C, &max);
		/* Normalize the log weights by their own log-sum-exp; they
		 * are recomputed in each pass rather than held in scratch. */
		double wmax = -INFINITY;
		for (size_t k = 0; k < C; k++) {
			double logp = ((double)z[k] - max) - logsum;
			double w = loss_product_log_weight(logp, ti[k], b, c);
			if (w > wmax)
				wmax = w;
		}
		double wsum = 0.0;
		for (size_t k = 0; k < C; k++) {
			double logp = ((double)z[k] - max) - logsum;
			wsum += exp(loss_product_log_weight(logp, ti[k], b, c) - wmax);
		}
		double wnorm = wmax + log(wsum);
		double row = 0.0;
		float *d = dlogits != NULL ? dlogits + i * C : NULL;
		for (size_t k = 0; k < C; k++) {
			double logp = ((double)z[k] - max) - logsum;
			double q = exp(loss_product_log_weight(logp, ti[k], b, c) - wnorm);
			if (q != 0.0)
				row -= q * logp;
			if (d != NULL)
				d[k] = (float)((double)scale * (exp(logp) - q));
		}
		total += row;
	}
	return total;
}

void w2s_softmax(const float *logits, float *probs, size_t n, size_t C)
{
	for (size_t i = 0; i < n; i++) {
		const float *z = logits + i * C;
		float *p = probs + i * C;
		double lse = loss_row_logsumexp(z, C);
		for (size_t c = 0; c < C; c++)
			p[c] = (float)exp((double)z[c] - lse);
	}
}

/* First index of the row's maximum.  A NaN loses every comparison, so it
 * is returned only from index 0, where nothing can displace it. */
static size_t loss_argmax(const float *v, size_t C)
{
	size_t best = 0;
	for (size_t c = 1; c < C; c++)
		if (v[c] > v[best])
			best = c;
	return best;
}

size_t w2s_count_correct(const float *logits, const int32_t *y, size_t n, size_t C)
{
	W2S_CHECK(n == 0 || C > 0);
	size_t correct = 0;
	for (size_t i = 0; i < n; i++)
		if (y[i] >= 0 && loss_argmax(logits + i * C, C) == (size_t)y[i])
			correct++;
	return correct;
}

void w2s_argmax_rows(const float *v, int32_t *out, size_t n, size_t C)
{
	W2S_CHECK(n == 0 || (C > 0 && C <= INT32_MAX));
	for (size_t i = 0; i < n; i++)
		out[i] = (int32_t)loss_argmax(v + i * C, C);
}
