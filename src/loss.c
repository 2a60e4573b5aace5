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

/* How the confidence loss hardens the rows of one batch: worked out from
 * all rows by loss_harden_plan, then applied to the rows in order by
 * loss_harden_row, so that the loss needs no per-row storage and each row
 * is read before its dlogits may overwrite it. */
struct loss_hardening {
	size_t C;
	double threshold;     /* C == 2: rows with a margin above it get class 1 */
	size_t ties_left;     /* C == 2: rows at the threshold still to get class 1 */
	const double *adjust; /* C != 2: log(prior_c / q_c) (C) */
};

/* z1 - z0 of a two-class row: p1 is increasing in it.  NaN becomes -inf so
 * that the ranking is a total order. */
static double loss_margin(const float *z)
{
	double m = (double)z[1] - (double)z[0];
	return isnan(m) ? -INFINITY : m;
}

/* Ascending heapsort of a (n): in place, so the caller's scratch suffices
 * where qsort may allocate, and O(n log n) on any input. */
static void loss_sift_down(double *a, size_t root, size_t end)
{
	for (;;) {
		size_t child = 2 * root + 1;
		if (child >= end)
			return;
		if (child + 1 < end && a[child + 1] > a[child])
			child++;
		if (!(a[child] > a[root]))
			return;
		double tmp = a[root];
		a[root] = a[child];
		a[child] = tmp;
		root = child;
	}
}

static void loss_heapsort(double *a, size_t n)
{
	if (n < 2)
		return;
	for (size_t i = n / 2; i-- > 0;)
		loss_sift_down(a, i, n);
	for (size_t end = n - 1; end > 0; end--) {
		double tmp = a[0];
		a[0] = a[end];
		a[end] = tmp;
		loss_sift_down(a, 0, end);
	}
}

static void loss_harden_plan(const float *logits, const float *t, size_t n, size_t C,
			     double *scratch, struct loss_hardening *hp)
{
	hp->C = C;
	hp->threshold = INFINITY;
	hp->ties_left = 0;
	hp->adjust = NULL;
	if (C == 2) {
		double count = 0.0;
		for (size_t i = 0; i < n; i++) {
			count += (double)t[2 * i + 1];
			scratch[i] = loss_margin(logits + 2 * i);
		}
		double rounded = floor(count + 0.5);
		size_t k = !(rounded > 0.0) ? 0 : rounded >= (double)n ? n : (size_t)rounded;
		if (k == 0)
			return;
		loss_heapsort(scratch, n);
		double v = scratch[n - k];
		size_t above = 0;
		for (size_t j = n - k + 1; j < n; j++)
			if (scratch[j] > v)
				above++;
		hp->threshold = v;
		hp->ties_left = k - above;
		return;
	}
	/* q_c is accumulated as a running log-sum-exp of log p_ic (max in
	 * qmax, sum of exp(log p - max) in qsum), so a class the student
	 * gives 1e-400 everywhere still has a finite log q.  1/n cancels
	 * between prior and q and is left out of both. */
	double *adjust = scratch, *qmax = scratch + C, *qsum = scratch + 2 * C;
	for (size_t c = 0; c < C; c++) {
		adjust[c] = 0.0;
		qmax[c] = -INFINITY;
		qsum[c] = 0.0;
	}
	for (size_t i = 0; i < n; i++) {
		const float *z = logits + i * C;
		double max;
		double logsum = loss_row_logsum(z, C, &max);
		for (size_t c = 0; c < C; c++) {
			adjust[c] += (double)t[i * C + c];
			double lp = ((double)z[c] - max) - logsum;
			if (lp > qmax[c]) {
				qsum[c] = qsum[c] * exp(qmax[c] - lp) + 1.0;
				qmax[c] = lp;
			} else if (lp > -INFINITY) {
				qsum[c] += exp(lp - qmax[c]);
			}
		}
	}
	/* A class whose p is exactly 0 in every row (logits of -inf) has
	 * log q = -inf; it gets no adjustment rather than +inf, which would
	 * turn its -inf scores into NaN. */
	for (size_t c = 0; c < C; c++)
		adjust[c] = qmax[c] == -INFINITY ? 0.0 : log(adjust[c]) - (qmax[c] + log(qsum[c]));
	hp->adjust = adjust;
}

/* The hardened class of the next row, logits z (C); rows must come in
 * order, each once. */
static size_t loss_harden_row(struct loss_hardening *hp, const float *z)
{
	if (hp->C == 2) {
		double m = loss_margin(z);
		if (m > hp->threshold)
			return 1;
		if (m == hp->threshold && hp->ties_left > 0) {
			hp->ties_left--;
			return 1;
		}
		return 0;
	}
	size_t best = 0;
	double best_score = (double)z[0] + hp->adjust[0];
	for (size_t c = 1; c < hp->C; c++) {
		double score = (double)z[c] + hp->adjust[c];
		if (score > best_score) {
			best = c;
			best_score = score;
		}
	}
	return best;
}

double w2s_loss_confidence(const float *logits, const float *t, size_t n, size_t C, float a,
			   double *scratch, float scale, float *dlogits)
{
	W2S_CHECK(n == 0 || C > 0);
	W2S_CHECK(a >= 0.0f && a <= 1.0f);
	if (n == 0)
		return 0.0;
	struct loss_hardening hp;
	loss_harden_plan(logits, t, n, C, scratch, &hp);
	/* At a = 0, keep * t + 0 is t exactly and the loop below is
	 * xent_soft's arithmetic, so the two agree bit for bit. */
	const double keep = 1.0 - (double)a, hard = (double)a;
	double total = 0.0;
	for (size_t i = 0; i < n; i++) {
		const float *z = logits + i * C;
		const float *ti = t + i * C;
		size_t h = loss_harden_row(&hp, z);
		double lse = loss_row_logsumexp(z, C);
		double row = 0.0;
		for (size_t c = 0; c < C; c++) {
			double target = keep * (double)ti[c] + (c == h ? hard : 0.0);
			if (target != 0.0)
				row -= target * ((double)z[c] - lse);
		}
		total += row;
		if (dlogits == NULL)
			continue;
		float *d = dlogits + i * C;
		for (size_t c = 0; c < C; c++) {
			double p = exp((double)z[c] - lse);
			double target = keep * (double)ti[c] + (c == h ? hard : 0.0);
			d[c] = (float)((double)scale * (p - target));
		}
	}
	return total;
}

void w2s_loss_confidence_harden(const float *logits, const float *t, size_t n, size_t C,
				double *scratch, int32_t *h)
{
	W2S_CHECK(n == 0 || (C > 0 && C <= INT32_MAX));
	if (n == 0)
		return;
	struct loss_hardening hp;
	loss_harden_plan(logits, t, n, C, scratch, &hp);
	for (size_t i = 0; i < n; i++)
		h[i] = (int32_t)loss_harden_row(&hp, logits + i * C);
}

float w2s_loss_confidence_alpha(float final_a, float warmup_fraction, int64_t step,
				int64_t total_steps)
{
	W2S_CHECK(final_a >= 0.0f && final_a <= 1.0f);
	W2S_CHECK(warmup_fraction >= 0.0f && warmup_fraction <= 1.0f);
	W2S_CHECK(step >= 0 && total_steps >= 0);
	/* Whole steps: 0.1f of 1000 is 100.0000015 in double, which would
	 * leave step 100 a hair short of final_a. */
	int64_t warm = (int64_t)llround((double)warmup_fraction * (double)total_steps);
	if (step >= warm)
		return final_a;
	return (float)((double)final_a * (double)step / (double)warm);
}

double w2s_loss_mse(const float *pred, const float *y, size_t n, float scale, float *dpred)
{
	double total = 0.0;
	for (size_t i = 0; i < n; i++) {
		double d = (double)pred[i] - (double)y[i];
		total += d * d;
		if (dpred != NULL)
			dpred[i] = (float)((double)scale * 2.0 * d);
	}
	return total;
}

double w2s_sum_squared_diff(const float *a, const float *b, size_t n)
{
	double total = 0.0;
	for (size_t i = 0; i < n; i++) {
		double d = (double)a[i] - (double)b[i];
		total += d * d;
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
