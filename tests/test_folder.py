"""Batch compression of folders: tf.data pipeline, jobs, verified resume, summary, Ctrl-C."""

import fcntl
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
import time

from PIL import Image

from tests.helpers import smooth_image
from tfrnncomp.apps.cli import main


def _tree(root, count):
    for i in range(count):
        sub = root / ("a" if i % 2 else "b")
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(smooth_image(30 + i, 40, seed=i)).save(sub / f"{i}.png")


def _outputs(root):
    return {os.path.relpath(os.path.join(d, f), root): open(os.path.join(d, f), "rb").read()
            for d, _, files in os.walk(root) for f in files}


def test_parallel_jobs_write_the_same_files_as_one_job(tmp_path, tiny_model_dir):
    _tree(tmp_path / "in", 6)
    for jobs in (1, 3):
        assert main(["compress", str(tmp_path / "in"), str(tmp_path / f"out{jobs}"),
                     "--model", tiny_model_dir, "--iterations", "2", "--jobs", str(jobs)]) == 0
    one, three = _outputs(tmp_path / "out1"), _outputs(tmp_path / "out3")
    assert len(one) == 6 and one == three


def test_a_rerun_skips_verified_outputs_and_redoes_damaged_ones(tmp_path, tiny_model_dir,
                                                                 capsys):
    _tree(tmp_path / "in", 4)
    args = ["compress", str(tmp_path / "in"), str(tmp_path / "out"), "--model", tiny_model_dir,
            "--iterations", "2"]
    assert main(args) == 0
    good = _outputs(tmp_path / "out")
    damaged = tmp_path / "out" / "a" / "1.trc"
    damaged.write_bytes(damaged.read_bytes()[:-3])  # a cut file does not verify
    capsys.readouterr()
    assert main(args) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("1 written, 3 skipped (existing), 0 failed;")
    assert _outputs(tmp_path / "out") == good


def test_the_summary_reports_bytes_bpp_and_throughput(tmp_path, tiny_model_dir, capsys):
    _tree(tmp_path / "in", 2)
    assert main(["compress", str(tmp_path / "in"), str(tmp_path / "out"), "--model",
                 tiny_model_dir, "--iterations", "1", "--entropy", "raw"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert "2 written" in line and "MB in" in line and "MB out" in line
    assert "bpp" in line and "images/s" in line and "MP/s" in line


# -- hostile names and special files ----------------------------------------------------------
def _cli(*args, timeout=240):
    """The installed command line in a subprocess, killed after ``timeout`` seconds."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = repo + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "tfrnncomp", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_a_fifo_in_the_folder_is_skipped_with_a_message_and_the_run_finishes(
        tmp_path, tiny_model_dir):
    _tree(tmp_path / "in", 1)  # in/b/0.png
    os.mkfifo(tmp_path / "in" / "pipe.png")  # reading it would wait for a writer forever
    result = _cli("compress", tmp_path / "in", tmp_path / "out", "--model", tiny_model_dir,
                  "--iterations", "1")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"tfrnncomp: skipped: {tmp_path / 'in' / 'pipe.png'}: is a FIFO, not a regular file"]
    assert result.stdout.startswith("1 written, 0 skipped (existing), 0 failed;")
    os.mkfifo(tmp_path / "out" / "pipe.trc")
    result = _cli("decompress", tmp_path / "out", tmp_path / "png", "--model", tiny_model_dir)
    assert result.returncode == 0, result.stderr
    assert "pipe.trc: is a FIFO, not a regular file" in result.stderr
    assert result.stdout.strip() == "1 written, 0 skipped (existing), 0 failed"
    assert sorted(_outputs(tmp_path / "png")) == ["b/0.png"]


def test_a_file_name_that_is_not_utf8_is_a_failure_and_the_other_files_are_written(
        tmp_path, tiny_model_dir, capsys):
    _tree(tmp_path / "in", 1)
    image = (tmp_path / "in" / "b" / "0.png").read_bytes()
    with open(os.path.join(os.fsencode(tmp_path / "in"), b"caf\xe9.png"), "wb") as handle:
        handle.write(image)  # a Latin-1 name
    code = main(["compress", str(tmp_path / "in"), str(tmp_path / "out"), "--model",
                 tiny_model_dir, "--iterations", "1"])
    out, err = capsys.readouterr()
    assert code == 1
    assert out.startswith("1 written, 0 skipped (existing), 1 failed;")
    assert err.splitlines() == [f"tfrnncomp: failed: '{tmp_path / 'in'}/caf\\xe9.png': file name "
                                "is not valid UTF-8; rename it"]
    assert sorted(_outputs(tmp_path / "out")) == ["b/0.trc"]


def test_a_failure_line_names_the_file_once_and_escapes_a_newline_in_its_name(
        tmp_path, tiny_model_dir, capsys):
    _tree(tmp_path / "in", 1)
    (tmp_path / "in" / "bad\nname.png").write_bytes(b"not an image")
    code = main(["compress", str(tmp_path / "in"), str(tmp_path / "out"), "--model",
                 tiny_model_dir, "--iterations", "1"])
    out, err = capsys.readouterr()
    assert code == 1 and out.startswith("1 written, 0 skipped (existing), 1 failed;")
    assert err.splitlines() == [f"tfrnncomp: failed: '{tmp_path / 'in'}/bad\\nname.png': cannot "
                                "read image (not a known image format)"]
    (tmp_path / "out" / "bad\nname.trc").write_bytes(b"not a trc file")
    code = main(["decompress", str(tmp_path / "out"), str(tmp_path / "png"), "--model",
                 tiny_model_dir])
    out, err = capsys.readouterr()
    assert code == 1 and out.strip() == "1 written, 0 skipped (existing), 1 failed"
    line, = err.splitlines()
    assert line.startswith(f"tfrnncomp: failed: '{tmp_path / 'out'}/bad\\nname.trc': ")
    assert line.count("name.trc") == 1


# -- Ctrl-C ------------------------------------------------------------------------------------
def _slow_tree(root, count=8):
    """``count`` images of different sizes, each some tenths of a second to code."""
    root.mkdir(parents=True)
    for i in range(count):
        Image.fromarray(smooth_image(256 + 16 * i, 320, seed=i)).save(root / f"{i}.png")


class _Terminal:
    """A pseudo-terminal for a child's stderr (so it draws its progress bar), read by a
    thread into ``text``."""

    def __init__(self):
        self.master, self.slave = pty.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
        self.chunks = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while True:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:  # EIO: every writer closed it
                return
            if not chunk:
                return
            self.chunks.append(chunk)

    def text(self):
        self.reader.join(30)
        os.close(self.master)
        return b"".join(self.chunks).decode("utf-8", "replace")


def _default_sigint():
    """Give the child SIGINT's default action, as a terminal does: a suite started in the
    background by a shell (``pytest &``) ignores SIGINT, and its children would inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupt_once(command, source, target, tiny_model_dir, *flags):
    """Run the CLI, send SIGINT once the first output exists; ``(returncode, stdout,
    stderr as the terminal got it, seconds from SIGINT to exit)``."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=repo)
    terminal = _Terminal()
    child = subprocess.Popen(
        [sys.executable, "-m", "tfrnncomp", command, str(source), str(target), "--model",
         tiny_model_dir, *flags], env=env, stdout=subprocess.PIPE, stderr=terminal.slave,
        text=True, preexec_fn=_default_sigint)
    os.close(terminal.slave)
    try:
        deadline = time.monotonic() + 240
        while not (target.is_dir() and any(name.endswith((".trc", ".png")) for _, _, names
                                            in os.walk(target) for name in names)):
            assert child.poll() is None, "the run ended before its first output was seen"
            assert time.monotonic() < deadline, "no output after 240 s"
            time.sleep(0.02)
        child.send_signal(signal.SIGINT)
        sent = time.monotonic()
        stdout, _ = child.communicate(timeout=120)
        return child.returncode, stdout, terminal.text(), time.monotonic() - sent
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()


def _files(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, files in os.walk(root)
                  for f in files)


def _bar_count(terminal_text):
    """The count of files the progress bar showed last (``compress: 38%|... | 3/8``)."""
    counts = re.findall(r"\| *(\d+)/(\d+) \[", terminal_text)
    assert counts, terminal_text
    return int(counts[-1][0])


def test_ctrl_c_stops_at_once_prints_the_summary_and_a_rerun_writes_exactly_the_rest(
        tmp_path, tiny_model_dir):
    _slow_tree(tmp_path / "in")
    code, out, err, seconds = _interrupt_once("compress", tmp_path / "in", tmp_path / "out",
                                              tiny_model_dir, "--iterations", "16", "--jobs",
                                              "2")
    assert code == 130, err
    assert seconds < 10, f"{seconds:.1f} s from SIGINT to exit"
    assert "tfrnncomp: interrupted" in err
    match = re.match(r"(\d+) written, 0 skipped \(existing\), 0 failed, (\d+) interrupted; ",
                     out.splitlines()[-1])
    assert match, out
    written, left = map(int, match.groups())
    assert written >= 1 and left >= 1 and written + left == 8
    first = _outputs(tmp_path / "out")
    assert len(first) == written and set(first) <= {f"{i}.trc" for i in range(8)}  # no temporary
    assert _bar_count(err) == written  # the bar counted every file written, no more
    result = _cli("compress", tmp_path / "in", tmp_path / "out", "--model", tiny_model_dir,
                  "--iterations", "16", "--jobs", "2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{left} written, {written} skipped (existing), 0 failed;")
    second = _outputs(tmp_path / "out")
    assert sorted(second) == [f"{i}.trc" for i in range(8)]
    assert {name: second[name] for name in first} == first


def test_ctrl_c_in_folder_decompress_prints_the_summary_and_leaves_only_whole_images(
        tmp_path, tiny_model_dir):
    _slow_tree(tmp_path / "in")
    assert main(["compress", str(tmp_path / "in"), str(tmp_path / "trc"), "--model",
                 tiny_model_dir, "--iterations", "16", "--jobs", "2"]) == 0
    code, out, err, seconds = _interrupt_once("decompress", tmp_path / "trc", tmp_path / "png",
                                              tiny_model_dir)
    assert code == 130 and seconds < 10, (code, seconds, err)
    match = re.fullmatch(r"(\d+) written, 0 skipped \(existing\), 0 failed, (\d+) "
                         r"interrupted", out.strip())
    assert match, out
    written, left = map(int, match.groups())
    assert written + left == 8 and _bar_count(err) == written
    names = _files(tmp_path / "png")
    assert len(names) == written and all(name.endswith(".png") for name in names)
    for name in names:
        Image.open(tmp_path / "png" / name).load()  # whole images
    result = _cli("decompress", tmp_path / "trc", tmp_path / "png", "--model", tiny_model_dir)
    assert result.stdout.strip() == f"{left} written, {written} skipped (existing), 0 failed"
    assert len(_files(tmp_path / "png")) == 8


def test_the_progress_bar_ends_at_the_count_of_files_written_with_two_jobs(
        tmp_path, tiny_model_dir):
    _tree(tmp_path / "in", 6)
    (tmp_path / "in" / "broken.png").write_bytes(b"not an image")
    terminal = _Terminal()
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    child = subprocess.run(
        [sys.executable, "-m", "tfrnncomp", "compress", str(tmp_path / "in"),
         str(tmp_path / "out"), "--model", tiny_model_dir, "--iterations", "2", "--jobs", "2"],
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=repo), text=True,
        stdout=subprocess.PIPE, stderr=terminal.slave, timeout=240)
    os.close(terminal.slave)
    err = terminal.text()
    assert child.returncode == 1, err
    assert child.stdout.startswith("6 written, 0 skipped (existing), 1 failed;")
    assert _bar_count(err) == 7 == len(_files(tmp_path / "out")) + 1  # 6 files, 1 failure
