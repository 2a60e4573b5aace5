/*
 * train.c: the data-parallel training loop; see train.h.
 *
 * All buffers are taken before the first step: the step itself gathers the
 * batch rows, runs forward and backward, sums over ranks, clips and updates,
 * and never allocates.
 */
#include "w2s/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "w2s/log.h"
#include "w2s/loss.h"
#include "w2s/optim.h"
#include "w2s/rng.h"

static void optim_opts_from_spec(const struct w2s_train_spec *spec, int64_t total_steps,
				 struct w2s_optim_opts *o)
{
	w2s_optim_opts_default(o);
	o->kind = spec->optimizer;
	o->lr = (float)spec->lr;
	o->lr_min = (float)spec->lr_min;
	o->weight_decay = (float)spec->weight_decay;
	o->beta1 = (float)spec->beta1;
	o->beta2 = (float)spec->beta2;
	o->eps = (float)spec->eps;
	o->momentum = (float)spec->momentum;
	o->schedule = spec->schedule;
	o->total_steps = total_steps;
	o->warmup_steps = (int64_t)(spec->warmup * (double)total_steps);
}

int64_t w2s_train_total_steps(const struct w2s_train_spec *spec, int64_t n)
{
	int64_t B = spec->batch < n ? spec->batch : n;
	if (B <= 0)
		return 0;
	int64_t per_epoch = (n + B - 1) / B;
	/* epochs is the user's, up to 2^63 - 1: saturate, not overflow. */
	return spec->epochs > INT64_MAX / per_epoch ? INT64_MAX : per_epoch * spec->epochs;
}

/* The state to save after the step just taken: it points at the batch
 * after this one. */
static struct w2s_train_state next_position(const struct w2s_train_state *s,
					    int64_t steps_per_epoch, double seconds)
{
	struct w2s_train_state at = *s;
	at.batch++;
	if (at.batch == steps_per_epoch) {
		at.epoch++;
		at.batch = 0;
	}
	at.seconds = seconds;
	return at;
}

void w2s_train_trainable(const struct w2s_mlp *m, int probe, size_t *offset, size_t *count)
{
	*offset = probe ? (size_t)(m->w[m->shape.nlayers - 1] - m->params) : 0;
	*count = m->nparams - *offset;
}

/* The loss of one step on the local rows: returns the sum over them and
 * writes dlogits.  tb (n, C) holds soft targets, kb (n, C) teacher logits. */
static double step_loss(const struct w2s_train_loss *loss, const struct w2s_train_data *d,
			const float *logits, const int32_t *yb, const float *tb, const float *kb,
			size_t n, size_t C, float scale, int64_t step, int64_t total,
			double *scratch, float *dlogits)
{
	if (d->regression)
		return w2s_loss_mse(logits, tb, n, scale, dlogits);
	if (d->teacher_logits)
		return w2s_loss_kd(logits, yb, kb, n, C, (float)loss->kd_temperature,
				   (float)loss->kd_weight, scale, dlogits);
	if (!d->soft)
		return w2s_loss_xent_hard(logits, yb, n, C, scale, dlogits);
	switch (loss->kind) {
	case W2S_LOSS_XENT_HARD:
		return w2s_loss_xent_hard(logits, yb, n, C, scale, dlogits);
	case W2S_LOSS_KL:
		return w2s_loss_kl(logits, tb, n, C, scale, dlogits);
	case W2S_LOSS_CONFIDENCE: {
		float a = w2s_loss_confidence_alpha((float)loss->confidence_alpha,
						    (float)loss->confidence_warmup, step, total);
		return w2s_loss_confidence(logits, tb, n, C, a, scratch, scale, dlogits);
	}
	case W2S_LOSS_PRODUCT:
		return w2s_loss_product(logits, tb, n, C, (float)loss->product_b,
					(float)loss->product_c, scale, dlogits);
	case W2S_LOSS_XENT:
		break;
	}
	return w2s_loss_xent_soft(logits, tb, n, C, scale, dlogits);
}

enum w2s_status w2s_train_model(const struct w2s_comm *c, struct w2s_mlp *m,
				const struct w2s_train_spec *spec, const struct w2s_train_loss *loss,
				const struct w2s_train_data *d, uint64_t seed, uint32_t stream,
				const struct w2s_train_log *log, const struct w2s_train_ckpt *ckpt,
				struct w2s_train_result *res)
{
	const int64_t N = d->n, D = d->dim, C = d->classes;
	const int64_t B = spec->batch < N ? spec->batch : N;
	const int64_t steps_per_epoch = (N + B - 1) / B;
	const int64_t total = w2s_train_total_steps(spec, N);
	const int64_t local_max = (B + c->size - 1) / c->size;
	const struct w2s_train_state *from = ckpt ? ckpt->from : NULL;
	enum w2s_status st = W2S_STATUS_OK;
	memset(res, 0, sizeof *res);

	/* The trace rows are taken before the first step (none inside it):
	 * a run of absurdly many steps is refused here, on every rank alike. */
	const int64_t capacity = total / log->every + 2 + (from ? from->ntrace : 0);
	struct w2s_trace_row *rows = capacity < (INT64_C(1) << 26)
					     ? calloc((size_t)capacity, sizeof *rows)
					     : NULL;
	if (!rows)
		w2s_log_error_local("%s: %lld steps would make a trace of %lld rows, more than "
				    "memory holds; raise log.every or lower train.epochs",
				    log->label, (long long)total, (long long)capacity);
	if (w2s_comm_agree(c, rows == NULL)) {
		free(rows);
		return W2S_STATUS_NOMEM;
	}

	static const struct w2s_train_loss xent = {.kind = W2S_LOSS_XENT};
	if (!loss)
		loss = &xent;
	/* A probe's optimizer sees only the last layer, so neither its updates
	 * nor its weight decay touch the frozen ones. */
	size_t off, ntrain;
	w2s_train_trainable(m, spec->probe, &off, &ntrain);
	struct w2s_optim_opts oo;
	optim_opts_from_spec(spec, total, &oo);
	struct w2s_optim opt = {0};
	struct w2s_mlp_work work = {0};
	W2S_CHECK(w2s_optim_init(&opt, &oo, ntrain) == 0);
	W2S_CHECK(w2s_mlp_work_init(&work, &m->shape, (size_t)local_max) == 0);
	int64_t *perm = w2s_xmalloc((size_t)N * sizeof *perm);
	float *xb = w2s_xmalloc((size_t)(local_max * D) * sizeof *xb);  /* (local_max, D) */
	float *tb = w2s_xmalloc((size_t)(local_max * C) * sizeof *tb);  /* (local_max, C) */
	int32_t *yb = w2s_xmalloc((size_t)local_max * sizeof *yb);
	float *dlogits = w2s_xmalloc((size_t)(local_max * C) * sizeof *dlogits);
	float *kb = d->teacher_logits ? w2s_xmalloc((size_t)(local_max * C) * sizeof *kb) : NULL;
	double *scratch = w2s_xmalloc((size_t)(local_max + 3 * C) * sizeof *scratch);
	/* Gradients, then the step's loss sum, correct count and stop votes:
	 * one allreduce carries them all. */
	const size_t ngrad = m->nparams + 3;
	W2S_CHECK(W2S_MLP_GRAD_EXTRA >= 3);

	struct w2s_train_state s = {.last_val = NAN, .best_val = -INFINITY};
	const int evaluate = spec->eval_every > 0 && log->val_score != NULL;
	const int early = evaluate && spec->patience > 0;
	if (from)
		s = *from;
	s.trace_rows = rows;
	s.best_params = NULL;
	if (early) {
		s.best_params = w2s_xmalloc(m->nparams * sizeof *s.best_params);
		memcpy(s.best_params, from && from->best_params ? from->best_params : m->params,
		       m->nparams * sizeof *s.best_params);
	}
	int stop_early = 0;
	if (from) {
		memcpy(s.trace_rows, from->trace_rows, (size_t)from->ntrace * sizeof *s.trace_rows);
		opt.step = from->step;
		memcpy(opt.m, ckpt->from_m, ntrain * sizeof *opt.m);
		memcpy(opt.v, ckpt->from_v, ntrain * sizeof *opt.v);
		int bad = 0;
		for (int64_t i = 0; i < s.ntrace && log->trace && !bad; i++)
			bad = w2s_trace_append(log->trace, log->trace_index, &s.trace_rows[i]) != 0;
		if (w2s_comm_agree(c, bad))
			st = W2S_STATUS_IO;
	}

	const double t0 = w2s_comm_time() - s.seconds;
	double t_last = w2s_comm_time(), grad_norm = 0;
	float lr = 0;
	for (; s.epoch < spec->epochs && st == W2S_STATUS_OK && !stop_early;
	     s.epoch++, s.batch = 0) {
		w2s_rng_permutation(seed, stream, (uint64_t)s.epoch, perm, (size_t)N);
		for (; s.batch < steps_per_epoch; s.batch++) {
			int64_t gb = s.batch * B, ge = gb + B < N ? gb + B : N, lb, le;
			w2s_shard(ge - gb, c->rank, c->size, &lb, &le);
			int64_t n = le - lb;
			for (int64_t r = 0; r < n; r++) {
				int64_t row = perm[gb + lb + r];
				memcpy(xb + r * D, d->x + row * D, (size_t)D * sizeof *xb);
				yb[r] = d->y[row];
				if (d->soft)
					memcpy(tb + r * C, d->soft + row * C, (size_t)C * sizeof *tb);
				if (kb)
					memcpy(kb + r * C, d->teacher_logits + row * C,
					       (size_t)C * sizeof *kb);
			}
			float scale = 1.0f / (float)(ge - gb);
			double lsum = 0;
			float correct = 0;
			if (n > 0) {
				const float *logits = w2s_mlp_forward(m, &work, xb, (size_t)n);
				lsum = step_loss(loss, d, logits, yb, tb, kb, (size_t)n, (size_t)C, scale,
						 s.step, total, scratch, dlogits);
				if (!d->regression)
					correct = (float)w2s_count_correct(logits, yb, (size_t)n, (size_t)C);
				/* Writes every gradient: no zeroing pass first. */
				w2s_mlp_backward_set(m, &work, xb, (size_t)n, dlogits);
			} else {
				memset(m->grads, 0, m->nparams * sizeof *m->grads);
			}
			m->grads[m->nparams] = (float)lsum;
			m->grads[m->nparams + 1] = correct;
			m->grads[m->nparams + 2] = ckpt && ckpt->stop && *ckpt->stop ? 1.0f : 0.0f;
			w2s_comm_sum_floats(c, m->grads, ngrad);

			/* After the sum every rank holds the same numbers, so these
			 * checks branch alike everywhere. */
			float step_loss = m->grads[m->nparams];
			int stopping = m->grads[m->nparams + 2] > 0;
			grad_norm = w2s_grad_clip(m->grads + off, ntrain, spec->clip);
			if (!isfinite(step_loss) || !isfinite(grad_norm)) {
				w2s_log_error("%s: the %s is not finite at step %lld (epoch %lld); a "
					      "smaller train.lr or a train.clip may help",
					      log->label, isfinite(step_loss) ? "gradient" : "loss",
					      (long long)s.step + 1, (long long)s.epoch + 1);
				st = W2S_STATUS_NUMERIC;
				break;
			}
			lr = w2s_optim_step(&opt, m->params + off, m->grads + off);
			s.step++;
			s.loss_sum += step_loss;
			s.correct += m->grads[m->nparams + 1];
			s.seen += (double)(ge - gb);

			if (evaluate && (s.step % spec->eval_every == 0 || s.step == total)) {
				/* Every rank gets the same score, so all decide alike. */
				s.last_val = log->val_score(log->val_ctx, m);
				if (s.last_val > s.best_val) {
					s.best_val = s.last_val;
					s.best_step = s.step;
					s.bad_evals = 0;
					if (early)
						memcpy(s.best_params, m->params,
						       m->nparams * sizeof *s.best_params);
				} else if (early && ++s.bad_evals >= spec->patience) {
					stop_early = 1;
				}
			}
			if (s.step % log->every == 0 || s.step == total || stop_early) {
				double now = w2s_comm_time();
				struct w2s_trace_row row = {
					.step = s.step,
					.epoch = (double)s.step / (double)steps_per_epoch,
					.loss = s.loss_sum / s.seen,
					.acc = d->regression ? NAN : s.correct / s.seen,
					.lr = lr,
					.grad_norm = grad_norm,
					.seconds = now - t0,
					.samples_per_s = s.seen / (now - t_last > 0 ? now - t_last : 1e-9),
					.val_acc = s.last_val,
				};
				struct w2s_log_progress pr = {
					.model = log->label,
					.step = s.step,
					.total = total,
					.epoch = row.epoch,
					.loss = row.loss,
					.acc = row.acc,
					.val_acc = evaluate ? s.last_val : NAN,
					.lr = row.lr,
					.samples_per_s = row.samples_per_s,
					.eta_seconds = (now - t0) / (double)s.step * (double)(total - s.step),
				};
				w2s_log_progress(&pr);
				W2S_CHECK(s.ntrace < capacity);
				s.trace_rows[s.ntrace++] = row;
				int bad = 0;
				if (log->trace)
					bad = w2s_trace_append(log->trace, log->trace_index, &row) != 0;
				if (w2s_comm_agree(c, bad)) {
					st = W2S_STATUS_IO;
					break;
				}
				res->last_loss = row.loss;
				t_last = now;
				s.loss_sum = s.correct = s.seen = 0;
			}
			if (stop_early) {
				w2s_log_info("%s: no better on val for %lld evaluations: stopping at "
					     "step %lld, keeping step %lld (val %.4f)",
					     log->label, (long long)spec->patience, (long long)s.step,
					     (long long)s.best_step, s.best_val);
				break;
			}
			int periodic = ckpt && ckpt->every > 0 && s.step % ckpt->every == 0;
			if (ckpt && ckpt->save && (periodic || stopping) && s.step < total) {
				struct w2s_train_state at =
					next_position(&s, steps_per_epoch, w2s_comm_time() - t0);
				st = ckpt->save(ckpt->ctx, m, &opt, &at, 0);
				if (st == W2S_STATUS_OK && stopping)
					st = W2S_STATUS_STOPPED;
				if (st != W2S_STATUS_OK)
					break;
			}
		}
	}
	/* The ranks did the same arithmetic on the same sums; if their
	 * parameters differ, that is a bug, not bad input. */
	W2S_CHECK(w2s_comm_same_bytes(c, m->params, m->nparams * sizeof *m->params));
	res->steps = s.step;
	res->chosen_step = s.step;
	if (early && st == W2S_STATUS_OK && s.best_step > 0) {
		memcpy(m->params, s.best_params, m->nparams * sizeof *m->params);
		res->chosen_step = s.best_step;
	}
	res->seconds = w2s_comm_time() - t0;
	res->samples_per_s = res->seconds > 0 ? (double)s.step * (double)B / res->seconds : 0;
	if (st == W2S_STATUS_OK && ckpt && ckpt->save) {
		s.seconds = res->seconds;
		st = ckpt->save(ckpt->ctx, m, &opt, &s, 1);
	}

	free(s.best_params);
	free(s.trace_rows);
	free(scratch);
	free(kb);
	free(dlogits);
	free(yb);
	free(tb);
	free(xb);
	free(perm);
	w2s_mlp_work_free(&work);
	w2s_optim_free(&opt);
	return st;
}

void w2s_train_predict(const struct w2s_mlp *m, const float *x, int64_t n, int64_t batch,
		       float *logits, float *probs, int32_t *pred)
{
	const int64_t D = (int64_t)m->shape.width[0];
	const int64_t C = (int64_t)m->shape.width[m->shape.nlayers];
	struct w2s_mlp_work work = {0};
	W2S_CHECK(w2s_mlp_work_init(&work, &m->shape, (size_t)batch) == 0);
	for (int64_t b = 0; b < n; b += batch) {
		int64_t k = n - b < batch ? n - b : batch;
		const float *out = w2s_mlp_forward(m, &work, x + b * D, (size_t)k);
		memcpy(logits + b * C, out, (size_t)(k * C) * sizeof *logits);
	}
	if (probs)
		w2s_softmax(logits, probs, (size_t)n, (size_t)C);
	if (pred)
		w2s_argmax_rows(logits, pred, (size_t)n, (size_t)C);
	w2s_mlp_work_free(&work);
}
