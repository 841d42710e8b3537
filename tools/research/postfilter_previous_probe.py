#!/usr/bin/env python3
"""Does the post-filter gain from seeing the image of the iteration before?  A probe.

    python tools/research/postfilter_previous_probe.py --work DIR [--model gru-w25]
        [--minutes 20] [--learning-rate 3e-4] [--patch-seed 3] [--arms control previous]
        [--out results/postfilter/previous-probe.md]

The shipped post-filter sees only the image after ``k`` iterations (and ``k``).  Its gains
stopped growing with training time, receptive field and loss, so they look bounded by what its
input holds.  A decoder also has the image after ``k - 1`` iterations for free (with additive
reconstruction the two differ by the last iteration's output); this probe measures whether it
helps before the codec's decode path is changed for it.

Both arms start from the model's shipped filter and train the same way (the coded crops of
``tools/training/train_postfilter.py``, read from its cache in ``--work``: run it once with
``--minutes 0`` to make it; the same patches, loss ``0.16 L1 + 0.84 (1 - MS-SSIM)`` on 192-pixel
patches, batch 4, Adam with a cosine decay over ``--minutes`` of CPU time):

- ``control``: the filter as it is;
- ``previous``: the filter's first convolution also reads the image after ``k - 1``
  iterations (mid-grey before the first), through kernels that start at zero, so it starts
  from the shipped filter's output.

The table gives, on the cache's whole validation images (never trained on; not Kodak), mean
PSNR and MS-SSIM after each iteration unfiltered and for each arm.
"""

import argparse
import json
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "tools", "training"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

ARMS = ("control", "previous")
SAMPLING = {"late": (None, 0.0), "size": (192, 4), "loss": "ms_ssim", "ssim_weight": 0.84}


def with_previous(decodes):
    """``uint8[T, H, W, 6]``: each iteration's image beside the one before (mid-grey, the
    additive reconstruction's start, before the first)."""
    before = np.concatenate([np.full_like(decodes[:1], 128), decodes[:-1]])
    return np.concatenate([decodes, before], axis=-1)


def probe_filter(shipped, previous):
    """A Keras model of ``shipped``'s convolutions (weights copied) called as ``(x, k)`` with
    ``x`` of 3 channels (``previous`` False) or 6 (the image, then the one before)."""
    import keras
    from keras import ops

    if shipped.context_channels:
        raise SystemExit("postfilter_previous_probe: filters with a context branch are not probed")

    class Probe(keras.Model):
        def __init__(self):
            super().__init__()
            self.base = shipped
            self.extra = None if not previous else keras.layers.Conv2D(
                shipped.channels, 3, padding="same", use_bias=False, kernel_initializer="zeros")

        def call(self, x, k):
            image = x[..., :3]
            plane = self.base.iteration_plane(image, k)
            features = ops.concatenate([image, plane], axis=-1)
            convs = self.base.convs
            features = convs[0].convolution_op(features, convs[0].kernel) + convs[0].bias
            if previous:
                features = features + self.extra(x[..., 3:] - image)
            features = ops.relu(features)
            for conv in convs[1:-1]:
                features = conv(features)
            return image + convs[-1](features)

    return Probe()


def scores(net, originals, decodes, previous):
    """Mean PSNR and MS-SSIM after each iteration (``net`` None: unfiltered)."""
    from tfrnncomp.eval import metrics
    from tfrnncomp.model.postfilter import filter_reconstruction

    table = {"psnr": [], "ms_ssim": []}
    for t in range(len(decodes[0])):
        psnr, ms_ssim = [], []
        for original, decoded in zip(originals, decodes):
            image = decoded[t]
            if net is not None:
                x = image if previous else image[..., :3]
                y = filter_reconstruction(net, x[None].astype(np.float32) / 255.0 - 0.5,
                                          np.float32(t + 1))
                image = np.clip(np.round((np.asarray(y)[0] + 0.5) * 255.0), 0, 255)
            image = np.asarray(image[..., :3], np.uint8)
            psnr.append(metrics.psnr(original, image))
            ms_ssim.append(metrics.ms_ssim(original, image))
        table["psnr"].append(float(np.mean(psnr)))
        table["ms_ssim"].append(float(np.mean(ms_ssim)))
    return table


def markdown(tables, header):
    arms = [name for name in tables if name != "unfiltered"]
    base = tables["unfiltered"]
    lines = [header, "", "| iteration | PSNR | " + " | ".join(f"Δ {a}" for a in arms)
             + " | MS-SSIM | " + " | ".join(f"Δ {a}" for a in arms) + " |",
             "|---" * (3 + 2 * len(arms)) + "|"]
    for t, (p, m) in enumerate(zip(base["psnr"], base["ms_ssim"])):
        dp = " | ".join(f"{tables[a]['psnr'][t] - p:+.3f}" for a in arms)
        dm = " | ".join(f"{tables[a]['ms_ssim'][t] - m:+.5f}" for a in arms)
        lines.append(f"| {t + 1} | {p:.2f} | {dp} | {m:.4f} | {dm} |")
    return "\n".join(lines) + "\n"


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", required=True, help="train_postfilter.py's cache folder")
    parser.add_argument("--model", default="gru-w25")
    parser.add_argument("--crop", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0, help="the cache's crop seed")
    parser.add_argument("--validation-count", type=int, default=16)
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--learning-rate", type=float, default=3e-4)
    parser.add_argument("--patch-seed", type=int, default=3)
    parser.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS))
    parser.add_argument("--out", default="results/postfilter/previous-probe.md")
    return parser.parse_args(argv)


def load_cache(path):
    if not os.path.exists(path):
        raise SystemExit(f"postfilter_previous_probe: no cache {path!r}; run "
                         "tools/training/train_postfilter.py --minutes 0 with --work first")
    with np.load(path, allow_pickle=False) as saved:
        count = int(saved["count"])
        return ([saved[f"original{i}"] for i in range(count)],
                [saved[f"decoded{i}"] for i in range(count)])


def main(argv=None):
    args = parse(argv)
    import train_postfilter
    from tfrnncomp.atomic import atomic_write_bytes
    from tfrnncomp.model import postfilter, zoo

    originals, decodes = load_cache(os.path.join(args.work, f"train{args.crop}-seed{args.seed}.npz"))
    held, held_decodes = load_cache(os.path.join(args.work,
                                                 f"validation{args.validation_count}.npz"))
    model = zoo.load_model(args.model)
    directory = zoo.resolve(args.model)
    tables = {"unfiltered": scores(None, held, held_decodes, False)}
    for arm in args.arms:
        shipped, record = postfilter.load(directory)
        previous = arm == "previous"
        net = probe_filter(shipped, previous)
        train_set = [with_previous(d) if previous else d for d in decodes]
        steps, _ = train_postfilter.train(net, originals, train_set, args.minutes,
                                          args.learning_rate, args.patch_seed,
                                          model.config.block_size, SAMPLING)
        valid = [with_previous(d) if previous else d for d in held_decodes]
        tables[arm] = scores(net, held, valid, previous)
        print(f"{arm}: {steps} steps", flush=True)
        train_set = valid = None
    header = (f"From {record['postfilter_id']} of {zoo.model_id(model)}, {args.minutes:g} CPU "
              f"minutes per arm, {len(held)} validation images; gains over the unfiltered "
              f"images.\n\n`python tools/research/postfilter_previous_probe.py --work WORK "
              f"--minutes {args.minutes:g} --learning-rate {args.learning_rate:g} "
              f"--patch-seed {args.patch_seed} --arms {' '.join(args.arms)}`")
    text = markdown(tables, header)
    print(text)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    atomic_write_bytes(args.out, text.encode("utf-8"))
    atomic_write_bytes(os.path.splitext(args.out)[0] + ".json",
                       json.dumps(tables, indent=1).encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
