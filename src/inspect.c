/*
 * inspect.c: `w2s inspect`; see inspect.h.
 *
 * collect() reads the file into a JSON document; w2s_inspect_print_words()
 * (inspect_print.c) says it.
 * Keys of the document (what --json users rely on):
 *
 *   file, bytes, kind (null when the file has none), attributes (root
 *   attributes but config), config (the parsed config or null), objects
 *   ([{path, type: group|dataset, shape, dtype, extendible, scale}]),
 *   tables ({path without the leading '/': [row objects]}),
 *   data:    views {name: {rows, cols, dtype, z, u, noise}}, target {rows,
 *            dtype, class_counts}, splits {name: {rows, first, last}}
 *   run:     models {instance: {view, widths, activation, params}},
 *            labels {instance: {split: rows}}, synth {model: {rows, cols}}
 *            (the rows drawn; {} without synth.models), cascade {small,
 *            large, score, tolerance, chosen_threshold} (the attributes of
 *            /cascade/curve; absent without the cascade)
 *   metrics: traces {instance: {points, step, epoch, loss, acc, val_acc,
 *            lr, seconds}} (the last point; val_acc null without evaluation)
 *   checkpoint: nothing more (its state is in attributes, its trace in
 *            tables)
 *
 * NaN and infinities become null (JSON has no such numbers).
 */
#include "w2s/inspect.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "inspect_internal.h"
#include "w2s/h5io.h"
#include "w2s/h5io_inspect.h"
#include "w2s/log.h"

/* Tables larger than this are for h5py, not for a terminal. */
#define MAX_TABLE_ROWS 1000000
/* Target rows read per call when counting classes (8 MiB of doubles). */
#define TARGET_CHUNK (1 << 20)

static const char help[] =
	"usage: w2s inspect FILE.h5 [--json]\n"
	"\n"
	"Says what a file written by w2s holds: its kind (data, run, metrics, checkpoint\n"
	"or summary), where it came from (w2s version, git revision, ranks, libraries), the\n"
	"config in brief, and by kind:\n"
	"  data.h5     views (columns, how each was made), target (class counts), splits\n"
	"  run.h5      models (widths, parameters), labels, the results and PGR tables, and\n"
	"              the filter, the synthetic rows and the cascade when the run had them\n"
	"  metrics.h5  the last point of every training trace\n"
	"  ckpt/*.h5   the model, step and state of a checkpoint, and its trace\n"
	"  summary.h5  (w2s run --seeds) every seed's PGR, and median and spread\n"
	"Any other HDF5 file is listed object by object, with every table it holds.\n"
	"\n"
	"options:\n"
	"  --json   the same as one JSON object on stdout, for scripts: file, bytes, kind,\n"
	"           attributes, config (all of it), objects (every group and dataset with\n"
	"           shape and type), tables (every compound table, row by row), and\n"
	"           views/target/splits, models/labels/synth/cascade or traces by kind\n"
	"  --help   this text\n"
	"\n"
	"The file is opened read-only by one process, without MPI-IO; a metrics.h5 that a\n"
	"run is still writing opens as a live (SWMR) reader.\n"
	"\n"
	"exit codes: 0 done, 2 bad command line, 4 the file is missing, not HDF5,\n"
	"truncated or damaged.\n";

/* ---- small JSON helpers */

static json_t *number(double x)
{
	return isfinite(x) ? json_real(x) : json_null();
}

static json_t *value_json(const struct w2s_h5_value *v)
{
	switch (v->type) {
	case W2S_H5_VALUE_STRING: return json_string(v->s ? v->s : "");
	case W2S_H5_VALUE_INT: return json_integer((json_int_t)v->i);
	case W2S_H5_VALUE_FLOAT: return number(v->d);
	default: return json_null();
	}
}

/* ---- collecting */

static json_t *shape_json(const struct w2s_h5_dataset_info *info)
{
	json_t *a = json_array();
	for (int k = 0; k < info->rank; k++)
		json_array_append_new(a, json_integer((json_int_t)info->dims[k]));
	return a;
}

/* kind, attributes and the parsed config from the root group. */
static enum w2s_status collect_root(struct w2s_h5 *f, json_t *doc)
{
	struct w2s_h5_attrs a;
	if (w2s_h5_read_attrs(f, "/", &a) != W2S_STATUS_OK)
		return W2S_STATUS_IO;
	json_t *attrs = json_object(), *config = json_null();
	for (int i = 0; i < a.n; i++) {
		if (!strcmp(a.names[i], "config") && a.values[i].type == W2S_H5_VALUE_STRING) {
			json_error_t err;
			json_t *c = json_loads(a.values[i].s, 0, &err);
			if (c) {
				json_decref(config);
				config = c;
				continue;
			}
		}
		json_object_set_new(attrs, a.names[i], value_json(&a.values[i]));
	}
	const struct w2s_h5_value *kind = w2s_h5_attrs_get(&a, "kind");
	json_object_set_new(doc, "kind", kind && kind->type == W2S_H5_VALUE_STRING
						 ? json_string(kind->s)
						 : json_null());
	json_object_set_new(doc, "attributes", attrs);
	json_object_set_new(doc, "config", config);
	w2s_h5_attrs_free(&a);
	return W2S_STATUS_OK;
}

/* Every object, and every compound table read whole. */
static enum w2s_status collect_objects(struct w2s_h5 *f, json_t *doc)
{
	char **paths = NULL;
	int n = 0;
	if (w2s_h5_walk(f, "/", &paths, &n) != W2S_STATUS_OK)
		return W2S_STATUS_IO;
	json_t *objects = json_array(), *tables = json_object();
	json_object_set_new(doc, "objects", objects);
	json_object_set_new(doc, "tables", tables);
	enum w2s_status st = W2S_STATUS_OK;
	for (int i = 0; i < n && st == W2S_STATUS_OK; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "path", json_string(paths[i]));
		json_array_append_new(objects, o);
		enum w2s_h5_object kind = w2s_h5_object_at(f, paths[i]);
		if (kind != W2S_H5_OBJECT_DATASET) {
			json_object_set_new(o, "type", json_string(kind == W2S_H5_OBJECT_GROUP
									   ? "group"
									   : "other"));
			continue;
		}
		struct w2s_h5_dataset_info info;
		st = w2s_h5_dataset_info(f, paths[i], &info);
		if (st != W2S_STATUS_OK)
			break;
		json_object_set_new(o, "type", json_string("dataset"));
		json_object_set_new(o, "shape", shape_json(&info));
		json_object_set_new(o, "dtype", json_string(info.type));
		json_object_set_new(o, "extendible", json_boolean(info.extendible));
		json_object_set_new(o, "scale", json_boolean(info.scale));
		if (info.members == 0 || info.rank != 1)
			continue;
		struct w2s_h5_anytable t;
		st = w2s_h5_read_anytable(f, paths[i], MAX_TABLE_ROWS, &t);
		if (st != W2S_STATUS_OK)
			break;
		json_t *rows = json_array();
		for (int64_t r = 0; r < t.nrows; r++) {
			json_t *row = json_object();
			for (int k = 0; k < t.ncols; k++)
				json_object_set_new(row, t.names[k], value_json(&t.cells[r * t.ncols + k]));
			json_array_append_new(rows, row);
		}
		json_object_set_new(tables, paths[i] + 1, rows);
		w2s_h5_anytable_free(&t);
	}
	w2s_h5_strings_free(&paths, &n);
	return st;
}

/* Shape of a dataset as (rows, cols); -1 when absent or not a dataset. */
static void rows_cols(struct w2s_h5 *f, const char *path, int64_t *rows, int64_t *cols,
		      char *dtype, size_t dsize)
{
	struct w2s_h5_dataset_info info;
	*rows = *cols = -1;
	if (w2s_h5_object_at(f, path) != W2S_H5_OBJECT_DATASET ||
	    w2s_h5_dataset_info(f, path, &info) != W2S_STATUS_OK)
		return;
	*rows = info.rank > 0 ? info.dims[0] : 1;
	*cols = info.rank > 1 ? info.dims[1] : 0;
	if (dtype)
		snprintf(dtype, dsize, "%s", info.type);
}

static enum w2s_status collect_data(struct w2s_h5 *f, json_t *doc)
{
	char **names = NULL;
	int n = 0;
	enum w2s_status st = W2S_STATUS_OK;
	json_t *views = json_object();
	json_object_set_new(doc, "views", views);
	if (w2s_h5_object_at(f, "/views") == W2S_H5_OBJECT_GROUP)
		st = w2s_h5_members(f, "/views", &names, &n);
	for (int i = 0; i < n && st == W2S_STATUS_OK; i++) {
		char path[1100], dtype[32] = "?";
		snprintf(path, sizeof path, "/views/%s", names[i]);
		int64_t rows, cols;
		rows_cols(f, path, &rows, &cols, dtype, sizeof dtype);
		json_t *v = json_object();
		json_object_set_new(v, "rows", json_integer(rows));
		json_object_set_new(v, "cols", json_integer(cols));
		json_object_set_new(v, "dtype", json_string(dtype));
		struct w2s_h5_attrs a;
		st = w2s_h5_read_attrs(f, path, &a);
		for (int k = 0; st == W2S_STATUS_OK && k < a.n; k++)
			json_object_set_new(v, a.names[k], value_json(&a.values[k]));
		w2s_h5_attrs_free(&a);
		json_object_set_new(views, names[i], v);
	}
	w2s_h5_strings_free(&names, &n);

	int64_t rows, cols;
	char dtype[32] = "?";
	rows_cols(f, "/target", &rows, &cols, dtype, sizeof dtype);
	if (st == W2S_STATUS_OK && rows >= 0) {
		json_t *t = json_object(), *counts = json_array();
		json_object_set_new(doc, "target", t);
		json_object_set_new(t, "rows", json_integer(rows));
		json_object_set_new(t, "dtype", json_string(dtype));
		/* Class counts for an integer target; a real-valued one
		 * (regression) has none. */
		if (cols == 0 && strstr(dtype, "int")) {
			double *buf = w2s_xmalloc(TARGET_CHUNK * sizeof *buf);
			int64_t count[256] = {0}, top = -1, other = 0;
			for (int64_t b = 0; b < rows && st == W2S_STATUS_OK; b += TARGET_CHUNK) {
				int64_t len = rows - b < TARGET_CHUNK ? rows - b : TARGET_CHUNK;
				st = w2s_h5_read_doubles(f, "/target", b, len, buf);
				for (int64_t r = 0; st == W2S_STATUS_OK && r < len; r++) {
					int64_t y = (int64_t)buf[r];
					if (y < 0 || y >= 256) {
						other++;
						continue;
					}
					count[y]++;
					top = y > top ? y : top;
				}
			}
			free(buf);
			for (int64_t y = 0; y <= top; y++)
				json_array_append_new(counts, json_integer(count[y]));
			if (other)
				json_object_set_new(t, "outside_0_255", json_integer(other));
		}
		json_object_set_new(t, "class_counts", counts);
	}

	json_t *splits = json_object();
	json_object_set_new(doc, "splits", splits);
	if (st == W2S_STATUS_OK && w2s_h5_object_at(f, "/splits") == W2S_H5_OBJECT_GROUP)
		st = w2s_h5_members(f, "/splits", &names, &n);
	for (int i = 0; i < n && st == W2S_STATUS_OK; i++) {
		char path[1100];
		snprintf(path, sizeof path, "/splits/%s", names[i]);
		rows_cols(f, path, &rows, &cols, NULL, 0);
		json_t *s = json_object();
		json_object_set_new(s, "rows", json_integer(rows));
		double ends[2];
		if (rows > 0 && cols == 0 &&
		    (st = w2s_h5_read_doubles(f, path, 0, 1, &ends[0])) == W2S_STATUS_OK &&
		    (st = w2s_h5_read_doubles(f, path, rows - 1, 1, &ends[1])) == W2S_STATUS_OK) {
			json_object_set_new(s, "first", json_integer((json_int_t)ends[0]));
			json_object_set_new(s, "last", json_integer((json_int_t)ends[1]));
		}
		json_object_set_new(splits, names[i], s);
	}
	w2s_h5_strings_free(&names, &n);
	return st;
}

static enum w2s_status collect_run(struct w2s_h5 *f, json_t *doc)
{
	char **names = NULL, **splits = NULL;
	int n = 0, ns = 0;
	enum w2s_status st = W2S_STATUS_OK;
	json_t *models = json_object(), *labels = json_object();
	json_object_set_new(doc, "models", models);
	json_object_set_new(doc, "labels", labels);
	if (w2s_h5_object_at(f, "/models") == W2S_H5_OBJECT_GROUP)
		st = w2s_h5_members(f, "/models", &names, &n);
	for (int i = 0; i < n && st == W2S_STATUS_OK; i++) {
		char path[1100];
		snprintf(path, sizeof path, "/models/%s", names[i]);
		json_t *m = json_object();
		json_object_set_new(models, names[i], m);
		struct w2s_h5_attrs a;
		st = w2s_h5_read_attrs(f, path, &a);
		if (st != W2S_STATUS_OK)
			break;
		const struct w2s_h5_value *v = w2s_h5_attrs_get(&a, "view");
		json_object_set_new(m, "view", v && v->s ? json_string(v->s) : json_null());
		json_t *widths = json_array();
		v = w2s_h5_attrs_get(&a, "widths");
		for (const char *p = v && v->s ? v->s : ""; *p;) {
			char *end;
			long long w = strtoll(p, &end, 10);
			if (end == p)
				break;
			json_array_append_new(widths, json_integer(w));
			p = end;
		}
		json_object_set_new(m, "widths", widths);
		v = w2s_h5_attrs_get(&a, "activation");
		json_object_set_new(m, "activation", v && v->s ? json_string(v->s) : json_null());
		w2s_h5_attrs_free(&a);
		int64_t rows, cols;
		snprintf(path, sizeof path, "/models/%s/params", names[i]);
		rows_cols(f, path, &rows, &cols, NULL, 0);
		json_object_set_new(m, "params", rows >= 0 ? json_integer(rows) : json_null());
	}
	w2s_h5_strings_free(&names, &n);

	if (st == W2S_STATUS_OK && w2s_h5_object_at(f, "/labels") == W2S_H5_OBJECT_GROUP)
		st = w2s_h5_members(f, "/labels", &names, &n);
	for (int i = 0; i < n && st == W2S_STATUS_OK; i++) {
		char path[1100];
		snprintf(path, sizeof path, "/labels/%s", names[i]);
		st = w2s_h5_members(f, path, &splits, &ns);
		json_t *l = json_object();
		json_object_set_new(labels, names[i], l);
		for (int k = 0; k < ns && st == W2S_STATUS_OK; k++) {
			int64_t rows, cols;
			snprintf(path, sizeof path, "/labels/%s/%s/pred", names[i], splits[k]);
			rows_cols(f, path, &rows, &cols, NULL, 0);
			json_object_set_new(l, splits[k], json_integer(rows));
		}
		w2s_h5_strings_free(&splits, &ns);
	}
	w2s_h5_strings_free(&names, &n);

	/* The cascade's setting and its choice live in attributes of its
	 * curve, which the tables do not carry. */
	if (st == W2S_STATUS_OK && w2s_h5_object_at(f, "/cascade/curve") == W2S_H5_OBJECT_DATASET) {
		struct w2s_h5_attrs a;
		st = w2s_h5_read_attrs(f, "/cascade/curve", &a);
		json_t *c = json_object();
		for (int k = 0; st == W2S_STATUS_OK && k < a.n; k++)
			json_object_set_new(c, a.names[k], value_json(&a.values[k]));
		w2s_h5_attrs_free(&a);
		json_object_set_new(doc, "cascade", c);
	}
	json_t *synth = json_object();
	json_object_set_new(doc, "synth", synth);
	if (st == W2S_STATUS_OK && w2s_h5_object_at(f, "/synth") == W2S_H5_OBJECT_GROUP)
		st = w2s_h5_members(f, "/synth", &names, &n);
	for (int i = 0; i < n && st == W2S_STATUS_OK; i++) {
		char path[1100];
		int64_t rows, cols;
		snprintf(path, sizeof path, "/synth/%s/x", names[i]);
		rows_cols(f, path, &rows, &cols, NULL, 0);
		json_t *m = json_object();
		json_object_set_new(m, "rows", json_integer(rows));
		json_object_set_new(m, "cols", json_integer(cols));
		json_object_set_new(synth, names[i], m);
	}
	w2s_h5_strings_free(&names, &n);
	return st;
}

static enum w2s_status collect_metrics(struct w2s_h5 *f, json_t *doc)
{
	static const char *cols[] = {"step", "epoch", "loss", "acc", "val_acc", "lr", "seconds"};
	char **names = NULL;
	int n = 0;
	enum w2s_status st = W2S_STATUS_OK;
	json_t *traces = json_object();
	json_object_set_new(doc, "traces", traces);
	if (w2s_h5_object_at(f, "/trace") == W2S_H5_OBJECT_GROUP)
		st = w2s_h5_members(f, "/trace", &names, &n);
	for (int i = 0; i < n && st == W2S_STATUS_OK; i++) {
		json_t *t = json_object();
		json_object_set_new(traces, names[i], t);
		char path[1100];
		int64_t rows, c;
		snprintf(path, sizeof path, "/trace/%s/step", names[i]);
		rows_cols(f, path, &rows, &c, NULL, 0);
		json_object_set_new(t, "points", json_integer(rows > 0 ? rows : 0));
		for (size_t k = 0; k < sizeof cols / sizeof cols[0] && rows > 0; k++) {
			snprintf(path, sizeof path, "/trace/%s/%s", names[i], cols[k]);
			int64_t len, cc;
			rows_cols(f, path, &len, &cc, NULL, 0);
			double last;
			/* A live trace may be a row longer in one column than in
			 * another; read each column's own last point. */
			if (len <= 0)
				continue;
			st = w2s_h5_read_doubles(f, path, len - 1, 1, &last);
			if (st != W2S_STATUS_OK)
				break;
			json_object_set_new(t, cols[k], k == 0 ? json_integer((json_int_t)last)
							       : number(last));
		}
	}
	w2s_h5_strings_free(&names, &n);
	return st;
}

/* The whole document, or NULL after one error line. */
static json_t *collect(const char *path)
{
	struct w2s_h5 f = {.file = H5I_INVALID_HID};
	if (w2s_h5_open_read(&f, path) != W2S_STATUS_OK)
		return NULL;
	json_t *doc = json_object();
	struct stat sb;
	json_object_set_new(doc, "file", json_string(path));
	json_object_set_new(doc, "bytes", json_integer(stat(path, &sb) == 0 ? sb.st_size : -1));
	enum w2s_status st = collect_root(&f, doc);
	if (st == W2S_STATUS_OK)
		st = collect_objects(&f, doc);
	const char *kind = json_string_value(json_object_get(doc, "kind"));
	if (st == W2S_STATUS_OK && kind && !strcmp(kind, "data"))
		st = collect_data(&f, doc);
	else if (st == W2S_STATUS_OK && kind && !strcmp(kind, "run"))
		st = collect_run(&f, doc);
	else if (st == W2S_STATUS_OK && kind && !strcmp(kind, "metrics"))
		st = collect_metrics(&f, doc);
	w2s_h5_close(&f);
	if (st != W2S_STATUS_OK) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

enum w2s_status w2s_inspect_file(const char *path, const struct w2s_inspect_opts *opts)
{
	FILE *out = opts->out ? opts->out : stdout;
	json_t *doc = collect(path);
	if (!doc)
		return W2S_STATUS_IO;
	if (opts->json) {
		char *s = json_dumps(doc, JSON_INDENT(2));
		W2S_CHECK(s != NULL);
		fprintf(out, "%s\n", s);
		free(s);
	} else {
		w2s_inspect_print_words(out, doc);
	}
	fflush(out);
	json_decref(doc);
	return W2S_STATUS_OK;
}

int w2s_inspect_main(const struct w2s_comm *c, int argc, char **argv)
{
	const char *file = NULL;
	bool json = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			if (c->rank == 0)
				fputs(help, stdout);
			return 0;
		} else if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			w2s_log_error("unknown option '%s' for w2s inspect (see w2s inspect --help)",
				      argv[i]);
			return w2s_status_exit_code(W2S_STATUS_USAGE);
		} else if (file) {
			w2s_log_error("w2s inspect takes one file; found '%s' after '%s'", argv[i],
				      file);
			return w2s_status_exit_code(W2S_STATUS_USAGE);
		} else {
			file = argv[i];
		}
	}
	if (!file) {
		w2s_log_error("w2s inspect needs a file, e.g. w2s inspect w2s-out/run.h5 "
			      "(see w2s inspect --help)");
		return w2s_status_exit_code(W2S_STATUS_USAGE);
	}
	/* Rank 0 reads and prints; the others wait for its verdict. */
	enum w2s_status st = W2S_STATUS_OK;
	if (c->rank == 0) {
		struct w2s_inspect_opts opts = {.json = json, .out = stdout};
		st = w2s_inspect_file(file, &opts);
	}
	st = (enum w2s_status)w2s_comm_agree(c, (int)st);
	return w2s_status_exit_code(st);
}
