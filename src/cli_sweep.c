/*
 * cli_sweep.c: `w2s sweep expand` and `w2s sweep collect`: their options
 * and help; see cli_sweep.h.  As in cli.c, every rank parses alike, rank 0
 * alone prints, and every rank returns the same code.
 */
#include "w2s/cli_sweep.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buildconf.h"
#include "gitrev.h"
#include "w2s/blas.h"
#include "w2s/h5io.h"
#include "w2s/log.h"
#include "w2s/sweep.h"

static const char sweep_help[] =
	"usage: w2s sweep expand SWEEP.yaml --out DIR [--parallel K] [--ntasks P] [--time T]\n"
	"                        [--force]\n"
	"       w2s sweep collect DIR\n"
	"\n"
	"expand: one config per trial of a sweep spec, and a slurm job array that runs them:\n"
	"  DIR/trials/<i>/config.yaml   trial i's whole effective config; trials/<i> is its --out\n"
	"  DIR/sweep.json               the swept keys, and each trial's values and overrides\n"
	"  DIR/sweep.sbatch             `sbatch DIR/sweep.sbatch`: array task i runs trial i,\n"
	"                               `w2s run trials/i/config.yaml --out trials/i --resume`\n"
	"Every trial's config is checked as `w2s run` checks it before anything is written.\n"
	"\n"
	"A spec (keys are config key paths, as --set takes them; values are YAML):\n"
	"  config: small.yaml           # the base config, relative to the spec; or inline:\n"
	"  base: {train: {epochs: 5}}   # neither: the built-in default experiment\n"
	"  grid:                        # every combination, the last key varying fastest\n"
	"    train.lr: [1.0e-3, 3.0e-3]\n"
	"    models.big.hidden: [[64], [256, 256]]\n"
	"  seeds: [1, 2, 3]             # a grid over seed, varying fastest of all\n"
	"  random:                      # n draws, each crossed with every grid point\n"
	"    n: 8\n"
	"    seed: 0                    # of the draws, not of the runs\n"
	"    keys:\n"
	"      train.weight_decay: {log_uniform: [1.0e-5, 1.0e-2]}\n"
	"      train.warmup: {uniform: [0, 0.2]}\n"
	"      train.optimizer: {choice: [adam, sgd]}\n"
	"\n"
	"options of expand:\n"
	"  --out DIR        the sweep folder (required)\n"
	"  --parallel K     trials running at once, the array's %K (default 4; 0: no limit)\n"
	"  --ntasks P       MPI ranks of each trial (default 1)\n"
	"  --time T         slurm time limit of each trial (default 01:00:00)\n"
	"  --force          write into a folder that already holds a sweep\n"
	"\n"
	"collect: reads every trial and writes DIR/sweep.h5:/results, a row per trial and\n"
	"strong model: trial, exit_code, status, one column per swept key (float64 for\n"
	"numbers), strong, p_weak, p_w2s, p_ceiling, pgr (NaN unless done); prints a\n"
	"summary.  Safe to run while the sweep runs.  A trial is\n"
	"  done        when its run.h5 holds /pgr\n"
	"  failed      when not, and its last attempt exited with a code other than 8\n"
	"  unfinished  when it started (anything besides config.yaml in its folder) but is\n"
	"              neither: running, waiting to be requeued after a checkpoint (exit\n"
	"              code 8), or killed without a trace\n"
	"  missing     when it never started\n"
	"\n"
	"options: --quiet, --log-level L as for `w2s run`.\n";

static bool parse_int(const char *s, int lo, int hi, int *out)
{
	char *end = NULL;
	long v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || v < lo || v > hi)
		return false;
	*out = (int)v;
	return true;
}

/* A slurm time: digits, ':' and '-' ("01:00:00", "2-00:00:00", "90"). */
static bool time_ok(const char *s)
{
	return s[0] != '\0' && strspn(s, "0123456789:-") == strlen(s);
}

int w2s_cli_sweep(const struct w2s_comm *c, int argc, char **argv)
{
	const int usage = w2s_status_exit_code(W2S_STATUS_USAGE);
	const char *action = argc > 2 ? argv[2] : NULL;
	if (action == NULL || !strcmp(action, "--help") || !strcmp(action, "-h")) {
		if (c->rank == 0)
			fputs(sweep_help, action ? stdout : stderr);
		return action ? 0 : usage;
	}
	bool expand = !strcmp(action, "expand");
	if (!expand && strcmp(action, "collect") != 0) {
		w2s_log_error("unknown sweep command '%s' (expected expand or collect; see w2s sweep "
			      "--help)",
			      action);
		return usage;
	}

	struct w2s_sweep_opts o = {.parallel = 4, .ntasks = 1, .time = "01:00:00"};
	const char *path = NULL;
	int level = W2S_LOG_INFO;
	for (int i = 3; i < argc; i++) {
		const char *s = argv[i];
		const char *value = i + 1 < argc ? argv[i + 1] : NULL;
		bool takes = !strcmp(s, "--out") || !strcmp(s, "--parallel") ||
			     !strcmp(s, "--ntasks") || !strcmp(s, "--time") ||
			     !strcmp(s, "--log-level");
		if (takes && !expand && strcmp(s, "--log-level") != 0) {
			w2s_log_error("%s is an option of w2s sweep expand, not collect", s);
			return usage;
		}
		if (takes && !value) {
			w2s_log_error("%s needs a value (see w2s sweep --help)", s);
			return usage;
		}
		if (!strcmp(s, "--help") || !strcmp(s, "-h")) {
			if (c->rank == 0)
				fputs(sweep_help, stdout);
			return 0;
		} else if (!strcmp(s, "--out")) {
			o.out = value;
		} else if (!strcmp(s, "--parallel")) {
			if (!parse_int(value, 0, 1000000, &o.parallel)) {
				w2s_log_error("--parallel '%s': expected a whole number >= 0", value);
				return usage;
			}
		} else if (!strcmp(s, "--ntasks")) {
			if (!parse_int(value, 1, 1000000, &o.ntasks)) {
				w2s_log_error("--ntasks '%s': expected a whole number >= 1", value);
				return usage;
			}
		} else if (!strcmp(s, "--time")) {
			if (!time_ok(value)) {
				w2s_log_error("--time '%s': expected a slurm time such as 01:00:00 "
					      "or 2-00:00:00",
					      value);
				return usage;
			}
			o.time = value;
		} else if (!strcmp(s, "--log-level")) {
			level = w2s_log_parse_level(value);
			if (level < 0) {
				w2s_log_error("--log-level '%s': expected error, warn, info or debug",
					      value);
				return usage;
			}
		} else if (!strcmp(s, "--force") && expand) {
			o.force = true;
		} else if (!strcmp(s, "--quiet") || !strcmp(s, "-q")) {
			level = W2S_LOG_WARN;
		} else if (s[0] == '-' && s[1] != '\0') {
			w2s_log_error("unknown option '%s' for w2s sweep %s (see w2s sweep --help)", s,
				      action);
			return usage;
		} else if (!path) {
			path = s;
		} else {
			w2s_log_error("w2s sweep %s takes one %s; found '%s' after '%s'", action,
				      expand ? "spec" : "folder", s, path);
			return usage;
		}
		if (takes)
			i++;
	}
	if (!path) {
		w2s_log_error("w2s sweep %s needs %s (see w2s sweep --help)", action,
			      expand ? "a spec: w2s sweep expand SWEEP.yaml --out DIR"
				     : "the sweep folder: w2s sweep collect DIR");
		return usage;
	}
	if (expand && !o.out) {
		w2s_log_error("w2s sweep expand needs --out DIR, the sweep folder to write");
		return usage;
	}
	w2s_log_init(c->rank, (enum w2s_log_level)level);

	enum w2s_status st;
	if (expand) {
		o.spec = path;
		st = w2s_sweep_write(c, &o);
	} else {
		char libs[512];
		snprintf(libs, sizeof libs, "%s; HDF5 %s; BLIS %s (%s)", w2s_comm_library_version(),
			 w2s_h5_library_version(), w2s_blas_version(), w2s_blas_arch());
		struct w2s_provenance prov = {
			.version = PACKAGE_VERSION,
			.git_rev = W2S_GIT_REV,
			.libraries = libs,
			.blis_arch = w2s_blas_arch(),
		};
		st = w2s_sweep_collect(c, path, &prov, NULL);
	}
	w2s_log_flush_local(1);
	return w2s_status_exit_code(st);
}
