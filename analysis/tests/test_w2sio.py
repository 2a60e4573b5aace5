"""w2sio reads a real run as h5py shows it, in plain Python types."""
import json
import os

import h5py
import numpy as np
import pytest

import w2sio


def test_run_tables_are_the_files_tables_with_str_fields(run_dir):
    run = w2sio.load_run(run_dir)
    with h5py.File(os.path.join(run_dir, "run.h5"), "r") as f:
        raw = f["results"][()]
        assert len(run.results) == len(raw)
        for row, want in zip(run.results, raw):
            assert row["model"] == want["model"].decode() and isinstance(row["model"], str)
            assert row["accuracy"] == want["accuracy"] and isinstance(row["accuracy"], float)
            assert row["n"] == want["n"] and isinstance(row["n"], int)
        assert run.config == json.loads(f.attrs["config"])
        assert run.attrs["kind"] == "run" and run.attrs["world_size"] == 1
    assert [p["strong"] for p in run.pgr] == ["strong", "mlp"]
    assert run.result("student.mlp")["role"] == "student"
    assert run.result("student.mlp", "transfer") is None


def test_traces_models_and_splits(run_dir):
    run = w2sio.load_run(run_dir)
    assert set(run.traces) == {"weak.weak", "student.strong", "ceiling.strong", "student.mlp", "ceiling.mlp",
                               "kd.strong"}
    with h5py.File(os.path.join(run_dir, "metrics.h5"), "r") as f:
        for name, cols in run.traces.items():
            for col in ("step", "epoch", "loss", "acc", "lr", "grad_norm", "seconds", "samples_per_s"):
                np.testing.assert_array_equal(cols[col], f[f"trace/{name}/{col}"][()])
    assert run.models["ceiling.mlp"]["widths"] == "16 16 2"
    assert run.models["ceiling.mlp"]["params"] == 16 * 16 + 16 + 16 * 2 + 2
    assert run.data["splits"] == {"weak_train": 1000, "transfer": 1000, "val": 100, "test": 1000,
                                  "pool": 0}
    assert run.missing == [] and set(run.tables) == {"cascade/curve", "cascade/val_curve"}
    assert run.synth == {}
    with h5py.File(os.path.join(run_dir, "run.h5"), "r") as f:
        assert run.tables["cascade/curve"] == w2sio.table(f, "cascade/curve")
        assert run.table_attrs["cascade/curve"]["large"] == f["cascade/curve"].attrs["large"] == "ceiling.mlp"


def test_optional_stages_add_their_tables_and_instances(methods_dir):
    run = w2sio.load_run(methods_dir)
    assert set(run.tables) == {"filter"} and run.synth == {"strong": 500}
    assert [(p["strong"], p["filter"]) for p in run.pgr] == [
        ("strong", "confidence"), ("strong", "none"), ("mlp", "confidence"), ("mlp", "none")]
    assert {"unfiltered.strong", "unfiltered.mlp", "synth_synthetic.strong", "synth_real.strong",
            "synth_mix.strong"} <= set(run.traces) & set(run.models)
    assert all(isinstance(r["step"], int) and r["step"] > 0 for r in run.results)


def test_words_for_the_config(run_dir):
    run = w2sio.load_run(run_dir)
    assert run.title() == "latent task, seed 3: weak -> strong, mlp"
    assert run.model_words("mlp") == "MLP 16 relu on view x"
    assert run.model_words("strong") == "linear on view strong"
    assert run.provenance().startswith("w2s ") and "1 rank," in run.provenance()


def test_a_file_inside_the_folder_names_the_folder(run_dir):
    assert w2sio.load_run(os.path.join(run_dir, "metrics.h5")).dir == run_dir


def test_wrong_files_are_refused_with_their_names(run_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match="no run.h5"):
        w2sio.load_run(str(tmp_path))
    os.symlink(os.path.join(run_dir, "metrics.h5"), tmp_path / "run.h5")
    with pytest.raises(ValueError, match="'metrics' file, not a run file"):
        w2sio.load_run(str(tmp_path))


def test_a_run_over_seeds_points_to_its_seed_folders(tmp_path):
    (tmp_path / "summary.h5").write_bytes(b"")
    (tmp_path / "seed-7").mkdir()
    with pytest.raises(FileNotFoundError, match="run over seeds.*seed-7"):
        w2sio.load_run(str(tmp_path))
