"""Time the public PyTorch implementation of the paper-size model on this machine.

The speed targets quote 42 s encode / 29 s decode for one Kodak image at 8 iterations
with 2 threads for github.com/1zb/pytorch-image-comp-rnn (Toderici et al. 2017,
Figure 1, ConvLSTM, additive reconstruction).  This tool measures that on the
same hardware as ``tools/bench/bench_speed.py --paper-size``.  It imports
``network.py`` from a checkout of that repository (``--repo``; nothing of it is
copied here), builds EncoderCell, Binarizer and DecoderCell with random weights
(speed does not depend on them) and times, under ``torch.no_grad()``:

* encode: their ``encoder.py`` loop: every iteration runs encoder, binarizer
  and decoder (the last iteration's decoder too) and subtracts the output from
  the residual; codes are copied to numpy as theirs are (bit packing and file
  writing are left out);
* decode: their ``decoder.py`` loop: the decoder on each iteration's codes,
  adding its output to the image (the PNG they write per iteration is left out).

One untimed warm-up pass, then the median of ``--repeats`` runs of wall and
process CPU seconds.  Run it in its own venv with PyTorch (not the project's), with
CHECKOUT a checkout of the reference repository:

    TORCH_VENV/bin/python tools/bench/bench_pytorch_reference.py \\
        --repo CHECKOUT [--image kodim01.png] [--threads 2] \\
        [--iterations 8] [--repeats 3] [--out results/speed/pytorch_reference.json]
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))

from tfrnncomp.atomic import atomic_write_bytes  # noqa: E402  (standard library only)

DEFAULT_IMAGE = os.path.join(HERE, "..", "..", "..", "shared", "data", "kodak", "kodim01.png")
#: what the reference took on the machine it was first reported on, one Kodak image, 8 iterations, 2 threads
ISSUE_REPORTED_S = {"encode_s": 42.0, "decode_s": 29.0}
#: (channels, downscale) of their RNN states, as in their encoder.py / decoder.py
ENCODER_STATES = ((256, 4), (512, 8), (512, 16))
DECODER_STATES = ((512, 16), (512, 8), (256, 4), (128, 2))


def _fail(message):
    print(f"bench_pytorch_reference: error: {message}", file=sys.stderr)
    sys.exit(2)


def _states(torch, shape, layers):
    """Zero (h, c) LSTM states, as their scripts make them: (channels, downscale) per layer."""
    n, _, h, w = shape
    return [(torch.zeros(n, c, h // s, w // s), torch.zeros(n, c, h // s, w // s))
            for c, s in layers]


def _encode(torch, nets, image, iterations):
    """encoder.py's loop: encoder, binarizer and decoder every iteration, residual updated."""
    encoder, binarizer, decoder = nets
    e1, e2, e3 = _states(torch, image.shape, ENCODER_STATES)
    d1, d2, d3, d4 = _states(torch, image.shape, DECODER_STATES)
    codes, res = [], image - 0.5
    for _ in range(iterations):
        encoded, e1, e2, e3 = encoder(res, e1, e2, e3)
        code = binarizer(encoded)
        output, d1, d2, d3, d4 = decoder(code, d1, d2, d3, d4)
        res = res - output
        codes.append(code.data.cpu().numpy())
    return codes


def _decode(torch, decoder, codes):
    """decoder.py's loop: the decoder on each iteration's codes, outputs added up."""
    n, _, h, w = codes[0].shape
    shape = (n, 3, h * 16, w * 16)
    d1, d2, d3, d4 = _states(torch, shape, DECODER_STATES)
    image = torch.zeros(shape) + 0.5
    for code in codes:
        output, d1, d2, d3, d4 = decoder(code, d1, d2, d3, d4)
        image = image + output.data.cpu()
    return image


def _parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", required=True, help="checkout of 1zb/pytorch-image-comp-rnn")
    parser.add_argument("--commit", help="commit of that checkout, recorded in the JSON")
    parser.add_argument("--image", default=DEFAULT_IMAGE, help="RGB image, sides multiples of 32")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", help="also write the JSON here (atomically)")
    return parser


def _time_stages(torch, nets, image, iterations, repeats):
    """Wall and CPU seconds of each repeat of the encode and decode loops, after a warm-up."""
    codes = [torch.from_numpy(c) for c in _encode(torch, nets, image, iterations)]
    _decode(torch, nets[2], codes)  # warm-up pass done
    stages = {"encode": lambda: _encode(torch, nets, image, iterations),
              "decode": lambda: _decode(torch, nets[2], codes)}
    runs = {f"{stage}_{kind}_s": [] for stage in stages for kind in ("wall", "cpu")}
    for _ in range(repeats):
        for stage, run in stages.items():
            wall, cpu = time.perf_counter(), time.process_time()
            run()
            runs[f"{stage}_wall_s"].append(time.perf_counter() - wall)
            runs[f"{stage}_cpu_s"].append(time.process_time() - cpu)
    return runs


def main(argv=None):
    args = _parser().parse_args(argv)

    if not os.path.isfile(args.image):
        _fail(f"image not found: {args.image}")
    if not os.path.isfile(os.path.join(args.repo, "network.py")):
        _fail(f"no network.py in --repo {args.repo} (a checkout of 1zb/pytorch-image-comp-rnn)")
    if args.threads < 1 or args.iterations < 1 or args.repeats < 1:
        _fail("--threads, --iterations and --repeats must be at least 1")
    sys.path.insert(0, os.path.abspath(args.repo))
    import numpy as np
    import torch
    from PIL import Image

    import network  # the reference implementation's, from --repo

    pixels = np.asarray(Image.open(args.image).convert("RGB"), dtype=np.float32) / 255.0
    height, width = pixels.shape[:2]
    if height % 32 or width % 32:  # their encoder.py asserts the same
        _fail(f"image sides must be multiples of 32, got {width}x{height}: {args.image}")
    image = torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)[None]))

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    nets = (network.EncoderCell().eval(), network.Binarizer().eval(), network.DecoderCell().eval())
    with torch.no_grad():
        runs = _time_stages(torch, nets, image, args.iterations, args.repeats)

    result = {
        "tool": "bench_pytorch_reference", "reference": "github.com/1zb/pytorch-image-comp-rnn",
        "reference_commit": args.commit, "image": os.path.basename(args.image),
        "width": width, "height": height, "iterations": args.iterations, "repeats": args.repeats,
        "threads": torch.get_num_threads(), "torch": torch.__version__,
        "python": platform.python_version(), "machine": platform.machine(),
        "weights": "random (timing only)",
        "encode_loop": "encoder + binarizer + decoder every iteration, as their encoder.py",
        **{key: statistics.median(values) for key, values in runs.items()},
        "runs": runs, "issue_reported_s": ISSUE_REPORTED_S,
    }
    line = json.dumps(result, sort_keys=True)
    print(line)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        atomic_write_bytes(args.out, (line + "\n").encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
