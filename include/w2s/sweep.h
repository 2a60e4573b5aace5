/*
 * sweep.h: many runs of one experiment.  A spec (config_sweep.h) expands
 * into trials, each a whole config in a folder of its own, with a slurm job
 * array script that runs them; afterwards, or while they run, the results
 * of every trial are collected into one table.
 *
 * A sweep folder:
 *
 *   sweep.yaml                 the spec, as given
 *   base.yaml                  the spec's inline base config, when it has one
 *   sweep.json                 manifest: the swept keys, each trial's values and overrides
 *   sweep.sbatch               the job array; task i runs trial i
 *   trials/<i>/config.yaml     trial i's effective config; trials/<i> is its --out
 *   trials/<i>/slurm.log       its slurm output, every attempt appended
 *   trials/<i>/exit_code       exit code of its last attempt, written by sweep.sbatch
 *   sweep.h5                   /results, written by `w2s sweep collect`
 *
 * A trial's status, in the collected table:
 *
 *   done        its run.h5 holds /pgr: the run wrote its results
 *   failed      not done, and exit_code holds a code other than 8 (w2s exits 8
 *               when it stops after a checkpoint), 0 included
 *   unfinished  neither, but it has started: exit_code 8, or anything besides
 *               config.yaml in its folder (slurm.log, data, traces,
 *               checkpoints).  A trial that runs or waits to be requeued, or
 *               one killed without a word (node failure, a run started by
 *               hand that crashed: only sweep.sbatch writes exit_code)
 *   missing     none of these: it never started
 */
#ifndef W2S_SWEEP_H
#define W2S_SWEEP_H

#include <stdbool.h>
#include <stdint.h>

#include "w2s/comm.h"
#include "w2s/common.h"
#include "w2s/config_sweep.h"
#include "w2s/h5io.h"

/* The trials of a spec, in this order: random draw r (0 without random)
 * major, then the grid with its last key varying fastest (seeds last of
 * all), so trials that differ only by seed sit side by side.  Trial
 * r * G + g takes grid point g and draw r; draw r of each random key
 * depends only on (random.seed, the key's name, r), so the same draw meets
 * every grid point, and adding a key changes no other key's draws.
 * Numbers drawn are rounded to 6 significant digits when the rounded value
 * stays within [lo, hi]; the value a trial records is the one it runs. */
enum w2s_status w2s_sweep_expand(const struct w2s_sweep_spec *s, struct w2s_sweep *w);

/* Trial t's override of key k, "KEY=VALUE", into buf. */
void w2s_sweep_set_text(const struct w2s_sweep *w, int64_t t, int k, char *buf, size_t size);

struct w2s_sweep_opts {
	const char *spec;  /* the spec file */
	const char *out;   /* the sweep folder; created */
	const char *w2s;   /* the program the job script runs; NULL: this process's own */
	int parallel;      /* trials that run at once: the array's %K; <= 0: no limit */
	int ntasks;        /* MPI ranks of each trial */
	const char *time;  /* slurm's time limit of each trial, e.g. "01:00:00" */
	bool force;        /* write into a folder that already holds a sweep */
};

/* Collective: `w2s sweep expand`.  Loads the spec, expands it, and checks
 * every trial's config (w2s_config_load with its overrides, so a bad key or
 * value gets the message `w2s run` would give); only then writes the
 * folder (rank 0).  Returns W2S_STATUS_CONFIG for a bad spec or trial,
 * W2S_STATUS_EXISTS for a folder with a sweep and no force, W2S_STATUS_IO. */
enum w2s_status w2s_sweep_write(const struct w2s_comm *c, const struct w2s_sweep_opts *o);

struct w2s_sweep_counts {
	int64_t done, failed, unfinished, missing;
	int64_t rows; /* of the table */
};

/* Collective: `w2s sweep collect DIR`.  Every rank reads the trials alike;
 * DIR/sweep.h5 gets /results, a compound table with a row per trial and
 * strong model (a trial that is not done has NaN results):
 *   trial (int64), status (done, failed, unfinished, missing),
 *   exit_code (int64; -1 when there is none), one column per swept key
 *   named by its path (float64 when every value is a number, else a
 *   string), strong, p_weak, p_w2s, p_ceiling, pgr (float64).
 * Written to a temporary name and renamed.  Rank 0 prints a summary.
 * counts may be NULL. */
enum w2s_status w2s_sweep_collect(const struct w2s_comm *c, const char *dir,
				  const struct w2s_provenance *prov,
				  struct w2s_sweep_counts *counts);

#endif
