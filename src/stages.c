/*
 * stages.c: gen, train, label and eval of one model instance, the PGR, and
 * the pipeline of `w2s run` that composes them; see stages.h.
 *
 * Data layout in memory: a model being trained holds its whole training
 * split (every rank the same rows); labeling and evaluation read only the
 * rank's shard of the split and write it collectively.
 */
#include "stages_internal.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "w2s/log.h"
#include "w2s/loss.h"
#include "w2s/mlp.h"
#include "w2s/rng.h"
#include "w2s/task.h"
#include "w2s/train.h"

double w2s_pgr(double p_weak, double p_w2s, double p_ceiling)
{
	double gap = p_ceiling - p_weak;
	if (!(gap > 0))
		return NAN;
	return (p_w2s - p_weak) / gap;
}

/* ---- output folder ---- */

void stg_join(char *out, size_t size, const char *dir, const char *name)
{
	snprintf(out, size, "%s/%s", dir, name);
}

/* Copies a name into a fixed-size field, truncating. */
void stg_set_field(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);
	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Collective: 0 when OUT/config.yaml holds cfg's config, else a message. */
static enum w2s_status same_config(const struct w2s_config *cfg, const char *path)
{
	struct w2s_config old = {0};
	/* The loader's own message, which names the file and line, says why. */
	w2s_log_context("cannot resume the run, its config is damaged: ");
	enum w2s_status st = w2s_config_load(&old, path, NULL, 0);
	w2s_log_context(NULL);
	if (st != W2S_STATUS_OK)
		return st;
	char diff[2048];
	int n = w2s_config_diff(old.json, cfg->json, diff, sizeof diff);
	w2s_config_free(&old);
	if (n > 0) {
		w2s_log_error("cannot resume with another config: %d key%s differ%s from '%s' "
			      "(there vs now: %s); resume with the same config, or use --force "
			      "to start over",
			      n, n > 1 ? "s" : "", n > 1 ? "" : "s", path, diff);
		return W2S_STATUS_CONFIG;
	}
	return W2S_STATUS_OK;
}

enum w2s_status w2s_stage_prepare_out(const struct w2s_comm *c, const struct w2s_config *cfg,
				      const char *out, const char *guard, bool force,
				      bool resume, bool *resuming, bool *replacing)
{
	*replacing = false;
	char path[4096];
	int flags[2] = {0, 0}; /* folder could not be made; guard exists */
	if (c->rank == 0) {
		if (w2s_mkdir_p(out) != 0) {
			w2s_log_error_local("cannot create output folder '%s': %s", out,
					    strerror(errno));
			flags[0] = 1;
		}
		stg_join(path, sizeof path, out, guard);
		flags[1] = access(path, F_OK) == 0;
	}
	if (w2s_comm_agree(c, flags[0]))
		return W2S_STATUS_IO;
	w2s_comm_bcast(c, &flags[1], sizeof flags[1], 0);
	*resuming = resume && flags[1];
	if (flags[1] && !force && !resume) {
		w2s_log_error("'%s' already holds a run (%s); pass --resume to finish it, --force "
			      "to replace it, or choose another --out",
			      out, guard);
		return W2S_STATUS_EXISTS;
	}
	stg_join(path, sizeof path, out, "config.yaml");
	if (*resuming) {
		enum w2s_status st = same_config(cfg, path);
		if (st == W2S_STATUS_OK)
			w2s_log_info("resuming the run in %s", out);
		return st;
	}
	if (resume)
		w2s_log_info("nothing to resume in %s: starting the run", out);
	if (flags[1] && force) {
		*replacing = true;
		return W2S_STATUS_OK;
	}
	int bad = c->rank == 0 && w2s_write_file_atomic(path, cfg->yaml, 0) != W2S_STATUS_OK;
	return w2s_comm_agree(c, bad) ? W2S_STATUS_IO : W2S_STATUS_OK;
}

enum w2s_status w2s_stage_replace(const struct w2s_comm *c, const struct w2s_config *cfg,
				  const char *out)
{
	char path[4096];
	stg_join(path, sizeof path, out, "ckpt");
	w2s_ckpt_remove_all(c, path);
	int bad = 0;
	if (c->rank == 0) {
		static const char *const old[] = {"run.h5", "summary.h5"};
		for (size_t i = 0; i < sizeof old / sizeof old[0] && !bad; i++) {
			stg_join(path, sizeof path, out, old[i]);
			if (unlink(path) != 0 && errno != ENOENT) {
				w2s_log_error_local("cannot remove '%s' of the run being replaced: %s",
						    path, strerror(errno));
				bad = 1;
			}
		}
		stg_join(path, sizeof path, out, "config.yaml");
		if (!bad)
			bad = w2s_write_file_atomic(path, cfg->yaml, 0) != W2S_STATUS_OK;
	}
	if (w2s_comm_agree(c, bad))
		return W2S_STATUS_IO;
	w2s_log_info("--force: the run that was in %s is replaced", out);
	return W2S_STATUS_OK;
}

/* ---- gen ---- */

enum w2s_status stg_agree(const struct w2s_comm *c, enum w2s_status st)
{
	return (enum w2s_status)w2s_comm_agree(c, (int)st);
}

/* Rows per block of w2s_stage_gen: a few MB of views, small enough to stay
 * in the cache between being made and being copied into the file. */
#define GEN_BLOCK_BYTES ((int64_t)1 << 20)

static int64_t gcd64(int64_t a, int64_t b)
{
	while (b) {
		int64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/* Rows per block: about GEN_BLOCK_BYTES of views, and a multiple of the
 * rows that make every view's block whole 64 KiB, so that blocks written
 * into datasets that start 64 KiB-aligned (h5io) are aligned too; the page
 * cache copies aligned writes into large folios, measurably cheaper.
 * Where that multiple would make blocks too large (odd widths of wide
 * rows), blocks are left unaligned. */
static int64_t gen_block_rows(const struct w2s_config *cfg, int64_t row_bytes)
{
	const int64_t align = (int64_t)64 << 10;
	int64_t m = 1; /* powers of two all: the largest is a multiple of the rest */
	for (int v = 0; v < w2s_task_nviews(cfg); v++) {
		int64_t w = 4 * w2s_config_view_width(cfg, w2s_task_view_name(cfg, v));
		int64_t mv = align / gcd64(align, w); /* rows of whole 64 KiB */
		if (mv > m)
			m = mv;
	}
	if (m * row_bytes > 4 * GEN_BLOCK_BYTES)
		m = 1;
	int64_t block = GEN_BLOCK_BYTES / row_bytes / m * m;
	return block > m ? block : m;
}

/* Collective: makes this rank's rows block by block and writes each block
 * into the views and the target as soon as it is made, then sets it on its
 * way to the disk, so that the sync before data.h5 is named finds little
 * left to write. */
static enum w2s_status gen_rows(const struct w2s_comm *c, const struct w2s_config *cfg,
				struct w2s_h5 *f, int64_t N, int64_t b, int64_t e)
{
	struct w2s_task_shard shard;
	int64_t row_bytes = (int64_t)sizeof(int32_t);
	for (int v = 0; v < w2s_task_nviews(cfg); v++)
		row_bytes += 4 * w2s_config_view_width(cfg, w2s_task_view_name(cfg, v));
	int64_t block = gen_block_rows(cfg, row_bytes);
	enum w2s_status st = w2s_task_shard_init(cfg, block < e - b ? block : e - b, &shard);
	if (st != W2S_STATUS_OK)
		w2s_log_error_local("not enough memory to generate %lld rows at a time",
				    (long long)block);
	if (w2s_comm_agree(c, (int)st)) {
		w2s_task_shard_free(&shard);
		return W2S_STATUS_NOMEM;
	}

	struct w2s_h5_rows d[W2S_MAX_VIEWS + 1]; /* the views, then the target */
	int nd = 0;
	for (int v = 0; v < shard.nviews && st == W2S_STATUS_OK; v++, nd++) {
		char name[128];
		snprintf(name, sizeof name, "/views/%s", shard.name[v]);
		st = w2s_h5_rows_create(f, c, name, W2S_H5_F32, N, shard.width[v], &d[nd]);
	}
	if (st == W2S_STATUS_OK)
		st = w2s_h5_rows_create(f, c, "/target", shard.value ? W2S_H5_F32 : W2S_H5_I32, N,
					0, &d[nd++]);
	/* Ranks write on their own here; a failure is agreed on after the
	 * loop, so no rank waits in a collective that another left. */
	enum w2s_status wrote = st;
	/* Blocks are cut at multiples of `block` rows of the whole data, so
	 * all but a rank's first and last start on an aligned boundary. */
	for (int64_t r0 = b; r0 < e && wrote == W2S_STATUS_OK; r0 = (r0 / block + 1) * block) {
		int64_t r1 = (r0 / block + 1) * block;
		int64_t n = (r1 < e ? r1 : e) - r0;
		w2s_task_fill(cfg, r0, r0 + n, &shard);
		for (int v = 0; v < shard.nviews && wrote == W2S_STATUS_OK; v++)
			wrote = w2s_h5_rows_write(f, &d[v], r0, n, shard.x[v]);
		if (wrote == W2S_STATUS_OK)
			wrote = w2s_h5_rows_write(f, &d[shard.nviews], r0, n,
						  shard.value ? (const void *)shard.value
							      : (const void *)shard.target);
		w2s_h5_start_writeback(f);
	}
	if (st == W2S_STATUS_OK)
		st = stg_agree(c, wrote);
	for (int k = 0; k < nd; k++)
		w2s_h5_rows_close(&d[k]);
	for (int v = 0; v < shard.nviews && st == W2S_STATUS_OK; v++) {
		if (cfg->data.task != W2S_TASK_LATENT)
			break;
		char name[128];
		snprintf(name, sizeof name, "/views/%s", shard.name[v]);
		const struct w2s_view_spec *vs = &cfg->data.latent.views[v];
		st = w2s_h5_attr_int64(f, name, "z", vs->z);
		if (st == W2S_STATUS_OK)
			st = w2s_h5_attr_int64(f, name, "u", vs->u);
		if (st == W2S_STATUS_OK)
			st = w2s_h5_attr_double(f, name, "noise", vs->noise);
	}
	w2s_task_shard_free(&shard);
	return st;
}

/* Collective: writes /splits/<split>, the row indices of each split (they
 * are stored split after split, so each is a range), every rank its share
 * a block at a time, as gen_rows writes the rows. */
static enum w2s_status gen_splits(const struct w2s_comm *c, const struct w2s_config *cfg,
				  struct w2s_h5 *f)
{
	struct w2s_h5_rows d[W2S_NSPLITS];
	int nd = 0;
	enum w2s_status st = W2S_STATUS_OK;
	for (int s = 0; s < W2S_NSPLITS && st == W2S_STATUS_OK; s++, nd++) {
		int64_t sb, se;
		w2s_task_split_range(cfg, (enum w2s_split)s, &sb, &se);
		char name[64];
		snprintf(name, sizeof name, "/splits/%s", w2s_split_name((enum w2s_split)s));
		st = w2s_h5_rows_create(f, c, name, W2S_H5_I64, se - sb, 0, &d[nd]);
	}
	int64_t block = GEN_BLOCK_BYTES / (int64_t)sizeof(int64_t);
	int64_t *idx = w2s_xmalloc((size_t)block * sizeof *idx);
	enum w2s_status wrote = st;
	for (int s = 0; s < nd && wrote == W2S_STATUS_OK; s++) {
		int64_t sb, se, lb, le;
		w2s_task_split_range(cfg, (enum w2s_split)s, &sb, &se);
		w2s_shard(se - sb, c->rank, c->size, &lb, &le);
		for (int64_t i0 = lb; i0 < le && wrote == W2S_STATUS_OK; i0 += block) {
			int64_t n = le - i0 < block ? le - i0 : block;
			for (int64_t i = 0; i < n; i++)
				idx[i] = sb + i0 + i;
			wrote = w2s_h5_rows_write(f, &d[s], i0, n, idx);
		}
	}
	free(idx);
	if (st == W2S_STATUS_OK)
		st = stg_agree(c, wrote);
	for (int k = 0; k < nd; k++)
		w2s_h5_rows_close(&d[k]);
	return st;
}

/* Collective: refuses, with one line, data that the file system of `path`
 * has no room for.  The rows are made a block at a time, so memory no
 * longer bounds a data set; without this, a config far too large would
 * fill the disk before failing. */
static enum w2s_status gen_fits_on_disk(const struct w2s_comm *c, const struct w2s_config *cfg,
					const char *path)
{
	int bad = 0;
	if (c->rank == 0) {
		/* float32 views, a 4-byte target and the 8-byte split indices */
		double cols = 1 + 2;
		for (int v = 0; v < w2s_task_nviews(cfg); v++)
			cols += (double)w2s_config_view_width(cfg, w2s_task_view_name(cfg, v));
		double need = 4.0 * cols * (double)w2s_task_rows(cfg);
		char dir[4200];
		snprintf(dir, sizeof dir, "%s", path);
		char *slash = strrchr(dir, '/');
		if (slash)
			slash[slash == dir ? 1 : 0] = '\0';
		else
			snprintf(dir, sizeof dir, ".");
		double avail = w2s_free_bytes(dir);
		bad = avail >= 0 && need > avail;
		if (bad) {
			char a[32], b[32];
			w2s_log_error_local("cannot write '%s': %s: the data take %s and its file "
					    "system has %s free",
					    path, strerror(ENOSPC), w2s_bytes_words(need, a, sizeof a),
					    w2s_bytes_words(avail, b, sizeof b));
		}
	}
	return w2s_comm_agree(c, bad) ? W2S_STATUS_IO : W2S_STATUS_OK;
}

enum w2s_status w2s_stage_gen(const struct w2s_comm *c, const struct w2s_config *cfg,
			      const char *path, const struct w2s_provenance *prov)
{
	int64_t N = w2s_task_rows(cfg), b, e;
	w2s_shard(N, c->rank, c->size, &b, &e);
	if (gen_fits_on_disk(c, cfg, path) != W2S_STATUS_OK)
		return W2S_STATUS_IO;

	struct w2s_h5 f = {.file = -1};
	enum w2s_status st = w2s_h5_create_tmp(&f, c, path);
	if (st == W2S_STATUS_OK) {
		struct w2s_provenance p = *prov;
		p.kind = "data";
		p.world_size = -1; /* the data do not depend on it */
		st = w2s_h5_write_provenance(&f, &p);
	}
	if (st == W2S_STATUS_OK)
		st = gen_rows(c, cfg, &f, N, b, e);
	if (st == W2S_STATUS_OK)
		st = gen_splits(c, cfg, &f);
	if (st == W2S_STATUS_OK)
		st = w2s_h5_attr_string(&f, "/", "task",
					cfg->data.task == W2S_TASK_LATENT ? "latent" : "teacher");
	if (st == W2S_STATUS_OK)
		st = w2s_h5_attr_int64(&f, "/", "seed", (int64_t)cfg->seed);
	if (st == W2S_STATUS_OK)
		st = w2s_h5_attr_int64(&f, "/", "classes", w2s_config_classes(cfg));
	if (f.tmp)
		st = w2s_h5_commit(&f, c, st);
	return st;
}

const struct result_row *stg_find_result(const struct experiment *x, const char *model,
					    const char *split)
{
	for (int i = 0; i < x->nresults; i++)
		if (!strcmp(x->results[i].model, model) && !strcmp(x->results[i].split, split))
			return &x->results[i];
	return NULL;
}

static const char *misfit_text(double m)
{
	static char buf[32];
	snprintf(buf, sizeof buf, " %9.4f", m);
	return buf;
}

static void print_results(const struct experiment *x, const struct pgr_row *pgr, int npgr)
{
	w2s_log_info("%s", "");
	w2s_log_info("%-24s %-15s %-10s %-9s %8s %8s %9s", "model", "role", "view", "split",
		     "accuracy", "loss", "train_s");
	for (int i = 0; i < x->nresults; i++) {
		const struct result_row *r = &x->results[i];
		w2s_log_info("%-24s %-15s %-10s %-9s %8.4f %8.4f %9.2f", r->model, r->role, r->view,
			     r->split, r->accuracy, r->loss, r->train_seconds);
	}
	w2s_log_info("%s", "");
	w2s_log_info("%-16s %-12s %-10s %8s %15s %10s %8s%s", "strong (test)", "labels of",
		     "filter", "P_weak", "P_weak->strong", "P_ceiling", "PGR",
		     w2s_config_regression(x->cfg) ? "   misfit   (P = mean squared error)" : "");
	for (int i = 0; i < npgr; i++)
		w2s_log_info("%-16s %-12s %-10s %8.4f %15.4f %10.4f %8.3f%s", pgr[i].strong,
			     pgr[i].teacher, pgr[i].filter, pgr[i].p_weak, pgr[i].p_w2s,
			     pgr[i].p_ceiling, pgr[i].pgr,
			     isfinite(pgr[i].misfit) ? misfit_text(pgr[i].misfit) : "");
}

/* Collective: trains the student and the ceiling of `model` on the
 * transfer split, labels test (and the transfer split into `next` when
 * given, for the next link of a chain), and fills its PGR row. */
/* Fills a PGR row of `student` against the ceiling of the same model. */
static void fill_pgr(struct experiment *x, const char *model, const struct teacher *teacher,
		     int student, int ceiling, const char *filter, struct pgr_row *p)
{
	memset(p, 0, sizeof *p);
	stg_set_field(p->strong, sizeof p->strong, model);
	stg_set_field(p->weak, sizeof p->weak, x->cfg->w2s.weak);
	stg_set_field(p->teacher, sizeof p->teacher, teacher->model);
	stg_set_field(p->filter, sizeof p->filter, filter);
	const struct result_row *w = stg_find_result(x, x->inst[0].name, "test");
	const struct result_row *s = stg_find_result(x, x->inst[student].name, "test");
	const struct result_row *c = stg_find_result(x, x->inst[ceiling].name, "test");
	if (w2s_config_regression(x->cfg)) {
		/* PGR on error: the share of the weak model's excess error over
		 * the ceiling's that the student removes. */
		stg_set_field(p->metric, sizeof p->metric, "mse");
		p->p_weak = w->loss;
		p->p_w2s = s->loss;
		p->p_ceiling = c->loss;
		p->pgr = w2s_pgr(-w->loss, -s->loss, -c->loss);
		p->misfit = x->misfit[student];
	} else {
		stg_set_field(p->metric, sizeof p->metric, "accuracy");
		p->p_weak = w->accuracy;
		p->p_w2s = s->accuracy;
		p->p_ceiling = c->accuracy;
		p->pgr = w2s_pgr(w->accuracy, s->accuracy, c->accuracy);
		p->misfit = NAN;
	}
}

/* Collective: trains and labels one student of `model`; on the rows kept
 * by `rows` when given. */
static enum w2s_status student(struct experiment *x, int i, const struct teacher *teacher,
			       const struct stg_rows *rows, struct teacher *next)
{
	struct w2s_mlp m = {0};
	double secs = 0;
	enum w2s_status st = stg_train_instance(x, i, W2S_SPLIT_TRANSFER, teacher, 0, rows, &m, &secs);
	if (st == W2S_STATUS_OK && next)
		st = stg_label_split(x, i, &m, W2S_SPLIT_TRANSFER, secs, next, NULL, NULL, NULL);
	if (st == W2S_STATUS_OK && next)
		st = stg_label_split(x, i, &m, W2S_SPLIT_VAL, secs, next, NULL, NULL, NULL);
	/* Regression: the misfit, how far the student's predictions are from
	 * its weak teacher's on test. */
	const int regression = w2s_config_regression(x->cfg);
	float *mine = NULL;
	int64_t n = 0;
	if (st == W2S_STATUS_OK)
		st = stg_label_split(x, i, &m, W2S_SPLIT_TEST, secs, NULL, regression ? &mine : NULL,
				     &n, NULL);
	if (st == W2S_STATUS_OK && regression) {
		const float *small = x->cascade.small[W2S_SPLIT_TEST];
		const int64_t N = x->cfg->data.rows[W2S_SPLIT_TEST];
		double sq;
		if (x->cfg->models[x->inst[i].model].train.reduce == W2S_REDUCE_EXACT) {
			sq = w2s_train_loss_sum_exact(x->c, mine, NULL, small, n, 1, N);
		} else {
			sq = w2s_sum_squared_diff(mine, small, (size_t)n);
			w2s_comm_sum_doubles(x->c, &sq, 1);
		}
		x->misfit[i] = sq / (double)N;
	}
	free(mine);
	w2s_mlp_free(&m);
	return st;
}

/* Collective: trains the student(s) and the ceiling of `model` on the
 * transfer split, labels test (and the transfer split into `next` when
 * given, for the next link of a chain), and fills its PGR rows: with a
 * filter, one for the filtered student and one for the unfiltered. */
static enum w2s_status student_and_ceiling(struct experiment *x, const char *model,
					   const struct teacher *teacher, struct teacher *next,
					   struct pgr_row *p, int *np)
{
	static const char *const filters[] = {"none", "confidence", "knn"};
	const struct w2s_config *cfg = x->cfg;
	const int filtered = cfg->w2s.filter.method != W2S_FILTER_NONE && !next;
	int s = stg_find_instance(x, "student", model);
	int ceiling = stg_find_instance(x, "ceiling", model);
	struct stg_rows rows = {0};
	int64_t *kept = NULL;
	enum w2s_status st = W2S_STATUS_OK;
	if (filtered)
		st = stg_filter(x, model, teacher, &kept, &rows.nsubset);
	rows.subset = kept;
	if (st == W2S_STATUS_OK)
		st = student(x, s, teacher, filtered ? &rows : NULL, next);
	free(kept);
	int unfiltered = filtered ? stg_find_instance(x, "unfiltered", model) : -1;
	if (st == W2S_STATUS_OK && filtered)
		st = student(x, unfiltered, teacher, NULL, NULL);

	struct w2s_mlp m = {0};
	double secs = 0;
	const int cascade = cfg->cascade.enabled && !strcmp(model, cfg->cascade.large);
	if (st == W2S_STATUS_OK)
		st = stg_train_instance(x, ceiling, W2S_SPLIT_TRANSFER, NULL, 0, NULL, &m, &secs);
	if (st == W2S_STATUS_OK && cascade)
		st = stg_label_split(x, ceiling, &m, W2S_SPLIT_VAL, secs, NULL,
				     &x->cascade.large[W2S_SPLIT_VAL], &x->cascade.n[W2S_SPLIT_VAL],
				     NULL);
	if (st == W2S_STATUS_OK)
		st = stg_label_split(x, ceiling, &m, W2S_SPLIT_TEST, secs, NULL,
				     cascade ? &x->cascade.large[W2S_SPLIT_TEST] : NULL,
				     &x->cascade.n[W2S_SPLIT_TEST], &x->cascade.seconds_large);
	w2s_mlp_free(&m);
	if (st != W2S_STATUS_OK)
		return st;
	fill_pgr(x, model, teacher, s, ceiling, filters[filtered ? cfg->w2s.filter.method : 0],
		 &p[(*np)++]);
	if (filtered)
		fill_pgr(x, model, teacher, unfiltered, ceiling, "none", &p[(*np)++]);
	return W2S_STATUS_OK;
}

static enum w2s_status run_models(struct experiment *x)
{
	const struct w2s_config *cfg = x->cfg;
	const int64_t C = w2s_config_classes(cfg);
	int64_t tb, te;
	w2s_task_split_range(cfg, W2S_SPLIT_TRANSFER, &tb, &te);
	struct teacher weak_labels = {0}, link[2] = {{0}, {0}};
	const int64_t n_val = cfg->data.rows[W2S_SPLIT_VAL];
	stg_teacher_alloc(&weak_labels, te - tb, n_val, C);
	struct pgr_row pgr[3 * W2S_MAX_MODELS];
	int npgr = 0;
	struct w2s_mlp weak = {0};
	double secs = 0;

	enum w2s_status st = stg_train_instance(x, 0, W2S_SPLIT_WEAK_TRAIN, NULL, 0, NULL, &weak, &secs);
	if (st == W2S_STATUS_OK)
		st = stg_label_split(x, 0, &weak, W2S_SPLIT_TRANSFER, secs, &weak_labels, NULL, NULL, NULL);
	const int cascade = cfg->cascade.enabled;
	/* The weak model's test predictions stay for the cascade, and for the
	 * misfit of regression students. */
	const int keep_test = cascade || w2s_config_regression(cfg);
	if (st == W2S_STATUS_OK)
		st = stg_label_split(x, 0, &weak, W2S_SPLIT_VAL, secs, &weak_labels,
				     cascade ? &x->cascade.small[W2S_SPLIT_VAL] : NULL,
				     &x->cascade.n[W2S_SPLIT_VAL], NULL);
	if (st == W2S_STATUS_OK)
		st = stg_label_split(x, 0, &weak, W2S_SPLIT_TEST, secs, NULL,
				     keep_test ? &x->cascade.small[W2S_SPLIT_TEST] : NULL,
				     &x->cascade.n[W2S_SPLIT_TEST], &x->cascade.seconds_small);
	if (st == W2S_STATUS_OK)
		st = stg_synth(x, &weak);
	if (st == W2S_STATUS_OK)
		st = stg_select(x, &weak);
	w2s_mlp_free(&weak);

	/* A chain: each link learns the previous one's labels and labels the
	 * transfer split for the next; the strong students learn the last. */
	const struct teacher *teacher = &weak_labels;
	for (int k = 0; k < cfg->w2s.chain.n && st == W2S_STATUS_OK; k++) {
		struct teacher *next = &link[k % 2];
		if (!next->prob)
			stg_teacher_alloc(next, te - tb, n_val, C);
		st = student_and_ceiling(x, cfg->w2s.chain.name[k], teacher, next, pgr, &npgr);
		teacher = next;
	}
	for (int s = 0; s < cfg->w2s.nstrong && st == W2S_STATUS_OK; s++) {
		st = student_and_ceiling(x, cfg->w2s.strong[s], teacher, NULL, pgr, &npgr);
	}
	for (int k = 0; k < cfg->kd.models.n && st == W2S_STATUS_OK; k++) {
		int i = stg_find_instance(x, "kd", cfg->kd.models.name[k]);
		struct w2s_mlp m = {0};
		st = stg_train_instance(x, i, W2S_SPLIT_TRANSFER, &weak_labels, 1, NULL, &m, &secs);
		if (st == W2S_STATUS_OK)
			st = stg_label_split(x, i, &m, W2S_SPLIT_TEST, secs, NULL, NULL, NULL, NULL);
		w2s_mlp_free(&m);
	}
	if (st == W2S_STATUS_OK && cascade)
		st = stg_cascade(x);
	if (st == W2S_STATUS_OK && cfg->w2s.filter.method != W2S_FILTER_NONE)
		st = stg_filter_write(x);
	if (st == W2S_STATUS_OK)
		st = w2s_h5_write_table(&x->run, x->c, "/results", stg_result_columns,
					(int)(sizeof stg_result_columns / sizeof stg_result_columns[0]),
					sizeof(struct result_row), x->results, x->nresults);
	if (st == W2S_STATUS_OK)
		st = w2s_h5_write_table(&x->run, x->c, "/pgr", stg_pgr_columns,
					(int)(sizeof stg_pgr_columns / sizeof stg_pgr_columns[0]),
					sizeof(struct pgr_row), pgr, npgr);
	if (st == W2S_STATUS_OK)
		print_results(x, pgr, npgr);
	stg_teacher_free(&link[0]);
	stg_teacher_free(&link[1]);
	stg_teacher_free(&weak_labels);
	stg_cascade_free(x);
	return st;
}

/* ---- seeds ---- */

struct seed_pgr_row {
	int64_t seed;
	struct pgr_row r;
};

struct summary_row {
	char strong[W2S_NAME_MAX];
	char filter[16];
	char metric[16];
	int64_t n;
	double median, min, max, mean, std;
};

static const struct w2s_h5_column summary_columns[] = {
	{"strong", W2S_H5_COL_STR, offsetof(struct summary_row, strong), W2S_NAME_MAX},
	{"filter", W2S_H5_COL_STR, offsetof(struct summary_row, filter), 16},
	{"metric", W2S_H5_COL_STR, offsetof(struct summary_row, metric), 16},
	{"n", W2S_H5_COL_I64, offsetof(struct summary_row, n), 0},
	{"median", W2S_H5_COL_F64, offsetof(struct summary_row, median), 0},
	{"min", W2S_H5_COL_F64, offsetof(struct summary_row, min), 0},
	{"max", W2S_H5_COL_F64, offsetof(struct summary_row, max), 0},
	{"mean", W2S_H5_COL_F64, offsetof(struct summary_row, mean), 0},
	{"std", W2S_H5_COL_F64, offsetof(struct summary_row, std), 0},
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Median, extremes, mean and (sample) standard deviation of the finite
 * values among v (n); NaNs (a PGR without a gap) are left out. */
static void describe(const double *v, int n, struct summary_row *r)
{
	double sorted[W2S_MAX_SEEDS], sum = 0;
	int k = 0;
	for (int i = 0; i < n; i++)
		if (isfinite(v[i]))
			sorted[k++] = v[i];
	r->n = k;
	r->median = r->min = r->max = r->mean = r->std = NAN;
	if (k == 0)
		return;
	qsort(sorted, (size_t)k, sizeof *sorted, cmp_double);
	r->median = k % 2 ? sorted[k / 2] : 0.5 * (sorted[k / 2 - 1] + sorted[k / 2]);
	r->min = sorted[0];
	r->max = sorted[k - 1];
	for (int i = 0; i < k; i++)
		sum += sorted[i];
	r->mean = sum / k;
	double sq = 0;
	for (int i = 0; i < k; i++)
		sq += (sorted[i] - r->mean) * (sorted[i] - r->mean);
	r->std = k > 1 ? sqrt(sq / (k - 1)) : 0;
}

enum w2s_status w2s_stage_summarize(const struct w2s_comm *c, const char *out,
				    const uint64_t *seeds, int n,
				    const struct w2s_provenance *prov)
{
	const int ncols = (int)(sizeof stg_pgr_columns / sizeof stg_pgr_columns[0]);
	struct seed_pgr_row *all = NULL;
	int64_t nall = 0;
	enum w2s_status st = W2S_STATUS_OK;
	for (int i = 0; i < n && st == W2S_STATUS_OK; i++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/seed-%llu/run.h5", out, (unsigned long long)seeds[i]);
		struct w2s_h5 f = {.file = -1};
		void *rows = NULL;
		int64_t k = 0;
		st = w2s_h5_open(&f, c, path);
		if (st == W2S_STATUS_OK)
			st = stg_agree(c, w2s_h5_read_table(&f, "/pgr", stg_pgr_columns, ncols,
							sizeof(struct pgr_row), &rows, &k));
		w2s_h5_close(&f);
		if (st != W2S_STATUS_OK)
			break;
		all = realloc(all, (size_t)(nall + k) * sizeof *all);
		W2S_CHECK(all != NULL);
		for (int64_t j = 0; j < k; j++) {
			all[nall + j].seed = (int64_t)seeds[i];
			all[nall + j].r = ((struct pgr_row *)rows)[j];
		}
		nall += k;
		free(rows);
	}
	/* One summary row per strong model (in the order of the first seed)
	 * and metric. */
	static const char *metrics[4] = {"p_weak", "p_w2s", "p_ceiling", "pgr"};
	struct summary_row *sum = w2s_xcalloc((size_t)(nall * 4 + 1), sizeof *sum);
	int64_t nsum = 0;
	for (int64_t a = 0; a < nall && st == W2S_STATUS_OK; a++) {
		if (all[a].seed != (int64_t)seeds[0])
			continue;
		double v[4][W2S_MAX_SEEDS];
		int k = 0;
		for (int64_t b = 0; b < nall; b++) {
			/* one summary per student: a filtered run has two per model */
			if (strcmp(all[b].r.strong, all[a].r.strong) != 0 ||
			    strcmp(all[b].r.filter, all[a].r.filter) != 0)
				continue;
			v[0][k] = all[b].r.p_weak;
			v[1][k] = all[b].r.p_w2s;
			v[2][k] = all[b].r.p_ceiling;
			v[3][k] = all[b].r.pgr;
			k++;
		}
		for (int m = 0; m < 4; m++) {
			struct summary_row *r = &sum[nsum++];
			stg_set_field(r->strong, sizeof r->strong, all[a].r.strong);
			stg_set_field(r->filter, sizeof r->filter, all[a].r.filter);
			stg_set_field(r->metric, sizeof r->metric, metrics[m]);
			describe(v[m], k, r);
		}
	}

	/* The per-seed table: pgr's columns after a seed column. */
	struct w2s_h5_column cols[16];
	cols[0] = (struct w2s_h5_column){"seed", W2S_H5_COL_I64, offsetof(struct seed_pgr_row, seed), 0};
	for (int i = 0; i < ncols; i++) {
		cols[i + 1] = stg_pgr_columns[i];
		cols[i + 1].offset += offsetof(struct seed_pgr_row, r);
	}
	char path[4096];
	snprintf(path, sizeof path, "%s/summary.h5", out);
	struct w2s_h5 f = {.file = -1};
	if (st == W2S_STATUS_OK)
		st = w2s_h5_create_tmp(&f, c, path);
	if (st == W2S_STATUS_OK) {
		struct w2s_provenance p = *prov;
		p.kind = "summary";
		st = w2s_h5_write_provenance(&f, &p);
	}
	if (st == W2S_STATUS_OK)
		st = w2s_h5_write_table(&f, c, "/pgr", cols, ncols + 1, sizeof *all, all, nall);
	if (st == W2S_STATUS_OK)
		st = w2s_h5_write_table(&f, c, "/summary", summary_columns,
					(int)(sizeof summary_columns / sizeof summary_columns[0]),
					sizeof *sum, sum, nsum);
	if (f.tmp)
		st = w2s_h5_commit(&f, c, st);
	if (st == W2S_STATUS_OK) {
		w2s_log_info("%s", "");
		w2s_log_info("over %d seeds (test; median [min, max]):", n);
		w2s_log_info("%-16s %-10s %24s %24s %24s %24s", "strong", "filter", "P_weak",
			     "P_weak->strong", "P_ceiling", "PGR");
		for (int64_t i = 0; i + 3 < nsum; i += 4) {
			char cell[4][64];
			for (int m = 0; m < 4; m++)
				snprintf(cell[m], sizeof cell[m], "%.4f [%.4f, %.4f]", sum[i + m].median,
					 sum[i + m].min, sum[i + m].max);
			w2s_log_info("%-16s %-10s %24s %24s %24s %24s", sum[i].strong, sum[i].filter,
				     cell[0], cell[1], cell[2], cell[3]);
		}
		w2s_log_info("wrote %s", path);
	}
	free(sum);
	free(all);
	return st;
}

/* Collective: whether OUT's data file, path, can be kept on --resume: 1
 * when it was made from this config (then it is open in x->data), 0 when
 * it is to be made (again), -1 (message printed) when it is in the way.
 * Data files take their name only when whole, so one that does not read
 * was damaged afterwards: it is made again, with a warning, as the same
 * config gives the same bytes. */
static int data_is_current(struct experiment *x, const char *path)
{
	struct stat sb;
	int there = x->c->rank == 0 ? (stat(path, &sb) != 0 ? 0 : S_ISREG(sb.st_mode) ? 1 : -1) : 0;
	w2s_comm_bcast(x->c, &there, sizeof there, 0);
	if (there < 0)
		w2s_log_error("cannot resume the run: '%s' is not a file; remove it, or use --force "
			      "to start over",
			      path);
	if (there <= 0)
		return there;
	w2s_log_local_as_warning("; making it again");
	enum w2s_status st = w2s_h5_open(&x->data, x->c, path);
	w2s_log_local_as_warning(NULL);
	if (st != W2S_STATUS_OK)
		return 0;
	char *config = NULL;
	int same = w2s_h5_attr_read_string(&x->data, "/", "config", &config) == W2S_STATUS_OK &&
		   strcmp(config, x->cfg->json) == 0;
	free(config);
	w2s_log_flush_local(0);
	if (w2s_comm_agree(x->c, !same) == 0)
		return 1;
	w2s_h5_close(&x->data);
	w2s_log_info("gen: %s was made from another config; making it again", path);
	return 0;
}

enum w2s_status w2s_run_pipeline(const struct w2s_comm *c, const struct w2s_config *cfg,
				 const struct w2s_run_opts *opts)
{
	struct experiment *x = w2s_xcalloc(1, sizeof *x);
	x->c = c;
	x->cfg = cfg;
	x->opts = opts;
	x->data.file = x->run.file = -1;
	stg_join(x->ckpt_dir, sizeof x->ckpt_dir, opts->out, "ckpt");
	char path[4096];
	double t0 = w2s_comm_time();

	bool replacing = false;
	enum w2s_status st = w2s_stage_prepare_out(c, cfg, opts->out, "config.yaml", opts->force,
						   opts->resume, &x->resuming, &replacing);
	if (st != W2S_STATUS_OK)
		goto cleanup;
	stg_join(path, sizeof path, opts->out, "data.h5");
	const bool imported = cfg->data.task == W2S_TASK_IMPORT;
	int kept = 0;
	if (imported) {
		/* Imported data are read where they are, never copied: they can
		 * be large, and many runs share them. */
		w2s_log_info("data: %lld rows imported in %s", (long long)w2s_task_rows(cfg),
			     cfg->data.import.path);
		st = w2s_h5_open(&x->data, c, cfg->data.import.path);
	} else if (x->resuming && (kept = data_is_current(x, path)) != 0) {
		if (kept < 0) {
			st = W2S_STATUS_IO;
			goto cleanup;
		}
		w2s_log_info("gen: %s is whole and current; kept", path);
	} else {
		w2s_log_info("gen: %lld rows of the %s task into %s", (long long)w2s_task_rows(cfg),
			     cfg->data.task == W2S_TASK_LATENT ? "latent" : "teacher", path);
		st = w2s_stage_gen(c, cfg, path, opts->prov);
		if (st == W2S_STATUS_OK)
			st = w2s_h5_open(&x->data, c, path);
	}
	if (st == W2S_STATUS_OK && replacing)
		st = w2s_stage_replace(c, cfg, opts->out);
	if (st != W2S_STATUS_OK)
		goto cleanup;

	stg_add_instance(x, "weak", cfg->w2s.weak);
	for (int k = 0; k < cfg->w2s.chain.n; k++) {
		stg_add_instance(x, "student", cfg->w2s.chain.name[k]);
		stg_add_instance(x, "ceiling", cfg->w2s.chain.name[k]);
	}
	for (int s = 0; s < cfg->w2s.nstrong; s++) {
		stg_add_instance(x, "student", cfg->w2s.strong[s]);
		stg_add_instance(x, "ceiling", cfg->w2s.strong[s]);
	}
	for (int k = 0; k < cfg->kd.models.n; k++)
		stg_add_instance(x, "kd", cfg->kd.models.name[k]);
	if (cfg->w2s.filter.method != W2S_FILTER_NONE)
		for (int s = 0; s < cfg->w2s.nstrong; s++)
			stg_add_instance(x, "unfiltered", cfg->w2s.strong[s]);
	static const char *const select_roles[] = {"select_low", "select_middle", "select_high",
						   "select_random"};
	for (int k = 0; k < cfg->select.models.n; k++)
		for (int b = 0; b < cfg->select.bands.n; b++)
			stg_add_instance(x, select_roles[cfg->select.bands.band[b]],
					 cfg->select.models.name[k]);
	static const char *const synth_roles[] = {"synth_synthetic", "synth_real", "synth_mix"};
	for (int k = 0; k < cfg->synth.models.n; k++)
		for (int t = 0; t < cfg->synth.train.n; t++)
			stg_add_instance(x, synth_roles[cfg->synth.train.kind[t]],
					 cfg->synth.models.name[k]);
	struct w2s_provenance p = *opts->prov;
	p.kind = "metrics";
	p.world_size = c->size;
	int bad = 0;
	if (c->rank == 0) {
		const char *names[W2S_MAX_INSTANCES];
		for (int i = 0; i < x->ninst; i++)
			names[i] = x->inst[i].name;
		stg_join(path, sizeof path, opts->out, "metrics.h5");
		bad = w2s_trace_create(&x->trace, path, names, x->ninst, &p) != W2S_STATUS_OK;
	}
	if (w2s_comm_agree(c, bad)) {
		st = W2S_STATUS_IO;
		goto cleanup;
	}
	/* run.h5 takes its name only when whole: its presence means done. */
	stg_join(path, sizeof path, opts->out, "run.h5");
	st = w2s_h5_create_tmp(&x->run, c, path);
	p.kind = "run";
	if (st == W2S_STATUS_OK)
		st = w2s_h5_write_provenance(&x->run, &p);
	if (st == W2S_STATUS_OK && imported) {
		/* Where the data were, absolute, so the run names them from anywhere. */
		char cwd[4096], abs[8192];
		const char *dp = cfg->data.import.path;
		if (dp[0] != '/' && getcwd(cwd, sizeof cwd) != NULL)
			snprintf(abs, sizeof abs, "%s/%s", cwd, dp);
		else
			snprintf(abs, sizeof abs, "%s", dp);
		st = w2s_h5_attr_string(&x->run, "/", "data", abs);
	}
	if (st == W2S_STATUS_OK)
		st = run_models(x);
	if (st == W2S_STATUS_OK)
		st = w2s_h5_attr_double(&x->run, "/", "wall_seconds", w2s_comm_time() - t0);
	if (x->run.tmp)
		st = w2s_h5_commit(&x->run, c, st);
	if (st == W2S_STATUS_OK)
		w2s_log_info("\nwrote %s/{config.yaml, %srun.h5, metrics.h5} in %.1f s on %d "
			     "rank%s",
			     opts->out, imported ? "" : "data.h5, ", w2s_comm_time() - t0, c->size,
			     c->size > 1 ? "s" : "");
cleanup:
	w2s_h5_close(&x->run);
	w2s_h5_close(&x->data);
	if (c->rank == 0)
		w2s_trace_close(&x->trace);
	free(x);
	return st;
}
