"""Every code block of doc/outputs.md runs as written against a real run:
the Python blocks in order in one process, the shell blocks with the built
w2s first on PATH, both from a folder where `w2s-out` is the run."""
import contextlib
import io
import os
import re
import subprocess

import pytest

from conftest import ANALYSIS, SRCDIR, w2s_binary

DOC = os.path.join(SRCDIR, "doc", "outputs.md")


def blocks(lang):
    text = open(DOC).read()
    return re.findall(r"^```" + lang + r"\n(.*?)^```", text, flags=re.S | re.M)


@pytest.fixture
def doc_cwd(run_dir, tmp_path, monkeypatch):
    os.symlink(run_dir, tmp_path / "w2s-out")
    os.symlink(ANALYSIS, tmp_path / "analysis")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_page_has_code_to_run():
    assert len(blocks("python")) >= 8 and len(blocks("sh")) >= 2


def test_python_blocks_run_in_order(doc_cwd, monkeypatch):
    monkeypatch.syspath_prepend(str(doc_cwd))
    out = io.StringIO()
    for i, code in enumerate(blocks("python")):
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(code, f"{DOC} python block {i + 1}", "exec"), {"__name__": "__doc__"})
        except Exception as e:
            pytest.fail(f"python block {i + 1} of doc/outputs.md failed: {e!r}\n{code}")
    printed = out.getvalue()
    # What the blocks claim, seen in what they print.
    assert "agrees with ground truth" in printed
    m = re.search(r"largest difference from the stored logits (\S+)", printed)
    assert m and float(m.group(1)) <= 1e-5, printed
    assert "same parameters as run.h5: True" in printed and "False" not in printed


def test_shell_blocks_run(doc_cwd):
    env = dict(os.environ, PATH=os.path.dirname(w2s_binary()) + os.pathsep + os.environ["PATH"])
    # Side by side: they are independent, and each mostly waits on start-up.
    procs = [subprocess.Popen(["sh", "-ec", code], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for code in blocks("sh")]
    for i, (p, code) in enumerate(zip(procs, blocks("sh"))):
        _, err = p.communicate()
        assert p.returncode == 0, f"shell block {i + 1} of doc/outputs.md: {err}\n{code}"
