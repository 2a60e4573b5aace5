/*
 * inspect_print.c: `w2s inspect` in words: the document that collect()
 * (inspect.c) built, said by kind for a terminal.  --json does not pass
 * through here.
 */
#include "inspect_internal.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "w2s/common.h"

/* Rows of a table, and objects of an unknown file, printed in words. */
#define MAX_PRINTED 40

/* ---- small JSON helpers */

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "?";
}

static double num(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

static long long integer(const json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

/* The keys of object `o` in pipeline order, as a new array of *n borrowed
 * strings: the weak model's instances, then each strong model's student
 * and ceiling in config order, then the rest as stored (by name). */
static const char **pipeline_order(const json_t *o, const json_t *doc, size_t *n)
{
	const json_t *w2s = json_object_get(json_object_get(doc, "config"), "w2s");
	const json_t *strong = json_object_get(w2s, "strong");
	size_t total = json_object_size(o), k = 0;
	const char **keys = w2s_xcalloc(total + 1, sizeof *keys);
	char want[256];
	const char *weak = json_string_value(json_object_get(w2s, "weak"));
	size_t nwant = 1 + 2 * json_array_size(strong);
	for (size_t i = 0; weak && i < nwant; i++) {
		const char *m = i == 0 ? weak : json_string_value(json_array_get(strong, (i - 1) / 2));
		snprintf(want, sizeof want, "%s.%s", i == 0 ? "weak" : i % 2 ? "student" : "ceiling",
			 m ? m : "");
		const char *key;
		const json_t *v;
		json_object_foreach((json_t *)o, key, v)
		{
			if (!strcmp(key, want) && k < total)
				keys[k++] = key;
		}
	}
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)o, key, v)
	{
		bool listed = false;
		for (size_t i = 0; i < k; i++)
			listed |= !strcmp(keys[i], key);
		if (!listed && k < total)
			keys[k++] = key;
	}
	*n = k;
	return keys;
}

/* The width of the widest of n names, at least 20: instance names such as
 * synth_synthetic.strong outgrow a fixed column. */
static int name_width(const char **keys, size_t n)
{
	int w = 20;
	for (size_t i = 0; i < n; i++)
		w = (int)strlen(keys[i]) > w ? (int)strlen(keys[i]) : w;
	return w;
}

/* ---- words */

static void human_bytes(double b, char *out, size_t size)
{
	if (b >= 1 << 30)
		snprintf(out, size, "%.1f GiB", b / (1 << 30));
	else if (b >= 1 << 20)
		snprintf(out, size, "%.1f MiB", b / (1 << 20));
	else if (b >= 1 << 10)
		snprintf(out, size, "%.1f KiB", b / (1 << 10));
	else
		snprintf(out, size, "%.0f bytes", b);
}

static const char *kind_words(const char *kind)
{
	if (!kind)
		return "an HDF5 file without a w2s 'kind' attribute (not written by w2s)";
	if (!strcmp(kind, "data"))
		return "a w2s data file: every view of every row, the target and the splits";
	if (!strcmp(kind, "run"))
		return "a w2s run file: results, PGR, and each model's predictions and parameters";
	if (!strcmp(kind, "metrics"))
		return "a w2s metrics file: the training trace of every model";
	if (!strcmp(kind, "checkpoint"))
		return "a w2s checkpoint: parameters and optimizer state at one step";
	if (!strcmp(kind, "summary"))
		return "a w2s summary over seeds: every seed's PGR, with median and spread";
	if (!strcmp(kind, "sweep"))
		return "a w2s sweep file: the results of many runs";
	return "a w2s file of a kind this version does not know";
}

static void print_header(FILE *out, const json_t *doc)
{
	const char *kind = json_string_value(json_object_get(doc, "kind"));
	const json_t *a = json_object_get(doc, "attributes");
	char size[32];
	human_bytes(num(doc, "bytes") >= 0 ? (double)integer(doc, "bytes") : 0, size, sizeof size);
	fprintf(out, "%s: %s (%s)\n", str(doc, "file"), kind_words(kind), size);
	if (json_object_get(a, "w2s_version")) {
		fprintf(out, "  written by w2s %s (git %s)", str(a, "w2s_version"), str(a, "git_rev"));
		if (json_is_integer(json_object_get(a, "world_size")))
			fprintf(out, " on %lld rank%s", integer(a, "world_size"),
				integer(a, "world_size") == 1 ? "" : "s");
		if (isfinite(num(a, "wall_seconds")))
			fprintf(out, " in %.1f s", num(a, "wall_seconds"));
		fprintf(out, "; BLIS kernels %s\n", str(a, "blis_arch"));
	}
	if (json_object_get(a, "libraries"))
		fprintf(out, "  libraries: %s\n", str(a, "libraries"));
}

static const char *split_order[] = {"weak_train", "transfer", "val", "test"};

/* Rows per split, in pipeline order, then any other split. */
static void print_rows(FILE *out, const json_t *rows)
{
	const char *sep = "";
	for (size_t i = 0; i < 4; i++) {
		const json_t *v = json_object_get(rows, split_order[i]);
		if (v) {
			fprintf(out, "%s%s %lld", sep, split_order[i], (long long)json_integer_value(v));
			sep = ", ";
		}
	}
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)rows, key, v)
	{
		bool known = false;
		for (size_t i = 0; i < 4; i++)
			known |= !strcmp(key, split_order[i]);
		if (!known) {
			fprintf(out, "%s%s %lld", sep, key, (long long)json_integer_value(v));
			sep = ", ";
		}
	}
}

static void print_view_recipe(FILE *out, const json_t *v)
{
	long long z = integer(v, "z"), u = integer(v, "u");
	double noise = num(v, "noise");
	if (noise > 0)
		fprintf(out, "z[:%lld] + %g * u[:%lld]", z, noise, u);
	else if (u > 0)
		fprintf(out, "(z[:%lld], u[:%lld])", z, u);
	else
		fprintf(out, "z[:%lld]", z);
}

/* NAME = SOURCE; ... of an import spec's views or splits. */
static void print_sources(FILE *out, const char *what, const json_t *o)
{
	const char *key, *sep = "";
	const json_t *v;
	fprintf(out, "  %s: ", what);
	json_object_foreach((json_t *)o, key, v)
	{
		if (json_is_string(v))
			fprintf(out, "%s%s = %s", sep, key, json_string_value(v));
		else if (json_is_real(v))
			fprintf(out, "%s%s = %g of the rows", sep, key, json_real_value(v));
		else if (json_is_integer(v))
			fprintf(out, "%s%s %lld", sep, key, (long long)json_integer_value(v));
		else
			continue;
		sep = "; ";
	}
	fputc('\n', out);
}

/* The data file of `w2s import` holds its import spec where a generated
 * one holds the run config. */
static void print_import_spec(FILE *out, const json_t *spec, const json_t *attrs)
{
	fprintf(out, "\nimported by `w2s import` from %lld source rows\n",
		integer(attrs, "source_rows"));
	fprintf(out, "  %s: %s\n",
		    strcmp(str(spec, "target"), "class") ? "real-valued target" : "class labels",
		    str(spec, "labels"));
	print_sources(out, "views", json_object_get(spec, "views"));
	print_sources(out, "splits", json_object_get(spec, "splits"));
}

static void print_config(FILE *out, const json_t *cfg, const json_t *attrs)
{
	if (!json_is_object(cfg))
		return;
	if (!strcmp(str(attrs, "task"), "import") && json_object_get(cfg, "views")) {
		print_import_spec(out, cfg, attrs);
		return;
	}
	const json_t *data = json_object_get(cfg, "data");
	const char *task = str(data, "task");
	const json_t *tspec = json_object_get(data, task);
	if (!strcmp(task, "import"))
		fprintf(out, "\nconfig: import task, data from %s, seed %lld\n", str(tspec, "path"),
			integer(cfg, "seed"));
	else
		fprintf(out, "\nconfig: %s task, seed %lld, %lld classes\n", task,
			integer(cfg, "seed"), integer(tspec, "classes"));
	fprintf(out, "  rows: ");
	print_rows(out, json_object_get(data, "rows"));
	fputc('\n', out);
	if (!strcmp(task, "latent")) {
		fprintf(out, "  latent: signal z of %lld, nuisance u of %lld dimensions\n  views: ",
			integer(tspec, "signal"), integer(tspec, "nuisance"));
		const char *key, *sep = "";
		const json_t *v;
		json_object_foreach(json_object_get(tspec, "views"), key, v)
		{
			fprintf(out, "%s%s = ", sep, key);
			print_view_recipe(out, v);
			sep = "; ";
		}
		fputc('\n', out);
	} else if (!strcmp(task, "teacher")) {
		fprintf(out, "  teacher: a random %s network, depth %lld, width %lld, on %lld inputs\n",
			str(tspec, "activation"), integer(tspec, "depth"), integer(tspec, "width"),
			integer(tspec, "dim"));
	}
	const json_t *w2s = json_object_get(cfg, "w2s"), *models = json_object_get(cfg, "models");
	fprintf(out, "  models: ");
	/* The weak model, the strong ones in config order, then the rest
	 * (the JSON has them sorted by name). */
	const json_t *strong = json_object_get(w2s, "strong");
	const char *order[64];
	size_t n = 0;
	order[n++] = str(w2s, "weak");
	for (size_t i = 0; i < json_array_size(strong) && n < 64; i++)
		order[n++] = json_string_value(json_array_get(strong, i));
	const char *key;
	const json_t *m;
	json_object_foreach((json_t *)models, key, m)
	{
		bool listed = false;
		for (size_t i = 0; i < n; i++)
			listed |= order[i] && !strcmp(order[i], key);
		if (!listed && n < 64)
			order[n++] = key;
	}
	for (size_t j = 0; j < n; j++) {
		m = json_object_get(models, order[j]);
		if (!m)
			continue;
		const json_t *hidden = json_object_get(m, "hidden");
		fprintf(out, "%s%s (", j ? ", " : "", order[j]);
		if (json_array_size(hidden) == 0) {
			fprintf(out, "linear");
		} else {
			fprintf(out, "MLP ");
			for (size_t i = 0; i < json_array_size(hidden); i++)
				fprintf(out, "%s%lld", i ? "x" : "",
					(long long)json_integer_value(json_array_get(hidden, i)));
			fprintf(out, " %s", str(m, "activation"));
		}
		fprintf(out, " on view %s)", str(m, "view"));
	}
	fprintf(out, "\n  weak-to-strong: %s teaches ", str(w2s, "weak"));
	for (size_t i = 0; i < json_array_size(strong); i++)
		fprintf(out, "%s%s", i ? ", " : "", json_string_value(json_array_get(strong, i)));
	fprintf(out, " with loss %s\n", str(w2s, "loss"));
}

static void print_data(FILE *out, const json_t *doc)
{
	const char *key;
	const json_t *v;
	const json_t *views = json_object_get(doc, "views");
	if (json_object_size(views)) {
		fprintf(out, "\nviews (/views/<name>, one row per sample):\n");
		json_object_foreach((json_t *)views, key, v)
		{
			char shape[64];
			snprintf(shape, sizeof shape, "%lld x %lld", integer(v, "rows"), integer(v, "cols"));
			fprintf(out, "  %-12s %-16s %-8s", key, shape, str(v, "dtype"));
			if (json_object_get(v, "z")) {
				fprintf(out, " ");
				print_view_recipe(out, v);
			}
			fputc('\n', out);
		}
	}
	const json_t *t = json_object_get(doc, "target");
	if (t) {
		const json_t *counts = json_object_get(t, "class_counts");
		fprintf(out, "target (/target): %lld rows, %s", integer(t, "rows"), str(t, "dtype"));
		if (json_array_size(counts)) {
			double rows = (double)integer(t, "rows");
			fprintf(out, ", %zu classes:", json_array_size(counts));
			for (size_t i = 0; i < json_array_size(counts); i++) {
				long long c = (long long)json_integer_value(json_array_get(counts, i));
				fprintf(out, " %s%zu: %lld (%.1f%%)", i ? "| " : "", i, c,
					rows > 0 ? 100.0 * (double)c / rows : 0.0);
			}
		}
		fputc('\n', out);
	}
	const json_t *splits = json_object_get(doc, "splits");
	if (json_object_size(splits)) {
		fprintf(out, "splits (/splits/<name>, row indices):\n");
		/* Pipeline order first, then any other split. */
		for (size_t i = 0; i < 4; i++) {
			v = json_object_get(splits, split_order[i]);
			if (v)
				fprintf(out, "  %-12s %8lld rows  (rows %lld..%lld)\n", split_order[i],
					integer(v, "rows"), integer(v, "first"), integer(v, "last"));
		}
		json_object_foreach((json_t *)splits, key, v)
		{
			bool known = false;
			for (size_t i = 0; i < 4; i++)
				known |= !strcmp(key, split_order[i]);
			if (!known)
				fprintf(out, "  %-12s %8lld rows\n", key, integer(v, "rows"));
		}
	}
}

static void print_run(FILE *out, const json_t *doc)
{
	const char *key;
	const json_t *v;
	const json_t *models = json_object_get(doc, "models");
	if (json_object_size(models)) {
		fprintf(out, "\nmodels (/models/<name>/params, one flat float32 buffer each):\n");
		size_t n;
		const char **keys = pipeline_order(models, doc, &n);
		int nw = name_width(keys, n);
		for (size_t j = 0; j < n; j++) {
			key = keys[j];
			v = json_object_get(models, key);
			char widths[256] = "";
			const json_t *w = json_object_get(v, "widths");
			for (size_t i = 0; i < json_array_size(w); i++) {
				size_t len = strlen(widths);
				snprintf(widths + len, sizeof widths - len, "%s%lld", i ? "-" : "",
					 (long long)json_integer_value(json_array_get(w, i)));
			}
			const char *act = str(v, "activation");
			fprintf(out, "  %-*s view %-10s widths %-16s %-6s %10lld parameters\n", nw, key,
				str(v, "view"), widths, strcmp(act, "none") ? act : "linear",
				integer(v, "params"));
		}
		free(keys);
	}
	const json_t *labels = json_object_get(doc, "labels");
	if (json_object_size(labels)) {
		fprintf(out, "labels (/labels/<name>/<split>/{logit,prob,pred}):\n");
		size_t n;
		const char **keys = pipeline_order(labels, doc, &n);
		int nw = name_width(keys, n);
		for (size_t j = 0; j < n; j++) {
			key = keys[j];
			v = json_object_get(labels, key);
			fprintf(out, "  %-*s", nw, key);
			const char *split, *sep = " ";
			const json_t *rows;
			json_object_foreach((json_t *)v, split, rows)
			{
				fprintf(out, "%s%s (%lld rows)", sep, split,
					(long long)json_integer_value(rows));
				sep = ", ";
			}
			fputc('\n', out);
		}
		free(keys);
	}
	const json_t *synth = json_object_get(doc, "synth");
	if (json_object_size(synth)) {
		fprintf(out, "synthetic rows (/synth/<model>/{x,y}), drawn from Gaussian mixtures fitted "
			     "per class on weak_train;\nsynth_synthetic.<model> trains on them, synth_real on "
			     "weak_train, synth_mix on both:\n");
		json_object_foreach((json_t *)synth, key, v)
			fprintf(out, "  %-20s %lld rows x %lld columns\n", key, integer(v, "rows"),
				integer(v, "cols"));
	}
}

static void print_metrics(FILE *out, const json_t *doc)
{
	const json_t *traces = json_object_get(doc, "traces");
	if (!json_object_size(traces))
		return;
	fprintf(out, "\ntraces (/trace/<name>/{step,epoch,loss,acc,lr,grad_norm,seconds,"
		     "samples_per_s,val_acc}),\nlast point of each:\n");
	size_t n;
	const char **keys = pipeline_order(traces, doc, &n);
	int nw = name_width(keys, n);
	fprintf(out, "  %-*s %7s %8s %7s %9s %7s %7s %9s %9s\n", nw, "model", "points", "step",
		"epoch", "loss", "acc", "val_acc", "lr", "seconds");
	for (size_t j = 0; j < n; j++) {
		const char *key = keys[j];
		const json_t *t = json_object_get(traces, key);
		if (integer(t, "points") == 0) {
			fprintf(out, "  %-*s %7d  (no point yet)\n", nw, key, 0);
			continue;
		}
		char val[16] = "-";
		if (isfinite(num(t, "val_acc")))
			snprintf(val, sizeof val, "%.4f", num(t, "val_acc"));
		fprintf(out, "  %-*s %7lld %8lld %7.2f %9.4f %7.4f %7s %9.2e %9.2f\n", nw, key,
			integer(t, "points"), integer(t, "step"), num(t, "epoch"), num(t, "loss"),
			num(t, "acc"), val, num(t, "lr"), num(t, "seconds"));
	}
	free(keys);
	fprintf(out, "  (loss and acc: over the training batches since the previous point; a "
		     "student's acc is its\n   agreement with its teacher's labels; val_acc: the newest "
		     "evaluation on val, - without one)\n");
}

static void print_checkpoint(FILE *out, const json_t *doc)
{
	const json_t *a = json_object_get(doc, "attributes");
	fprintf(out, "\ncheckpoint of %s after step %lld (%lld epochs and %lld batches)%s\n",
		str(a, "model"), integer(a, "step"), integer(a, "epoch"), integer(a, "batch"),
		integer(a, "final") ? ": training had finished" : ": training goes on from here");
	fprintf(out, "  %lld parameters in /params, Adam moments in /adam_m and /adam_v; %lld "
		     "trace rows in /trace\n",
		integer(a, "nparams"), integer(a, "ntrace"));
	fprintf(out, "  batch order from seed %lld, stream %lld; written by %lld rank%s after "
		     "%.1f s of training\n",
		integer(a, "rng_seed"), integer(a, "rng_stream"), integer(a, "world_size"),
		integer(a, "world_size") == 1 ? "" : "s", num(a, "seconds"));
}

static const char *table_words(const char *path)
{
	if (!strcmp(path, "results"))
		return "every model on each split, against ground truth";
	if (!strcmp(path, "pgr"))
		return "weak-to-strong on test, PGR = (P_w2s - P_weak) / (P_ceiling - P_weak)";
	if (!strcmp(path, "filter"))
		return "what w2s.filter removed from the transfer split before each student learned "
		       "it;\n  precision: the share of removed rows whose weak label was wrong, recall: "
		       "the share of\n  wrong weak labels removed; error_before and error_after: the "
		       "weak labels' error rate";
	if (!strcmp(path, "trace"))
		return "every trace row written so far";
	if (!strcmp(path, "summary"))
		return "each strong model's metrics over the seeds";
	return NULL;
}

static void cell_text(const json_t *v, char *out, size_t size)
{
	if (json_is_string(v))
		snprintf(out, size, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(out, size, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v) && fabs(json_real_value(v)) < 1e-3 && json_real_value(v) != 0)
		snprintf(out, size, "%.2e", json_real_value(v)); /* a learning rate near its end */
	else if (json_is_real(v))
		snprintf(out, size, "%.4f", json_real_value(v));
	else
		snprintf(out, size, "n/a");
}

/* Rows idx (n) of a table as aligned columns, strings left and numbers
 * right; note[k], when not NULL, follows row idx[k]. */
static void print_columns(FILE *out, const json_t *rows, const size_t *idx, size_t n,
			  const char *const *note)
{
	const json_t *first = json_array_get(rows, 0);
	int *width = w2s_xcalloc(json_object_size(first) + 1, sizeof *width);
	char cell[256];
	const char *key;
	const json_t *v;
	size_t k = 0;
	json_object_foreach((json_t *)first, key, v)
	{
		width[k] = (int)strlen(key);
		for (size_t r = 0; r < n; r++) {
			cell_text(json_object_get(json_array_get(rows, idx[r]), key), cell, sizeof cell);
			if ((int)strlen(cell) > width[k])
				width[k] = (int)strlen(cell);
		}
		k++;
	}
	for (size_t r = 0; r <= n; r++) {
		const json_t *row = r ? json_array_get(rows, idx[r - 1]) : NULL;
		fputs("  ", out);
		k = 0;
		json_object_foreach((json_t *)first, key, v)
		{
			if (row)
				cell_text(json_object_get(row, key), cell, sizeof cell);
			bool left = json_is_string(v);
			fprintf(out, "%s%*s", k ? "  " : "", left ? -width[k] : width[k],
				row ? cell : key);
			k++;
		}
		if (row && note && note[r - 1])
			fprintf(out, "  <- %s", note[r - 1]);
		fputc('\n', out);
	}
	free(width);
}

/* A table under a line that names it: its first MAX_PRINTED rows. */
static void print_table(FILE *out, const char *path, const json_t *rows)
{
	const char *words = table_words(path);
	size_t n = json_array_size(rows);
	fprintf(out, "\n/%s (%zu row%s)%s%s:\n", path, n, n == 1 ? "" : "s", words ? ": " : "",
		words ? words : "");
	if (n == 0)
		return;
	size_t shown = n < MAX_PRINTED ? n : MAX_PRINTED;
	size_t *idx = w2s_xcalloc(shown, sizeof *idx);
	for (size_t r = 0; r < shown; r++)
		idx[r] = r;
	print_columns(out, rows, idx, shown, NULL);
	free(idx);
	if (shown < n)
		fprintf(out, "  ... %zu more rows (all of them: w2s inspect --json)\n", n - shown);
}

/* The cascade in words, and its test curve at a few thresholds (a curve
 * has a hundred rows, too many for a terminal): every tenth of [0, 1],
 * the one chosen on val, and the one above 1 that defers every query. */
static void print_cascade(FILE *out, const json_t *doc)
{
	const json_t *tables = json_object_get(doc, "tables");
	const json_t *rows = json_object_get(tables, "cascade/curve");
	const json_t *a = json_object_get(doc, "cascade");
	const char *large = str(a, "large");
	size_t n = json_array_size(rows);
	double chosen = num(a, "chosen_threshold"), tol = num(a, "tolerance");
	fprintf(out, "\n/cascade/curve (%zu rows, test) and /cascade/val_curve (%zu rows, val):\n"
		     "  %s answers every query and defers it to %s when its %s score is\n"
		     "  below the threshold;\n",
		n, json_array_size(json_object_get(tables, "cascade/val_curve")), str(a, "small"),
		large, str(a, "score"));
	if (isfinite(chosen))
		fprintf(out, "  threshold %.4f chosen on val, the cheapest within %g of %s alone;\n",
			chosen, tol, large);
	else
		fprintf(out, "  no threshold came within %g of %s alone on val;\n", tol, large);
	if (n == 0)
		return;
	size_t *idx = w2s_xcalloc(n, sizeof *idx), shown = 0;
	const char **note = w2s_xcalloc(n, sizeof *note);
	for (size_t r = 0; r < n; r++) {
		double t = num(json_array_get(rows, r), "threshold");
		bool tenth = t <= 1 && fabs(10 * t - round(10 * t)) < 1e-9;
		if (n > 16 && !tenth && t != chosen && t <= 1)
			continue;
		note[shown] = t == chosen ? "chosen"
			      : t > 1	  ? "defers all: the large model's accuracy, both models' cost"
			      : t == 0	  ? "defers none: the small model alone"
					  : NULL;
		idx[shown++] = r;
	}
	fprintf(out, "  on test (flops and seconds per query; savings against %s alone):\n", large);
	print_columns(out, rows, idx, shown, note);
	if (shown < n)
		fprintf(out, "  (%zu of %zu thresholds; all of them: w2s inspect --json)\n", shown, n);
	free(note);
	free(idx);
}

static void print_objects(FILE *out, const json_t *objects)
{
	size_t n = json_array_size(objects);
	fprintf(out, "\nobjects (%zu):\n", n);
	for (size_t i = 0; i < n && i < MAX_PRINTED; i++) {
		const json_t *o = json_array_get(objects, i);
		fprintf(out, "  %-40s %s", str(o, "path"), str(o, "type"));
		const json_t *shape = json_object_get(o, "shape");
		if (shape) {
			fprintf(out, " %s (", str(o, "dtype"));
			for (size_t k = 0; k < json_array_size(shape); k++)
				fprintf(out, "%s%lld", k ? ", " : "",
					(long long)json_integer_value(json_array_get(shape, k)));
			fprintf(out, ")%s%s", json_is_true(json_object_get(o, "extendible"))
						   ? " extendible"
						   : "",
				json_is_true(json_object_get(o, "scale")) ? " dimension scale" : "");
		}
		fputc('\n', out);
	}
	if (n > MAX_PRINTED)
		fprintf(out, "  ... %zu more (all of them: w2s inspect --json)\n", n - MAX_PRINTED);
}

static void print_attributes(FILE *out, const json_t *attrs)
{
	const char *name;
	const json_t *v;
	if (json_object_size(attrs))
		fprintf(out, "\nattributes of /:\n");
	json_object_foreach((json_t *)attrs, name, v)
	{
		char text[256];
		cell_text(v, text, sizeof text);
		fprintf(out, "  %-20s %s\n", name, text);
	}
}

/* Whether a /pgr table has a row of a filtered student. */
static bool filtered(const json_t *pgr)
{
	size_t i;
	const json_t *row;
	json_array_foreach(pgr, i, row)
	{
		const char *f = json_string_value(json_object_get(row, "filter"));
		if (f && strcmp(f, "none"))
			return true;
	}
	return false;
}

void w2s_inspect_print_words(FILE *out, const json_t *doc)
{
	const char *kind = json_string_value(json_object_get(doc, "kind"));
	bool known = kind && (!strcmp(kind, "data") || !strcmp(kind, "run") ||
			      !strcmp(kind, "metrics") || !strcmp(kind, "checkpoint") ||
			      !strcmp(kind, "summary"));
	print_header(out, doc);
	if (!known)
		print_attributes(out, json_object_get(doc, "attributes"));
	print_config(out, json_object_get(doc, "config"), json_object_get(doc, "attributes"));
	if (kind && !strcmp(kind, "data"))
		print_data(out, doc);
	else if (kind && !strcmp(kind, "run"))
		print_run(out, doc);
	else if (kind && !strcmp(kind, "metrics"))
		print_metrics(out, doc);
	else if (kind && !strcmp(kind, "checkpoint"))
		print_checkpoint(out, doc);
	/* The results first, then the PGR, the filter, the cascade (both of its
	 * curves at once), then any other table. */
	static const char *const order[] = {"results", "pgr", "filter", "cascade/curve"};
	const size_t norder = sizeof order / sizeof order[0];
	const json_t *tables = json_object_get(doc, "tables");
	const char *path;
	const json_t *rows;
	for (size_t pass = 0; pass <= norder; pass++) {
		json_object_foreach((json_t *)tables, path, rows)
		{
			size_t rank = 0;
			while (rank < norder && strcmp(path, order[rank]))
				rank++;
			if (rank != pass)
				continue;
			if (known && !strcmp(path, "cascade/curve"))
				print_cascade(out, doc);
			else if (!known || strcmp(path, "cascade/val_curve") ||
				 !json_object_get(tables, "cascade/curve"))
				print_table(out, path, rows);
			if (!strcmp(path, "pgr") && filtered(rows))
				fprintf(out, "  (filter none beside a filtered row: unfiltered.<strong>, the "
					     "same student on every transfer row)\n");
		}
	}
	if (!known)
		print_objects(out, json_object_get(doc, "objects"));
}
