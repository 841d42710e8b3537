"""Where the codec's time goes: a per-stage breakdown of one Kodak image.

    python tools/bench/profile_codec.py [--kodak DIR] [--image kodim01.png] [--iterations 8]
        [--model gru-w25] [--repeats 3] [--settings] --out results/speed

Writes OUT/profile.json and OUT/profile.md.  Each stage of Toderici et al.'s
iteration (Figure 1: E-Conv, E-RNN#1-3, binarizer, D-Conv, D-RNN#1-4 with their
depth-to-space, D-Conv#2, reconstruction) runs as its own ``tf.function`` on
tensors of the image's padded shape (median of ``--repeats`` calls, after a
warm-up); each RNN is split into its input convolution, hidden convolution and
gate arithmetic.  Around them: PNG I/O, padding, the whole-graph encode and
decode (their difference to the sum of the stages is graph and host-loop
overhead), the NumPy host loop over step functions (one host round trip per
iteration), and range coding.  ``--settings`` also times 8-iteration encode and
decode in fresh processes under other thread / oneDNN / XLA settings.
Times are wall-clock on whatever load the machine has: compare rows of one run.
"""

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, ROOT)  # this checkout's tfrnncomp
DEFAULT_KODAK = os.path.join(ROOT, "..", "shared", "data", "kodak")
#: CPU seconds of the last _median_seconds calls (a loaded machine stretches wall time)
CPU_TIMES = []
#: process-level settings compared by --settings (name -> environment / codec options)
SETTINGS = {
    "default (TF chooses threads)": {},
    "intra 2, inter 1": {"PROFILE_THREADS": "2,1"},
    "intra 1, inter 1": {"PROFILE_THREADS": "1,1"},
    "oneDNN off": {"TF_ENABLE_ONEDNN_OPTS": "0"},
    "XLA jit_compile": {"PROFILE_XLA": "1"},
}


def _median_seconds(fn, repeats):
    """Median wall-clock seconds of ``fn()``; the median process CPU seconds go to CPU_TIMES."""
    fn()  # warm-up: trace and allocate
    times, cpu = [], []
    for _ in range(repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu_start)
    CPU_TIMES.append(statistics.median(cpu))
    return statistics.median(times)


def _conv_macs(layer, inputs):
    """Multiply-accumulates of one Conv2D layer on ``inputs``."""
    import numpy as np

    out = layer(inputs)
    return int(out.shape[1] * out.shape[2] * np.prod(layer.kernel.shape))


def _stage_rows(model, height, width, iterations, repeats, time_it=True):
    """Seconds (and multiply-accumulates) of every stage, per iteration and per image."""
    import tensorflow as tf

    def timed(name, part, fn, *args, count=iterations, macs=0):
        if not time_it:
            rows.append({"part": part, "stage": name, "macs": macs})
            return
        compiled = tf.function(fn, autograph=False)

        def run():
            out = compiled(*args)
            tf.nest.map_structure(lambda t: t.numpy(), out)

        seconds = _median_seconds(run, repeats)
        rows.append({"part": part, "stage": name, "per_iteration_s": seconds,
                     "total_s": seconds * count, "cpu_per_iteration_s": CPU_TIMES[-1],
                     "macs": macs})

    rows = []
    x = tf.random.uniform((1, height, width, 3), -0.5, 0.5)
    timed("encoder input (residual)", "encoder",
          lambda a, b: model.encoder_input(a, b, model.initial_gain(a)), x, x * 0.5)
    y = model.encoder_conv(x)
    timed("E-Conv 3x3/2", "encoder", model.encoder_conv, x,
          macs=_conv_macs(model.encoder_conv, x))
    for i, cell in enumerate(model.encoder_rnns):
        states = cell.initial_state(y)
        _cell_rows(timed, f"E-RNN#{i + 1}", "encoder", cell, y, states)
        y, _ = cell(y, states)
    timed("binarizer", "encoder", lambda a: model.binarizer(a, training=False), y,
          macs=_conv_macs(model.binarizer.projection, y))
    block = model.config.block_size
    codes = tf.sign(tf.random.uniform((1, height // block, width // block, model.config.bits),
                                      -1, 1))
    # codes-only encoding skips the decoder of the last iteration
    dec_count = iterations
    y = model.decoder_conv(codes)
    timed("D-Conv 1x1", "decoder", model.decoder_conv, codes, count=dec_count,
          macs=_conv_macs(model.decoder_conv, codes))
    states = model.initial_decoder_state(codes)
    for i, (cell, cell_states) in enumerate(zip(model.decoder_rnns, states)):
        _cell_rows(timed, f"D-RNN#{i + 1}", "decoder", cell, y, cell_states, dec_count)
        y, _ = cell(y, cell_states)
        timed(f"depth-to-space #{i + 1}", "decoder", model.depth_to_space, y, count=dec_count)
        y = model.depth_to_space(y)
    timed("D-Conv#2 1x1 + tanh", "decoder",
          lambda a: tf.tanh(model.output_conv(a)) * 0.5, y, count=dec_count,
          macs=_conv_macs(model.output_conv, y))
    out = tf.tanh(model.output_conv(y)) * 0.5
    timed("reconstruction", "decoder",
          lambda a, b: model.reconstruct(a, b, model.initial_gain(b))[0], out, x,
          count=dec_count)
    return rows


def _cell_rows(timed, name, part, cell, inputs, states, count=None):
    """An RNN's input convolution, hidden convolution and gate arithmetic, timed apart."""
    kwargs = {} if count is None else {"count": count}
    macs_in, macs_hidden = _conv_macs(cell.input_conv, inputs), _conv_macs(cell.hidden_conv,
                                                                           states[0])
    timed(f"{name} input conv {cell.kernel_size}x{cell.kernel_size}/{cell.strides}", part,
          cell.input_conv, inputs, macs=macs_in, **kwargs)
    timed(f"{name} hidden conv {cell.hidden_kernel_size}x{cell.hidden_kernel_size}", part,
          cell.hidden_conv, states[0], macs=macs_hidden, **kwargs)
    timed(f"{name} whole cell", part, lambda a, *s: cell(a, tuple(s))[0], inputs, *states,
          macs=macs_in + macs_hidden, **kwargs)


def profile(kodak, image_name, model_name, iterations, repeats):
    import numpy as np
    import tensorflow as tf
    from PIL import Image

    import tfrnncomp
    from tfrnncomp.runtime import steps
    from tfrnncomp.runtime.graph import pad_image

    path = os.path.join(kodak, image_name)
    with open(path, "rb") as handle:
        png = handle.read()
    rows = []

    def add(part, stage, seconds):
        rows.append({"part": part, "stage": stage, "per_iteration_s": None, "total_s": seconds,
                     "cpu_s": CPU_TIMES[-1]})

    add("I/O", "PNG decode (Pillow)", _median_seconds(
        lambda: np.asarray(Image.open(io.BytesIO(png)).convert("RGB")), repeats))
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    add("I/O", "PNG encode (Pillow)", _median_seconds(
        lambda: Image.fromarray(image).save(io.BytesIO(), format="PNG"), repeats))
    codec = tfrnncomp.Codec(model_name)
    multiple, block = codec.config.pad_multiple, codec.config.block_size
    add("host", "edge padding (tf)", _median_seconds(
        lambda: tf.function(pad_image)(image, multiple).numpy(), repeats))
    f, it = codec.functions, np.int32(iterations)
    h, w = np.int32(image.shape[0]), np.int32(image.shape[1])
    codes = f.encode_codes(image, it).numpy()
    add("graph", f"encode codes only, {iterations} it (while loop)",
        _median_seconds(lambda: f.encode_codes(image, it).numpy(), repeats))
    add("graph", f"encode with reconstruction, {iterations} it",
        _median_seconds(lambda: f.encode(image, it)["codes"].numpy(), repeats))
    add("graph", f"decode, {iterations} it (while loop)",
        _median_seconds(lambda: f.decode(codes, h, w).numpy(), repeats))
    tf_steps = steps.TFSteps(codec.model)
    add("host loop", f"encode, {iterations} step calls (NumPy round trips)", _median_seconds(
        lambda: steps.run_steps(tf_steps.encoder, tf_steps.decoder, image, iterations),
        repeats))
    add("host loop", f"decode, {iterations} step calls", _median_seconds(
        lambda: steps.run_decoder_steps(tf_steps.decoder, codes, image.shape[0],
                                        image.shape[1], block), repeats))
    chunks = codec.encode_chunks(codes, "context")
    add("entropy", f"context range encode, {iterations} it",
        _median_seconds(lambda: codec.encode_chunks(codes, "context"), repeats))
    header = codec.header_for(image.shape[0], image.shape[1], 3, iterations, "context")
    add("entropy", f"context range decode, {iterations} it",
        _median_seconds(lambda: codec.decode_chunks(header, chunks), repeats))
    ph, pw = steps.padded_size(*image.shape[:2], multiple)
    stages = _stage_rows(codec.model, ph, pw, iterations, repeats)
    return {"image": image_name, "model": codec.model_id, "iterations": iterations,
            "padded": [ph, pw], "rows": rows, "stages": stages,
            "threads": {"intra": tf.config.threading.get_intra_op_parallelism_threads(),
                        "inter": tf.config.threading.get_inter_op_parallelism_threads()},
            "cpu_count": os.cpu_count(), "load_average": os.getloadavg()}


def settings_child(kodak, image_name, model_name, iterations, repeats):
    """8-iteration encode/decode seconds under the process's environment settings."""
    import numpy as np
    import tensorflow as tf
    from PIL import Image

    import tfrnncomp

    if os.environ.get("PROFILE_THREADS"):
        intra, inter = (int(n) for n in os.environ["PROFILE_THREADS"].split(","))
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    image = np.asarray(Image.open(os.path.join(kodak, image_name)).convert("RGB"))
    codec = tfrnncomp.Codec(model_name)
    f, it = codec.functions, np.int32(iterations)
    if os.environ.get("PROFILE_XLA"):
        f.encode_codes = tf.function(f._encode_codes, jit_compile=True)
        f.decode = tf.function(f._decode, jit_compile=True)
    h, w = np.int32(image.shape[0]), np.int32(image.shape[1])
    codes = f.encode_codes(image, it).numpy()
    result = {"encode_s": _median_seconds(lambda: f.encode_codes(image, it).numpy(), repeats),
              "decode_s": _median_seconds(lambda: f.decode(codes, h, w).numpy(), repeats)}
    result["encode_cpu_s"], result["decode_cpu_s"] = CPU_TIMES[-2:]
    return result


def _settings(args):
    results = {}
    for name, env in SETTINGS.items():
        command = [sys.executable, os.path.abspath(__file__), "--child", "--kodak", args.kodak,
                   "--image", args.image, "--iterations", str(args.iterations),
                   "--repeats", str(args.repeats), "--out", "-"]
        if args.model:
            command += ["--model", args.model]
        full_env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **env)
        out = subprocess.run(command, check=True, capture_output=True, text=True, env=full_env,
                             cwd=ROOT).stdout
        results[name] = json.loads(out.strip().splitlines()[-1])
        print(f"{name}: {results[name]}", file=sys.stderr)
    return results


def _markdown(result):
    its = result["iterations"]
    lines = [f"Profile of `{result['image']}` ({result['padded'][0]}x{result['padded'][1]} "
             f"padded), model `{result['model']}`, {its} iterations; TF threads intra "
             f"{result['threads']['intra']} / inter {result['threads']['inter']} (0 = TF's "
             f"choice); load average at start {result['load_average'][0]:.1f} on "
             f"{result['cpu_count']} cores.", "",
             "| part | stage | seconds | CPU seconds |", "|---|---|---|---|"]
    for r in result["rows"]:
        lines.append(f"| {r['part']} | {r['stage']} | {r['total_s']:.3f} | {r['cpu_s']:.3f} |")
    lines += ["", f"Stages of one iteration (each its own tf.function; x {its} for the whole "
              "image; the decoder runs at every iteration of decoding, and of encoding but the "
              "last; shares of CPU seconds; GFLOP/s = 2 x multiply-accumulates per CPU second):",
              "",
              "| part | stage | s / iteration | s / image | CPU s / iteration | share of part | "
              "GMAC / iteration | GFLOP/s per CPU s |", "|---|---|---|---|---|---|---|---|"]
    stages = result["stages"]
    for part in ("encoder", "decoder"):
        # the "whole cell" rows and the per-op rows overlap: shares use stage-level rows
        level = [r for r in stages if r["part"] == part and ("whole" in r["stage"]
                 or "RNN" not in r["stage"])]
        total = sum(r["per_iteration_s"] for r in level)
        cpu = sum(r["cpu_per_iteration_s"] for r in level)
        for r in stages:
            if r["part"] != part:
                continue
            share = (f"{100 * r['cpu_per_iteration_s'] / cpu:.0f} %" if r in level else "")
            macs = r.get("macs") or 0
            rate = f"{2 * macs / r['cpu_per_iteration_s'] / 1e9:.0f}" if macs else ""
            lines.append(f"| {part} | {r['stage']} | {r['per_iteration_s']:.4f} | "
                         f"{r['total_s']:.3f} | {r['cpu_per_iteration_s']:.4f} | {share} | "
                         f"{macs / 1e9:.3f} | {rate} |")
        macs = sum(r.get("macs") or 0 for r in level)
        lines.append(f"| {part} | **sum of stages** | {total:.4f} | {total * its:.3f} | "
                     f"{cpu:.4f} | | {macs / 1e9:.3f} | {2 * macs / cpu / 1e9:.0f} |")
    if result.get("settings"):
        lines += ["", f"Process settings ({its} iterations, graph mode, fresh process each):", "",
                  "| setting | encode s | decode s | encode CPU s | decode CPU s |",
                  "|---|---|---|---|---|"]
        for name, r in result["settings"].items():
            lines.append(f"| {name} | {r['encode_s']:.3f} | {r['decode_s']:.3f} | "
                         f"{r['encode_cpu_s']:.3f} | {r['decode_cpu_s']:.3f} |")
    return "\n".join(lines) + "\n"


def _add_macs(args):
    """Multiply-accumulates per stage (no timing) merged into an earlier profile.json."""
    from tfrnncomp.model import zoo

    with open(os.path.join(args.out, "profile.json"), encoding="utf-8") as handle:
        result = json.load(handle)
    height, width = result["padded"]
    counted = _stage_rows(zoo.load_model(args.model), height, width, result["iterations"], 0,
                          time_it=False)
    macs = {(r["part"], r["stage"]): r["macs"] for r in counted}
    for row in result["stages"]:
        row["macs"] = macs[(row["part"], row["stage"])]
    _write(args.out, result)
    print(_markdown(result))
    return 0


def _write(out, result):
    from tfrnncomp.atomic import atomic_write_bytes

    os.makedirs(out, exist_ok=True)
    atomic_write_bytes(os.path.join(out, "profile.json"), json.dumps(result, indent=2).encode())
    atomic_write_bytes(os.path.join(out, "profile.md"), _markdown(result).encode())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kodak", default=DEFAULT_KODAK)
    parser.add_argument("--image", default="kodim01.png")
    parser.add_argument("--model", default=None, help="zoo name or model directory")
    parser.add_argument("--iterations", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--settings", action="store_true",
                        help="also compare thread / oneDNN / XLA settings in fresh processes")
    parser.add_argument("--add-macs", action="store_true",
                        help="only add multiply-accumulate counts to an existing OUT/profile.json")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if not os.path.isfile(os.path.join(args.kodak, args.image)):
        print(f"profile_codec: no {args.image} in {args.kodak}; pass --kodak", file=sys.stderr)
        return 2
    if args.child:
        print(json.dumps(settings_child(args.kodak, args.image, args.model, args.iterations,
                                        args.repeats)))
        return 0
    if args.add_macs:
        return _add_macs(args)
    result = profile(args.kodak, args.image, args.model, args.iterations, args.repeats)
    if args.settings:
        result["settings"] = _settings(args)
    _write(args.out, result)
    print(_markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
