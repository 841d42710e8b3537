#!/usr/bin/env python3
"""Start-up time of the library and the command line, each step in a fresh process.

    python tools/bench/bench_startup.py [--model gru-w25] [--repeats 3] \\
        --out results/speed/startup.json

Every repeat starts new Python processes (round robin, so a busy machine slows every
step alike) and the median over the repeats is reported:

- ``python``: ``python -c pass``, the interpreter alone (wall time);
- ``import``: ``import tfrnncomp`` (lazy: TensorFlow is not imported yet);
- ``codec``: then ``tfrnncomp.Codec(model)``: TensorFlow, Keras and the weights;
- ``first_compress_1x1`` / ``first_compress_64x64``: then the first ``codec.compress``
  of a 1x1 / 64x64 image (traces the encoder's ``tf.function``), and
  ``second_compress_*`` the same call again (no tracing);
- ``api_process_1x1``: that whole 1x1 process, start to exit (wall time);
- ``cli_compress_1x1``: ``python -m tfrnncomp compress a.png a.trc`` of a 1x1 PNG,
  end to end (wall time).

Writes OUT (JSON, with the CPU and versions of :func:`tfrnncomp.eval.schema.environment`)
and OUT with ``.md`` beside it.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

#: the child process of the library steps: ``CHILD import`` or ``CHILD compress MODEL SIZE``
CHILD = r"""
import json, sys, time
started = time.perf_counter()
import tfrnncomp
imported = time.perf_counter()
result = {"import": imported - started}
if sys.argv[1] == "compress":
    import numpy as np
    codec = tfrnncomp.Codec(sys.argv[2] or None)
    loaded = time.perf_counter()
    image = np.full((int(sys.argv[3]),) * 2 + (3,), 128, np.uint8)
    codec.compress(image)
    first = time.perf_counter()
    codec.compress(image)
    result.update(codec=loaded - imported, first_compress=first - loaded,
                  second_compress=time.perf_counter() - first)
print(json.dumps(result))
"""

#: (key, what it measures) in the order of the table
STEPS = (
    ("python", "`python -c pass` (the interpreter alone)"),
    ("import", "`import tfrnncomp` (lazy, no TensorFlow)"),
    ("codec", "`Codec()`: import TensorFlow and Keras, load the model"),
    ("first_compress_1x1", "first `compress` of a 1x1 image (traces the encoder)"),
    ("second_compress_1x1", "second `compress` of a 1x1 image"),
    ("first_compress_64x64", "first `compress` of a 64x64 image (traces the encoder)"),
    ("second_compress_64x64", "second `compress` of a 64x64 image"),
    ("api_process_1x1", "the whole 1x1 library process, start to exit"),
    ("cli_compress_1x1", "`python -m tfrnncomp compress` of a 1x1 PNG, end to end"),
)


def _run(command, folder):
    """``(wall seconds, stdout)`` of a child process in ``folder``; raises if it fails."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [env.get("PYTHONPATH"), ROOT]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # as the command line does
    started = time.perf_counter()
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True,
                          check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    return seconds, done.stdout


def one_repeat(model, folder):
    """One timing of every step, each process new: ``{step: seconds}``."""
    python = sys.executable
    times = {"python": _run([python, "-c", "pass"], folder)[0]}
    times["import"] = json.loads(_run([python, "-c", CHILD, "import"], folder)[1])["import"]
    for size in (1, 64):
        wall, out = _run([python, "-c", CHILD, "compress", model or "", str(size)], folder)
        child = json.loads(out)
        name = f"{size}x{size}"
        times[f"first_compress_{name}"] = child["first_compress"]
        times[f"second_compress_{name}"] = child["second_compress"]
        if size == 1:
            times["codec"], times["api_process_1x1"] = child["codec"], wall
    command = [python, "-m", "tfrnncomp", "compress", "a.png", "a.trc", "--force"]
    times["cli_compress_1x1"] = _run(command + (["--model", model] if model else []),
                                     folder)[0]
    return times


def run(model=None, repeats=3, log=None):
    """Every step ``repeats`` times: ``{step: {"median_s", "runs_s"}}``."""
    import numpy as np
    from PIL import Image

    runs = {key: [] for key, _ in STEPS}
    with tempfile.TemporaryDirectory(prefix="bench_startup.") as folder:
        Image.fromarray(np.full((1, 1, 3), 128, np.uint8)).save(os.path.join(folder, "a.png"))
        for repeat in range(repeats):
            for key, seconds in one_repeat(model, folder).items():
                runs[key].append(seconds)
            if log:
                log(f"repeat {repeat + 1}/{repeats}: CLI compress of 1x1 "
                    f"{runs['cli_compress_1x1'][-1]:.2f} s")
    return {key: {"median_s": statistics.median(values), "runs_s": values}
            for key, values in runs.items()}


def markdown(result):
    lines = ["| step | median s | runs s |", "|---|---|---|"]
    for key, what in STEPS:
        step = result["steps"][key]
        lines.append(f"| {what} | {step['median_s']:.3f} | "
                     f"{', '.join(f'{s:.3f}' for s in step['runs_s'])} |")
    environment = result["environment"]
    lines += ["", f"Model {result['model'] or 'default'}; median of {result['repeats']} "
              f"runs, each step in a fresh process; {environment['cpu']} "
              f"({environment['cpu_count']} logical CPUs), Python {environment['python']}, "
              f"TensorFlow {environment['packages'].get('tensorflow', '?')}."]
    lines += result["notes"]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None,
                        help="zoo name or model directory (default: the shipped default)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of every step")
    parser.add_argument("--note", action="append", default=[],
                        help="a line for the table's notes (e.g. that the machine was busy)")
    parser.add_argument("--out", required=True, help="JSON path; the table goes to .md beside")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    from tfrnncomp.codec import image_io
    from tfrnncomp.eval import schema

    steps = run(args.model, args.repeats, log=lambda m: print(m, file=sys.stderr, flush=True))
    result = {"model": args.model, "repeats": args.repeats, "steps": steps,
              "notes": args.note, "environment": schema.environment()}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    table = markdown(result)
    for target, text in ((args.out, json.dumps(result, indent=2) + "\n"),
                         (os.path.splitext(args.out)[0] + ".md", table)):
        image_io.atomic_write_bytes(target, text.encode("utf-8"))
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
