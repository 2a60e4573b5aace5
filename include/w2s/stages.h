/*
 * stages.h: the steps `w2s run` composes (gen, train, label, eval) and the
 * metrics of the experiment (PGR), plus the pipeline that runs them in
 * order and writes OUT/{config.yaml, data.h5, run.h5, metrics.h5}.
 *
 * Every function here is collective.
 *
 * Model instances are named "<role>.<model>": weak.<w> is the weak model
 * trained on ground truth, student.<s> the strong model s trained on the weak
 * model's soft labels of the transfer split, ceiling.<s> the same model on
 * the transfer split's ground truth.
 */
#ifndef W2S_STAGES_H
#define W2S_STAGES_H

#include <signal.h>
#include <stdbool.h>

#include "w2s/comm.h"
#include "w2s/config.h"
#include "w2s/h5io.h"

/* Performance gap recovered: (p_w2s - p_weak) / (p_ceiling - p_weak); NaN
 * when the ceiling does not beat the weak model (no gap to recover). */
double w2s_pgr(double p_weak, double p_w2s, double p_ceiling);

/* Generates every row of the task, each rank its shard, and writes the
 * data file: /views/<view> (N, D) float32, /target (N) int32,
 * /splits/<split> row indices (int64), attributes task, seed, config.  The
 * bytes do not depend on the number of ranks.  The file is written under a
 * temporary name and renamed when whole. */
enum w2s_status w2s_stage_gen(const struct w2s_comm *c, const struct w2s_config *cfg,
			      const char *path, const struct w2s_provenance *prov);

/* Options of the whole pipeline. */
struct w2s_run_opts {
	const char *out;     /* output folder; created if missing */
	bool force;          /* replace results already in `out` */
	bool resume;         /* finish the run in `out`: skip what is done, resume from checkpoints */
	volatile sig_atomic_t *stop; /* set by a signal handler: checkpoint and stop (may be NULL) */
	const struct w2s_provenance *prov; /* config_json filled in; kind set per file */
};

/* Runs the experiment of cfg into opts->out and prints the results table
 * (rank 0).  OUT/run.h5 appears only when the run is complete (written
 * under a temporary name).  Each model checkpoints into OUT/ckpt. */
enum w2s_status w2s_run_pipeline(const struct w2s_comm *c, const struct w2s_config *cfg,
				 const struct w2s_run_opts *opts);

/* Collective: the experiment repeated over seeds: reads the /pgr table of
 * OUT/seed-<s>/run.h5 for each of the n seeds, writes OUT/summary.h5 with
 * /pgr (every seed's rows, with a seed column) and /summary (per strong
 * model and metric: n, median, min, max, mean, standard deviation), and
 * prints the summary (rank 0).  PGR is computed per seed, then summarized. */
enum w2s_status w2s_stage_summarize(const struct w2s_comm *c, const char *out,
				    const uint64_t *seeds, int n,
				    const struct w2s_provenance *prov);

/* Collective: makes the folder OUT and writes OUT/config.yaml (rank 0,
 * through a temporary file and a rename).  When `guard` (a file name) is
 * already in OUT: with resume, the config in OUT must be the same as cfg
 * (else W2S_STATUS_CONFIG naming the keys that differ); with neither
 * resume nor force, W2S_STATUS_EXISTS.  With force, the run there is to be
 * replaced, but OUT is left as it is (*replacing is set, config.yaml not
 * written) until the caller has the new run's data whole and calls
 * w2s_stage_replace: a new run that fails before (a bad file, a full disk)
 * leaves the old one whole, its config beside its results.  *resuming
 * tells whether there is a run to resume. */
enum w2s_status w2s_stage_prepare_out(const struct w2s_comm *c, const struct w2s_config *cfg,
				      const char *out, const char *guard, bool force,
				      bool resume, bool *resuming, bool *replacing);

/* Collective: the run that w2s_stage_prepare_out found in OUT gives way to
 * cfg's: its run.h5, summary.h5 and checkpoints go (none of them belongs
 * to the new data), and OUT/config.yaml becomes cfg's. */
enum w2s_status w2s_stage_replace(const struct w2s_comm *c, const struct w2s_config *cfg,
				  const char *out);

#endif
