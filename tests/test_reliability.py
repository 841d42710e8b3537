"""Nothing lost, deterministic output, and safe concurrent use (reliability issue, parts 3-4)."""

import concurrent.futures
import errno
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from tests.helpers import smooth_image
from tfrnncomp import atomic
from tfrnncomp.apps.cli import main

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _env():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _folder(root, count, size=(40, 56)):
    root.mkdir()
    for i in range(count):
        Image.fromarray(smooth_image(*size, seed=i)).save(root / f"img{i:02d}.png")
    return root


def _listing(root):
    return sorted(os.path.relpath(os.path.join(d, f), root)
                  for d, _, files in os.walk(root) for f in files)


def test_a_folder_run_killed_with_sigkill_leaves_no_partial_outputs_and_a_rerun_finishes(
        tmp_path, tiny_model_dir, tiny_codec):
    source = _folder(tmp_path / "in", 24)
    target = tmp_path / "out"
    command = [sys.executable, "-m", "tfrnncomp", "compress", str(source), str(target),
               "--model", tiny_model_dir, "--iterations", "4"]
    process = subprocess.Popen(command, env=_env(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if target.is_dir() and any(name.endswith(".trc") for name in os.listdir(target)):
            break
        time.sleep(0.02)
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait()
    written = [n for n in os.listdir(target) if n.endswith(".trc")] if target.is_dir() else []
    assert written, "the run wrote nothing before it was killed"
    for name in written:  # every visible output is complete and decodes
        data = (target / name).read_bytes()
        assert tiny_codec.read(data, strict=True).complete
    assert main(["compress", str(source), str(target), "--model", tiny_model_dir,
                 "--iterations", "4"]) == 0
    assert _listing(target) == sorted(f"img{i:02d}.trc" for i in range(24))


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_a_full_or_read_only_disk_gives_one_clear_error_and_leaves_nothing(
        tmp_path, tiny_model_dir, monkeypatch, capsys, code):
    source = tmp_path / "a.png"
    Image.fromarray(smooth_image(20, 20)).save(source)
    before = source.read_bytes()
    real_replace = os.replace

    real_link = os.link

    def failing(real):
        def fail(src, dst):
            if str(dst).endswith(".trc"):
                raise OSError(code, os.strerror(code))
            return real(src, dst)
        return fail

    monkeypatch.setattr(os, "replace", failing(real_replace))  # the final rename (--force)
    monkeypatch.setattr(os, "link", failing(real_link))  # ... or link (no existing output)
    target = tmp_path / "a.trc"
    assert main(["compress", str(source), str(target), "--model", tiny_model_dir]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"tfrnncomp: error: {target}: cannot write ({os.strerror(code)})"]
    assert sorted(os.listdir(tmp_path)) == ["a.png"]
    assert source.read_bytes() == before


def test_an_output_written_by_another_run_meanwhile_is_not_replaced_without_force(
        tmp_path, tiny_model_dir, monkeypatch, capsys):
    source = tmp_path / "a.png"
    Image.fromarray(smooth_image(20, 20)).save(source)
    target = tmp_path / "a.trc"
    real_temporary = atomic._temporary

    def racing_temporary(path, suffix=None):  # a second run finishes while this one writes
        result = real_temporary(path, suffix)
        target.write_bytes(b"the other run's file")
        return result

    monkeypatch.setattr(atomic, "_temporary", racing_temporary)
    command = ["compress", str(source), str(target), "--model", tiny_model_dir]
    assert main(command) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f"tfrnncomp: error: {target}: exists (written meanwhile by another "
                   "process?); pass --force to overwrite it"]
    assert target.read_bytes() == b"the other run's file"
    assert sorted(os.listdir(tmp_path)) == ["a.png", "a.trc"]
    assert main(command + ["--force"]) == 0
    assert target.read_bytes()[:4] == b"TRNC"


@pytest.mark.parametrize("link_error", [errno.EPERM, errno.EOPNOTSUPP])
def test_without_hard_links_a_no_clobber_write_still_refuses_an_existing_file(
        tmp_path, monkeypatch, link_error):
    def no_links(src, dst):
        raise OSError(link_error, os.strerror(link_error))

    monkeypatch.setattr(os, "link", no_links)
    atomic.atomic_write_bytes(str(tmp_path / "new"), b"new", replace=False)
    assert (tmp_path / "new").read_bytes() == b"new"
    with pytest.raises(FileExistsError):
        atomic.atomic_write_bytes(str(tmp_path / "new"), b"newer", replace=False)
    assert (tmp_path / "new").read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["new"]


def test_a_folder_written_atomically_appears_whole_and_replaces_only_when_asked(tmp_path):
    target = str(tmp_path / "1")
    with atomic.atomic_directory(target) as tmp:
        (tmp_path / tmp / "a").write_bytes(b"first")
        assert not os.path.exists(target)
    assert os.listdir(target) == ["a"]
    with pytest.raises(atomic.OutputError, match="exists; pass --force"):
        with atomic.atomic_directory(target):
            pass
    with pytest.raises(RuntimeError):
        with atomic.atomic_directory(target, replace=True) as tmp:
            (tmp_path / tmp / "b").write_bytes(b"second")
            raise RuntimeError("the writer failed")
    assert os.listdir(tmp_path) == ["1"] and os.listdir(target) == ["a"]
    with atomic.atomic_directory(target, replace=True) as tmp:
        (tmp_path / tmp / "b").write_bytes(b"second")
    assert os.listdir(tmp_path) == ["1"] and os.listdir(target) == ["b"]


def test_stale_temporaries_of_dead_writers_are_removed_and_live_ones_kept(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / f".x.trc{atomic.TMP_MARK}{dead.pid}").write_bytes(b"partial")
    live = tmp_path / f".y.trc{atomic.TMP_MARK}{os.getpid()}"
    live.write_bytes(b"in progress")
    (tmp_path / "keep.trc").write_bytes(b"done")
    assert atomic.remove_stale_temporaries(str(tmp_path)) == 1
    assert sorted(os.listdir(tmp_path)) == sorted([live.name, "keep.trc"])


#: a write that bypasses ``tfrnncomp.atomic``: a rename of its own, a file opened for writing
#: (appending to a log is allowed), or a temporary name made from the output's
_OWN_WRITE = re.compile(r"""os\.(replace|rename)\(|open\(.*,\s*["'](w|wb|w\+|x|xb)["']|["']\.tmp""")


def _own_writes(text):
    return [line.strip() for line in text.splitlines() if _OWN_WRITE.search(line)]


def test_every_output_of_the_package_and_tools_goes_through_the_one_atomic_writer():
    sources = [os.path.join(folder, name)
               for root in ("tfrnncomp", "tools", "export")
               for folder, _, names in os.walk(os.path.join(REPO, root))
               for name in names if name.endswith(".py")]
    assert len(sources) > 100
    offenders = {os.path.relpath(path, REPO): _own_writes(open(path, encoding="utf-8").read())
                 for path in sources if not path.endswith(os.path.join("tfrnncomp", "atomic.py"))}
    assert {path: lines for path, lines in offenders.items() if lines} == {}
    assert _own_writes('tmp = path + ".tmp"\nos.replace(tmp, path)')  # the scan finds them
    assert _own_writes('with open(os.path.join(out, "a.md"), "w", encoding="utf-8") as f:')
    assert not _own_writes('with open(log, "a", encoding="utf-8") as f:')


def test_the_same_image_gives_byte_identical_files_in_separate_processes(tmp_path,
                                                                        tiny_model_dir):
    source = tmp_path / "a.png"
    Image.fromarray(smooth_image(48, 80)).save(source)
    outputs = []
    for run in range(2):
        target = tmp_path / f"a{run}.trc"
        subprocess.run([sys.executable, "-m", "tfrnncomp", "compress", str(source),
                        str(target), "--model", tiny_model_dir, "--iterations", "5"],
                       env=_env(), check=True, stdout=subprocess.DEVNULL)
        outputs.append(target.read_bytes())
    assert outputs[0] == outputs[1]


def test_one_codec_used_from_eight_threads_gives_the_same_bytes_as_serial_use(tiny_codec):
    images = [smooth_image(32 + 8 * (i % 3), 48, seed=i) for i in range(16)]
    serial = [tiny_codec.compress(image, iterations=3) for image in images]
    decoded = [tiny_codec.decompress(data) for data in serial]
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        threaded = list(pool.map(lambda im: tiny_codec.compress(im, iterations=3), images))
        threaded_decoded = list(pool.map(tiny_codec.decompress, threaded))
    assert threaded == serial
    for a, b in zip(decoded, threaded_decoded):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_repeated_calls_do_not_grow_resident_memory(tiny_codec):
    import resource  # noqa: F401  (Linux only: reads /proc below)

    def rss_mb():
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20

    image = smooth_image(64, 64)
    for _ in range(20):  # warm-up: traces, allocator pools
        tiny_codec.decompress(tiny_codec.compress(image, iterations=2))
    start = rss_mb()
    for _ in range(300):
        tiny_codec.decompress(tiny_codec.compress(image, iterations=2))
    assert rss_mb() - start < 30
