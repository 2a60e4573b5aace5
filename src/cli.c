/*
 * cli.c: subcommands and their help; see cli.h.
 *
 * Argument errors are found identically by every rank, so rank 0 alone
 * prints them and every rank returns the same code without a collective.
 */
#include "w2s/cli.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buildconf.h"
#include "gitrev.h"
#include "w2s/blas.h"
#include "w2s/cli_sweep.h"
#include "w2s/config.h"
#include "w2s/h5io.h"
#include "w2s/import.h"
#include "w2s/inspect.h"
#include "w2s/log.h"
#include "w2s/stages.h"

#define MAX_SETS 256

static const char main_help[] =
	"usage: w2s COMMAND [ARGS...]\n"
	"\n"
	"w2s runs weak-to-strong experiments on MPI ranks: a small (weak) model trained on\n"
	"ground truth labels a transfer set, a large (strong) model learns from those labels,\n"
	"and both are compared with the strong model trained on ground truth.\n"
	"\n"
	"commands:\n"
	"  run [CONFIG.yaml]      the whole experiment (the built-in default without a config)\n"
	"  gen [CONFIG.yaml]      only the data file\n"
	"  import [SPEC.yaml]     your own arrays (.npy, .csv, HDF5) into a data file that\n"
	"                         `run` uses with data.task: import\n"
	"  config [CONFIG.yaml]   print the effective config, or every key with --keys\n"
	"  sweep expand SPEC      one config per trial of a sweep spec (--out DIR), and a\n"
	"                         slurm job array that runs them\n"
	"  sweep collect DIR      one results table of a sweep's trials, done or not\n"
	"  inspect FILE.h5        what a data, run, metrics, checkpoint or summary file\n"
	"                         holds (--json for scripts)\n"
	"\n"
	"  w2s COMMAND --help     what a command does and its options\n"
	"  w2s --version          version and libraries\n"
	"\n"
	"launch on P ranks with `mpirun -n P w2s run ...` or `srun w2s run ...`; one rank\n"
	"without a launcher works too.  Every output is HDF5 (h5py, xarray, HDFView, h5dump).\n"
	"\n"
	"exit codes: 0 done, 2 bad command line, 3 bad config, 4 file error, 5 training\n"
	"diverged (NaN or infinity), 6 out of memory, 7 a run already in --out (use --resume\n"
	"or --force), 8 stopped by SIGTERM or SIGUSR1 after a checkpoint (finish with --resume).\n";

static const char run_help[] =
	"usage: w2s run [CONFIG.yaml] [--set KEY=VALUE ...] [--out DIR] [--resume | --force]\n"
	"               [--quiet] [--log-level LEVEL]\n"
	"\n"
	"Runs the experiment: generate the data; train the weak model on weak_train ground\n"
	"truth; label the transfer split with its soft probabilities; for each strong model,\n"
	"train a student on those labels and a ceiling on the transfer ground truth;\n"
	"evaluate all on test; print P_weak, P_weak->strong, P_ceiling and\n"
	"PGR = (P_w2s - P_weak) / (P_ceiling - P_weak).\n"
	"\n"
	"Without CONFIG the built-in default experiment runs (jobs/configs/default.yaml is\n"
	"the same experiment written out).\n"
	"\n"
	"options:\n"
	"  --set KEY=VALUE   override one config key, e.g. --set train.lr=3e-4,\n"
	"                    --set models.big.hidden=[512,512]; repeatable, applied in order\n"
	"  --out DIR         output folder (default: w2s-out)\n"
	"  --resume          finish the run in DIR: models already trained are read from\n"
	"                    their final checkpoints, an interrupted one goes on from its\n"
	"                    newest checkpoint; the config must be the same (else refused,\n"
	"                    naming the keys that differ).  With nothing in DIR, starts.\n"
	"  --force           replace a run already in DIR (otherwise refused)\n"
	"  --seeds N         repeat the experiment for seeds seed, seed+1, ..., seed+N-1\n"
	"                    (the same as --set seeds=[...]): each seed runs into DIR/seed-S,\n"
	"                    and DIR/summary.h5 holds every seed's PGR with median and spread\n"
	"  --quiet           only warnings and errors\n"
	"  --log-level L     error, warn, info (default) or debug\n"
	"  --log-format F    text (default) or json: one JSON object per line, progress\n"
	"                    as {model, step, total, epoch, loss, acc, val_acc, lr, ...}\n"
	"\n"
	"writes DIR/config.yaml (the effective config), DIR/data.h5 (views, target, splits),\n"
	"DIR/run.h5 (labels, parameters, /results and /pgr tables) and DIR/metrics.h5\n"
	"(training traces, readable while the run goes on), and checkpoints in DIR/ckpt.\n"
	"run.h5 appears only when the run is complete.  Every key of the config:\n"
	"`w2s config --keys`.\n"
	"\n"
	"SIGTERM or SIGUSR1 (slurm preemption, --signal=B:USR1@SECONDS) make every rank\n"
	"write a checkpoint after the current step and exit with code 8; `w2s run ... --resume`\n"
	"then ends with the same parameters and results as a run never interrupted (same\n"
	"number of ranks).\n";

static const char gen_help[] =
	"usage: w2s gen [CONFIG.yaml] [--set KEY=VALUE ...] [--out DIR] [--force]\n"
	"\n"
	"Generates only the data file DIR/data.h5 (and DIR/config.yaml): every view of\n"
	"every row, the target and the splits, each rank its share of the rows.  The file\n"
	"is the same, byte for byte, whatever the number of ranks.\n"
	"\n"
	"options: --set, --out, --force, --quiet, --log-level as for `w2s run`.\n";

static const char config_help[] =
	"usage: w2s config [CONFIG.yaml] [--set KEY=VALUE ...] [--json]\n"
	"       w2s config --keys\n"
	"\n"
	"Prints the effective config (defaults filled in, overrides applied) as YAML, or\n"
	"as canonical JSON with --json; checks it on the way, with the same messages as\n"
	"`w2s run`.  --keys prints every key with its type, default and meaning.\n";

struct args {
	const char *command;
	const char *config;
	const char *out;
	const char *sets[MAX_SETS + 3];
	int nsets;
	int64_t seeds;
	bool force, resume, quiet, json, keys, help;
	int log_level;
};

/* Returns 0, or W2S_STATUS_USAGE after one message. */
static int parse_args(int argc, char **argv, struct args *a)
{
	memset(a, 0, sizeof *a);
	a->out = "w2s-out";
	a->log_level = W2S_LOG_INFO;
	a->command = argv[1];
	for (int i = 2; i < argc; i++) {
		const char *s = argv[i];
		const char *value = i + 1 < argc ? argv[i + 1] : NULL;
		bool takes = !strcmp(s, "--set") || !strcmp(s, "--out") || !strcmp(s, "--log-level") ||
			     !strcmp(s, "--seeds") || !strcmp(s, "--log-format");
		if (takes && !value) {
			w2s_log_error("%s needs a value (see w2s %s --help)", s, a->command);
			return W2S_STATUS_USAGE;
		}
		if (!strcmp(s, "--help") || !strcmp(s, "-h")) {
			a->help = true;
		} else if (!strcmp(s, "--set")) {
			if (a->nsets == MAX_SETS) {
				w2s_log_error("more than %d --set options", MAX_SETS);
				return W2S_STATUS_USAGE;
			}
			a->sets[a->nsets++] = value;
			i++;
		} else if (!strcmp(s, "--out")) {
			a->out = value;
			i++;
		} else if (!strcmp(s, "--log-level")) {
			a->log_level = w2s_log_parse_level(value);
			if (a->log_level < 0) {
				w2s_log_error("--log-level '%s': expected error, warn, info or debug",
					      value);
				return W2S_STATUS_USAGE;
			}
			i++;
		} else if (!strcmp(s, "--seeds") && !strcmp(a->command, "run")) {
			char *end;
			a->seeds = strtoll(value, &end, 10);
			if (*end != '\0' || a->seeds < 1 || a->seeds > W2S_MAX_SEEDS) {
				w2s_log_error("--seeds '%s': expected an integer in [1, %d]", value,
					      W2S_MAX_SEEDS);
				return W2S_STATUS_USAGE;
			}
			i++;
		} else if (!strcmp(s, "--log-format")) {
			if (w2s_log_set_format(value) != 0) {
				w2s_log_error("--log-format '%s': expected text or json", value);
				return W2S_STATUS_USAGE;
			}
			i++;
		} else if (!strcmp(s, "--force")) {
			a->force = true;
		} else if (!strcmp(s, "--resume") && !strcmp(a->command, "run")) {
			a->resume = true;
		} else if (!strcmp(s, "--quiet") || !strcmp(s, "-q")) {
			a->quiet = true;
		} else if (!strcmp(s, "--json") && !strcmp(a->command, "config")) {
			a->json = true;
		} else if (!strcmp(s, "--keys") && !strcmp(a->command, "config")) {
			a->keys = true;
		} else if (s[0] == '-' && s[1] != '\0') {
			w2s_log_error("unknown option '%s' for w2s %s (see w2s %s --help)", s,
				      a->command, a->command);
			return W2S_STATUS_USAGE;
		} else if (!a->config) {
			a->config = s;
		} else {
			w2s_log_error("w2s %s takes one config file; found '%s' after '%s'",
				      a->command, s, a->config);
			return W2S_STATUS_USAGE;
		}
	}
	if (a->force && a->resume) {
		w2s_log_error("--resume and --force contradict each other: resume the run in %s, "
			      "or replace it",
			      a->out);
		return W2S_STATUS_USAGE;
	}
	if (a->quiet && a->log_level > W2S_LOG_WARN)
		a->log_level = W2S_LOG_WARN;
	return 0;
}

static void libraries(char *out, size_t size)
{
	snprintf(out, size, "%s; HDF5 %s; BLIS %s (%s)", w2s_comm_library_version(),
		 w2s_h5_library_version(), w2s_blas_version(), w2s_blas_arch());
}

static void print_version(void)
{
	char libs[512];
	libraries(libs, sizeof libs);
	printf("w2s %s (git %s)\n%s\n", PACKAGE_VERSION, W2S_GIT_REV, libs);
}

/* Set by SIGTERM and SIGUSR1; the training loop polls it once a step,
 * summed over ranks with the gradients. */
static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void catch_stop_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
}

/* The experiment once per seed of cfg->seeds, each into OUT/seed-S, then
 * the summary over seeds. */
static enum w2s_status run_seeds(const struct w2s_comm *c, const struct args *a,
				 const struct w2s_config *cfg, struct w2s_provenance *prov)
{
	bool resuming = false, replacing = false;
	enum w2s_status st = w2s_stage_prepare_out(c, cfg, a->out, "config.yaml", a->force,
						   a->resume, &resuming, &replacing);
	/* Each seed's folder holds a whole run, replaced as one (its own
	 * pipeline); here only the summary over seeds goes. */
	if (st == W2S_STATUS_OK && replacing)
		st = w2s_stage_replace(c, cfg, a->out);
	const char *sets[MAX_SETS + 3];
	char seed_set[64], out[4096];
	memcpy(sets, a->sets, (size_t)a->nsets * sizeof *sets);
	sets[a->nsets] = "seeds=[]";
	sets[a->nsets + 1] = seed_set;
	for (int i = 0; i < cfg->nseeds && st == W2S_STATUS_OK; i++) {
		snprintf(seed_set, sizeof seed_set, "seed=%llu", (unsigned long long)cfg->seeds[i]);
		snprintf(out, sizeof out, "%s/seed-%llu", a->out, (unsigned long long)cfg->seeds[i]);
		struct w2s_config one = {0};
		st = w2s_config_load(&one, a->config, sets, a->nsets + 2);
		if (st != W2S_STATUS_OK)
			break;
		w2s_log_info("== seed %llu of %d: %s", (unsigned long long)cfg->seeds[i], cfg->nseeds,
			     out);
		prov->config_json = one.json;
		struct w2s_run_opts opts = {
			.out = out,
			.force = a->force,
			.resume = a->resume,
			.stop = &stop_requested,
			.prov = prov,
		};
		st = w2s_run_pipeline(c, &one, &opts);
		w2s_config_free(&one);
	}
	prov->config_json = cfg->json;
	if (st == W2S_STATUS_OK)
		st = w2s_stage_summarize(c, a->out, cfg->seeds, cfg->nseeds, prov);
	return st;
}

static int run_command(const struct w2s_comm *c, const struct args *a)
{
	struct w2s_config cfg = {0};
	enum w2s_status st = w2s_config_load(&cfg, a->config, a->sets, a->nsets);
	if (st == W2S_STATUS_OK && a->seeds > 0) {
		/* --seeds N is seeds: [seed, ..., seed + N - 1] */
		char list[W2S_MAX_SEEDS * 24 + 16];
		int len = snprintf(list, sizeof list, "seeds=[");
		for (int64_t i = 0; i < a->seeds; i++)
			len += snprintf(list + len, sizeof list - (size_t)len, "%s%llu", i ? ", " : "",
					(unsigned long long)(cfg.seed + (uint64_t)i));
		snprintf(list + len, sizeof list - (size_t)len, "]");
		const char *sets[MAX_SETS + 3];
		memcpy(sets, a->sets, (size_t)a->nsets * sizeof *sets);
		sets[a->nsets] = list;
		w2s_config_free(&cfg);
		st = w2s_config_load(&cfg, a->config, sets, a->nsets + 1);
	}
	if (st != W2S_STATUS_OK)
		return w2s_status_exit_code(st);

	if (!strcmp(a->command, "config")) {
		if (c->rank == 0)
			fputs(a->json ? cfg.json : cfg.yaml, stdout);
		if (c->rank == 0 && a->json)
			putchar('\n');
		w2s_config_free(&cfg);
		return 0;
	}

	char libs[512];
	libraries(libs, sizeof libs);
	struct w2s_provenance prov = {
		.config_json = cfg.json,
		.version = PACKAGE_VERSION,
		.git_rev = W2S_GIT_REV,
		.libraries = libs,
		.blis_arch = w2s_blas_arch(),
		.world_size = c->size,
	};
	w2s_log_info("w2s %s on %d rank%s; BLIS kernels: %s", PACKAGE_VERSION, c->size,
		     c->size > 1 ? "s" : "", w2s_blas_arch());
	if (!strcmp(a->command, "gen") && cfg.data.task == W2S_TASK_IMPORT) {
		w2s_log_error("w2s gen: nothing to generate with data.task import; the data are "
			      "in %s",
			      cfg.data.import.path);
		st = W2S_STATUS_CONFIG;
	} else if (!strcmp(a->command, "gen")) {
		bool resuming = false, replacing = false;
		st = w2s_stage_prepare_out(c, &cfg, a->out, "data.h5", a->force, false, &resuming,
					   &replacing);
		char path[4096];
		snprintf(path, sizeof path, "%s/data.h5", a->out);
		if (st == W2S_STATUS_OK)
			st = w2s_stage_gen(c, &cfg, path, &prov);
		if (st == W2S_STATUS_OK && replacing)
			st = w2s_stage_replace(c, &cfg, a->out);
		if (st == W2S_STATUS_OK)
			w2s_log_info("wrote %s", path);
	} else if (cfg.nseeds > 0) {
		st = run_seeds(c, a, &cfg, &prov);
	} else {
		struct w2s_run_opts opts = {
			.out = a->out,
			.force = a->force,
			.resume = a->resume,
			.stop = &stop_requested,
			.prov = &prov,
		};
		st = w2s_run_pipeline(c, &cfg, &opts);
	}
	w2s_config_free(&cfg);
	return w2s_status_exit_code(st);
}

int w2s_cli_main(const struct w2s_comm *c, int argc, char **argv)
{
	w2s_log_init(c->rank, W2S_LOG_INFO);
	w2s_log_set_world(c->size);
	w2s_h5_init();
	bool generic = w2s_blas_init();

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		if (c->rank == 0)
			fputs(main_help, stdout);
		return argc < 2 ? w2s_status_exit_code(W2S_STATUS_USAGE) : 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		if (c->rank == 0)
			print_version();
		return 0;
	}
	if (!strcmp(argv[1], "sweep"))
		return w2s_cli_sweep(c, argc, argv);
	if (!strcmp(argv[1], "inspect"))
		return w2s_inspect_main(c, argc - 1, argv + 1);
	if (!strcmp(argv[1], "import"))
		return w2s_import_main(c, argc - 1, argv + 1);
	const char *help = NULL;
	if (!strcmp(argv[1], "run"))
		help = run_help;
	else if (!strcmp(argv[1], "gen"))
		help = gen_help;
	else if (!strcmp(argv[1], "config"))
		help = config_help;
	if (!help) {
		w2s_log_error("unknown command '%s' (commands: run, gen, import, config, sweep, "
			      "inspect; see w2s --help)",
			      argv[1]);
		return w2s_status_exit_code(W2S_STATUS_USAGE);
	}
	struct args a;
	if (parse_args(argc, argv, &a) != 0)
		return w2s_status_exit_code(W2S_STATUS_USAGE);
	if (a.help) {
		if (c->rank == 0)
			fputs(help, stdout);
		return 0;
	}
	if (a.keys) {
		if (c->rank == 0)
			fputs(w2s_config_reference(), stdout);
		return 0;
	}
	w2s_log_init(c->rank, (enum w2s_log_level)a.log_level);
	catch_stop_signals();
	if (generic)
		w2s_log_warn("BLIS runs its slow 'generic' kernels on this CPU; set "
			     "BLIS_ARCH_TYPE to a sub-configuration id that fits it");
	int code = run_command(c, &a);
	w2s_log_flush_local(1); /* a local failure no collective agreed on */
	return code;
}
