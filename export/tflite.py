"""Convert a model's encoder and decoder steps to TFLite (LiteRT) models.

    python -m export.tflite --model gru-w25 --out exported/tflite --height 512 --width 768 \\
        [--quantize float32,float16,dynamic_int8,int8] [--dynamic] [--calibration-data DIR]

The step functions of :mod:`tfrnncomp.runtime.steps` (recurrent states as explicit inputs and
outputs) are written as a SavedModel with ``keras.export.ExportArchive`` and converted
with ``tf.lite.TFLiteConverter.from_saved_model``, one file per step and variant:
``OUT/encoder_step.<variant>.tflite`` and ``OUT/decoder_step.<variant>.tflite``, plus
``OUT/tflite.json`` (model id, input size, variants).  Inputs and outputs stay float32
in every variant, so the same host loop (:func:`tfrnncomp.runtime.steps.run_steps`) drives them:

``float32``       plain conversion (all builtin ops: CONV_2D, LOGISTIC, TANH, SPLIT, ...)
``float16``       float16 weights, float32 compute (half the file)
``dynamic_int8``  int8 weights, activations quantized on the fly (hybrid kernels)
``int8``          full integer: int8 weights and activations, calibrated on mosaics of
                  128x128 training patches run through the TF step loop (the recurrent
                  states of every iteration are part of the calibration set)

``--height/--width`` fix the input size (rounded up to a multiple of 32); the models are
fully convolutional, so LiteRT can also resize them to another size at run time
(``export.litert_backend`` does), and ``--dynamic`` exports unknown H and W instead.
Calibration images come from ``--calibration-data`` (a folder of images), by default
``$TFRNNCOMP_DATA/train`` or ``../shared/data/train`` next to this repository when present,
and synthetic images otherwise.
"""

import argparse
import json
import os
import sys
import tempfile

import numpy as np

from tfrnncomp.runtime.litert import STEPS, VARIANTS, convert, write_step_saved_model  # noqa: F401

PATCH = 128


def model_file(out, step, variant):
    return os.path.join(out, f"{step}.{variant}.tflite")


# -- calibration data -----------------------------------------------------------------
def default_calibration_dir():
    root = os.environ.get("TFRNNCOMP_DATA") or os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data")
    path = os.path.normpath(os.path.join(root, "train"))
    return path if os.path.isdir(path) else None


def _synthetic(rng, size):
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    f = rng.uniform(3, 20, 6)
    channels = [np.sin(x / f[c] + f[c + 3]) * np.cos(y / f[c + 3]) for c in range(3)]
    image = 127.5 + 100 * np.stack(channels, -1) + rng.normal(0, 8, (size, size, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def calibration_images(count, height, width, data_dir=None, seed=0):
    """``count`` uint8 mosaics of ``PATCH``-sized random crops (training images or synthetic)."""
    rng = np.random.default_rng(seed)
    files = []
    if data_dir:
        from tfrnncomp.training.data import list_images

        files = list_images(data_dir)
    rows, cols = -(-height // PATCH), -(-width // PATCH)
    mosaics = []
    for _ in range(count):
        tiles = []
        for _ in range(rows * cols):
            if files:
                from tfrnncomp.training.data import load_image

                image = load_image(files[rng.integers(len(files))])
                image = np.pad(image, ((0, max(0, PATCH - image.shape[0])),
                                       (0, max(0, PATCH - image.shape[1])), (0, 0)), "reflect")
                y = rng.integers(image.shape[0] - PATCH + 1)
                x = rng.integers(image.shape[1] - PATCH + 1)
                tiles.append(image[y:y + PATCH, x:x + PATCH])
            else:
                tiles.append(_synthetic(rng, PATCH))
        grid = np.stack(tiles).reshape(rows, cols, PATCH, PATCH, 3)
        mosaics.append(grid.transpose(0, 2, 1, 3, 4).reshape(rows * PATCH, cols * PATCH, 3)
                       [:height, :width])
    return mosaics


def representative_dataset(model, images, iterations, step):
    """A generator function of ``step``'s input dicts along the TF step loop over ``images``.

    Every iteration of every image is one sample, so the recurrent states and the
    shrinking residuals of late iterations are calibrated too.  Samples are produced
    lazily (a 512x768 sample of the decoder step holds ~25 MB of state).
    """
    from tfrnncomp.runtime.steps import TFSteps, pad_image, to_model_range

    tf_steps = TFSteps(model)

    def generate():
        for image in images:
            x = to_model_range(pad_image(image))[None]
            ph, pw = x.shape[1:3]
            enc = [np.zeros(s, np.float32) for s in tf_steps.encoder.state_shapes(ph, pw)]
            dec = [np.zeros(s, np.float32) for s in tf_steps.decoder.state_shapes(ph, pw)]
            reconstruction = np.zeros_like(x)
            gain = np.ones((1, ph, pw, 1), np.float32)
            for _ in range(iterations):
                if step == "encoder_step":
                    yield dict(image=x, reconstruction=reconstruction, gain=gain,
                               **{f"encoder_state_{i}": s for i, s in enumerate(enc)})
                bits, enc = tf_steps.encoder(x, reconstruction, gain, enc)
                bits = np.where(bits >= 0, 1.0, -1.0).astype(np.float32)
                if step == "decoder_step":
                    yield dict(bits=bits, reconstruction=reconstruction, gain=gain,
                               **{f"decoder_state_{i}": s for i, s in enumerate(dec)})
                reconstruction, gain, dec = tf_steps.decoder(bits, reconstruction, gain, dec)

    return generate


# -- conversion -------------------------------------------------------------------------
def export(model, out, height=512, width=768, variants=VARIANTS, dynamic=False,
           calibration_data=None, calibration_images_count=4, calibration_iterations=None,
           log=print):
    """Convert both steps in every variant into ``out``; returns the manifest dict."""
    from tfrnncomp.model import zoo
    from tfrnncomp.model.network import RNNCompressionModel
    from tfrnncomp.runtime.steps import padded_size, state_layout

    if not isinstance(model, RNNCompressionModel):
        model = zoo.load_model(model)
    variants = list(variants)
    for variant in variants:
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; expected one of {VARIANTS}")
    height, width = padded_size(height, width)
    os.makedirs(out, exist_ok=True)
    manifest = {"model_id": zoo.model_id(model), "config": model.config.to_dict(),
                "height": None if dynamic else height, "width": None if dynamic else width,
                "steps": list(STEPS), "state_layout": state_layout(model), "variants": {}}
    previous = os.path.join(out, "tflite.json")
    if os.path.isfile(previous):  # keep the other variants of an earlier export of the same
        with open(previous, encoding="utf-8") as handle:
            old = json.load(handle)
        if all(old.get(k) == manifest[k] for k in ("model_id", "height", "width")):
            manifest["variants"] = {v: f for v, f in old.get("variants", {}).items()
                                    if v not in variants}
            if "calibration" in old and "int8" not in variants:
                manifest["calibration"] = old["calibration"]
    with tempfile.TemporaryDirectory() as tmp:
        write_step_saved_model(model, tmp, None if dynamic else height,
                               None if dynamic else width)
        images = None
        for variant in variants:
            files = {}
            for step in STEPS:
                representative = None
                if variant == "int8":
                    if images is None:
                        images = calibration_images(calibration_images_count, height, width,
                                                    calibration_data)
                        manifest["calibration"] = {
                            "source": calibration_data or "synthetic",
                            "images": len(images), "patch": PATCH,
                            "iterations": calibration_iterations or model.config.max_iterations}
                    representative = representative_dataset(
                        model, images, manifest["calibration"]["iterations"], step)
                log(f"converting {step} ({variant})")
                data = convert(tmp, step, variant, representative)
                path = model_file(out, step, variant)
                with open(path + ".tmp", "wb") as handle:
                    handle.write(data)
                os.replace(path + ".tmp", path)
                files[step] = {"file": os.path.basename(path), "bytes": len(data)}
            manifest["variants"][variant] = files
    with open(os.path.join(out, "tflite.json"), "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=2, sort_keys=True)
        handle.write("\n")
    return manifest


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m export.tflite", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="zoo name or model directory")
    parser.add_argument("--out", required=True)
    parser.add_argument("--height", type=int, default=512)
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--dynamic", action="store_true", help="unknown H and W in the models")
    parser.add_argument("--quantize", default=",".join(VARIANTS),
                        help=f"comma-separated variants out of {','.join(VARIANTS)}")
    parser.add_argument("--calibration-data", default=None,
                        help="image folder for int8 calibration (default: training data if "
                             "found, else synthetic images)")
    parser.add_argument("--calibration-images", type=int, default=4,
                        help="mosaics of 128x128 patches used for int8 calibration")
    parser.add_argument("--calibration-iterations", type=int, default=None,
                        help="iterations per calibration image (default: the model's maximum)")
    args = parser.parse_args(argv)
    variants = [v.strip() for v in args.quantize.split(",") if v.strip()]
    bad = [v for v in variants if v not in VARIANTS]
    if bad or not variants:
        parser.error(f"--quantize takes variants out of {','.join(VARIANTS)}, got {bad}")
    if args.height < 1 or args.width < 1:
        parser.error("--height and --width must be positive")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    data = args.calibration_data or default_calibration_dir()
    manifest = export(args.model, args.out, args.height, args.width, variants, args.dynamic,
                      data, args.calibration_images, args.calibration_iterations,
                      log=lambda m: print(m, file=sys.stderr))
    for variant, files in manifest["variants"].items():
        for step, info in files.items():
            path = os.path.join(args.out, info["file"])
            print(f"{variant:13s} {step:13s} {info['bytes']:>10d}  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
