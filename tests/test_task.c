/*
 * test_task.c: the synthetic tasks make what the config says: views built
 * from z and u as documented, labels that follow the signal, label noise at
 * the requested rate, and the same rows whichever shard makes them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "w2s/config.h"
#include "w2s/log.h"
#include "w2s/task.h"

static void load(struct w2s_config *c, const char *const *sets, int n)
{
	assert_int_equal(w2s_config_load(c, NULL, sets, n), W2S_STATUS_OK);
}

static int view_of(const struct w2s_task_shard *s, const char *name)
{
	for (int v = 0; v < s->nviews; v++)
		if (!strcmp(s->name[v], name))
			return v;
	fail_msg("no view %s", name);
	return -1;
}

static void latent_views_are_the_documented_parts_of_z_and_u(void **state)
{
	const char *sets[] = {
		"data.latent.views={x: {z: all, u: all}, noisy: {z: 3, noise: 0.5}, "
		"part: {z: 2, u: 5}}",
		"models={m: {view: x}}", "w2s.weak=m", "w2s.strong=[m]",
	};
	struct w2s_config c;
	load(&c, sets, 4);
	struct w2s_task_shard s;
	assert_int_equal(w2s_task_generate(&c, 0, 500, &s), W2S_STATUS_OK);
	int x = view_of(&s, "x"), noisy = view_of(&s, "noisy"), part = view_of(&s, "part");
	int64_t S = c.data.latent.signal;
	assert_int_equal(s.width[x], S + c.data.latent.nuisance);
	assert_int_equal(s.width[noisy], 3);
	assert_int_equal(s.width[part], 7);
	double worst = 0;
	for (int64_t i = 0; i < 500; i++) {
		const float *z = s.x[x] + i * s.width[x], *u = z + S;
		for (int j = 0; j < 3; j++) {
			double want = z[j] + 0.5 * (double)u[j];
			worst = fmax(worst, fabs(s.x[noisy][i * 3 + j] - want));
		}
		for (int j = 0; j < 2; j++)
			assert_true(s.x[part][i * 7 + j] == z[j]);
		for (int j = 0; j < 5; j++)
			assert_true(s.x[part][i * 7 + 2 + j] == u[j]);
	}
	printf("largest difference of z + 0.5 u: %.3g\n", worst);
	assert_true(worst < 1e-6);
	w2s_task_shard_free(&s);
	w2s_config_free(&c);
}

static void a_shard_holds_the_same_rows_as_the_whole(void **state)
{
	struct w2s_config c;
	load(&c, NULL, 0);
	struct w2s_task_shard all, part;
	assert_int_equal(w2s_task_generate(&c, 0, 300, &all), W2S_STATUS_OK);
	assert_int_equal(w2s_task_generate(&c, 117, 231, &part), W2S_STATUS_OK);
	for (int v = 0; v < all.nviews; v++)
		assert_memory_equal(part.x[v], all.x[v] + 117 * all.width[v],
				    (size_t)(114 * all.width[v]) * sizeof(float));
	assert_memory_equal(part.target, all.target + 117, 114 * sizeof(int32_t));
	w2s_task_shard_free(&part);
	w2s_task_shard_free(&all);
	w2s_config_free(&c);
}

/* The gen stage refills one small shard block after block: each block
 * must hold the rows that one big shard holds, for a class task with label
 * noise and for a regression task with noise on its value. */
static void blocks_of_a_reused_shard_are_the_rows_of_the_whole(void **state)
{
	const char *class_sets[] = {"data.latent.label_noise=0.1", "data.latent.classes=3"};
	const char *regression_sets[] = {"data.latent.target=regression",
					 "data.latent.label_noise=0.5"};
	const char *const *sets[] = {class_sets, regression_sets};
	for (int t = 0; t < 2; t++) {
		struct w2s_config c;
		load(&c, sets[t], 2);
		struct w2s_task_shard all, part;
		assert_int_equal(w2s_task_generate(&c, 0, 1000, &all), W2S_STATUS_OK);
		assert_int_equal(w2s_task_shard_init(&c, 97, &part), W2S_STATUS_OK);
		for (int64_t b = 0; b < 1000; b += 97) {
			int64_t e = b + 97 < 1000 ? b + 97 : 1000;
			w2s_task_fill(&c, b, e, &part);
			for (int v = 0; v < all.nviews; v++)
				assert_memory_equal(part.x[v], all.x[v] + b * all.width[v],
						    (size_t)((e - b) * all.width[v]) * sizeof(float));
			assert_memory_equal(part.target, all.target + b, (size_t)(e - b) * sizeof(int32_t));
			if (t == 1)
				assert_memory_equal(part.value, all.value + b,
						    (size_t)(e - b) * sizeof(float));
		}
		w2s_task_shard_free(&part);
		w2s_task_shard_free(&part); /* twice is safe */
		w2s_task_shard_free(&all);
		w2s_config_free(&c);
	}
}

/* The strong view is z, and the label is the argmax of a linear function
 * of z: so some direction separates the classes perfectly.  Least squares
 * on +-1 targets finds a direction that classifies nearly all rows; the
 * weak view, which sees z only in part and through noise, cannot. */
static double least_squares_accuracy(const float *x, int64_t D, const int32_t *y, int64_t n)
{
	double a[17 * 17] = {0}, b[17] = {0};
	W2S_CHECK(D + 1 <= 17);
	int64_t P = D + 1;
	for (int64_t i = 0; i < n; i++) {
		double row[17];
		for (int64_t j = 0; j < D; j++)
			row[j] = x[i * D + j];
		row[D] = 1;
		double t = y[i] ? 1 : -1;
		for (int64_t j = 0; j < P; j++) {
			b[j] += row[j] * t;
			for (int64_t k = 0; k < P; k++)
				a[j * P + k] += row[j] * row[k];
		}
	}
	/* Gaussian elimination with partial pivoting. */
	for (int64_t col = 0; col < P; col++) {
		int64_t piv = col;
		for (int64_t r = col + 1; r < P; r++)
			if (fabs(a[r * P + col]) > fabs(a[piv * P + col]))
				piv = r;
		for (int64_t k = 0; k < P; k++) {
			double t = a[col * P + k];
			a[col * P + k] = a[piv * P + k];
			a[piv * P + k] = t;
		}
		double t = b[col];
		b[col] = b[piv];
		b[piv] = t;
		for (int64_t r = col + 1; r < P; r++) {
			double f = a[r * P + col] / a[col * P + col];
			for (int64_t k = col; k < P; k++)
				a[r * P + k] -= f * a[col * P + k];
			b[r] -= f * b[col];
		}
	}
	double w[17];
	for (int64_t r = P - 1; r >= 0; r--) {
		double s = b[r];
		for (int64_t k = r + 1; k < P; k++)
			s -= a[r * P + k] * w[k];
		w[r] = s / a[r * P + r];
	}
	int64_t correct = 0;
	for (int64_t i = 0; i < n; i++) {
		double s = w[D];
		for (int64_t j = 0; j < D; j++)
			s += w[j] * x[i * D + j];
		correct += (s > 0) == (y[i] == 1);
	}
	return (double)correct / (double)n;
}

static void labels_follow_the_signal_that_the_strong_view_sees(void **state)
{
	struct w2s_config c;
	load(&c, NULL, 0);
	struct w2s_task_shard s;
	assert_int_equal(w2s_task_generate(&c, 0, 4000, &s), W2S_STATUS_OK);
	int strong = view_of(&s, "strong"), weak = view_of(&s, "weak");
	double acc_strong = least_squares_accuracy(s.x[strong], s.width[strong], s.target, 4000);
	double acc_weak = least_squares_accuracy(s.x[weak], s.width[weak], s.target, 4000);
	int64_t ones = 0;
	for (int i = 0; i < 4000; i++)
		ones += s.target[i];
	printf("least squares accuracy: strong view %.4f, weak view %.4f; class 1: %lld of 4000\n",
	       acc_strong, acc_weak, (long long)ones);
	assert_true(acc_strong > 0.95);
	assert_true(acc_weak < acc_strong - 0.1);
	assert_true(ones > 1600 && ones < 2400);
	w2s_task_shard_free(&s);
	w2s_config_free(&c);
}

static double disagreement(const char *task, const char *noise_key, double p, int classes)
{
	char t[64], n0[96], n1[96], k[96];
	snprintf(t, sizeof t, "data.task=%s", task);
	snprintf(n0, sizeof n0, "%s=0", noise_key);
	snprintf(n1, sizeof n1, "%s=%g", noise_key, p);
	snprintf(k, sizeof k, "data.%s.classes=%d", task, classes);
	const char *clean_sets[] = {t, n0, k}, *noisy_sets[] = {t, n1, k};
	struct w2s_config clean, noisy;
	load(&clean, clean_sets, 3);
	load(&noisy, noisy_sets, 3);
	struct w2s_task_shard a, b;
	assert_int_equal(w2s_task_generate(&clean, 0, 20000, &a), W2S_STATUS_OK);
	assert_int_equal(w2s_task_generate(&noisy, 0, 20000, &b), W2S_STATUS_OK);
	int64_t differ = 0, seen[8] = {0};
	for (int i = 0; i < 20000; i++) {
		differ += a.target[i] != b.target[i];
		assert_true(b.target[i] >= 0 && b.target[i] < classes);
		seen[a.target[i]]++;
	}
	for (int k2 = 0; k2 < classes; k2++)
		assert_true(seen[k2] > 0); /* every class is reachable */
	assert_memory_equal(a.x[0], b.x[0], 20000 * (size_t)a.width[0] * sizeof(float));
	w2s_task_shard_free(&a);
	w2s_task_shard_free(&b);
	w2s_config_free(&clean);
	w2s_config_free(&noisy);
	return (double)differ / 20000.0;
}

static void label_noise_flips_the_requested_fraction_and_nothing_else(void **state)
{
	/* Binomial standard error at p = 0.2, n = 20000: 0.0028; allow 4. */
	double latent = disagreement("latent", "data.latent.label_noise", 0.2, 2);
	double teacher = disagreement("teacher", "data.teacher.label_noise", 0.2, 4);
	printf("flipped: latent %.4f, teacher %.4f (asked 0.2)\n", latent, teacher);
	assert_true(fabs(latent - 0.2) < 0.012);
	assert_true(fabs(teacher - 0.2) < 0.012);
}

int main(void)
{
	w2s_log_init(0, W2S_LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(latent_views_are_the_documented_parts_of_z_and_u),
		cmocka_unit_test(a_shard_holds_the_same_rows_as_the_whole),
		cmocka_unit_test(blocks_of_a_reused_shard_are_the_rows_of_the_whole),
		cmocka_unit_test(labels_follow_the_signal_that_the_strong_view_sees),
		cmocka_unit_test(label_noise_flips_the_requested_fraction_and_nothing_else),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
