"""Convert a model's encoder and decoder steps to TFLite (LiteRT) models.

    tfrnncomp export tflite exported/tflite --model gru-w25 --height 512 --width 768 \\
        [--quantize float32,float16,dynamic_int8,int8] [--dynamic] [--calibration-data DIR]

The step functions of :mod:`tfrnncomp.runtime.steps` (recurrent states as explicit inputs and
outputs) are written as a SavedModel with ``keras.export.ExportArchive`` and converted
with ``tf.lite.TFLiteConverter.from_saved_model``, one file per step and variant:
``OUT/encoder_step.<variant>.tflite`` and ``OUT/decoder_step.<variant>.tflite`` (and
``OUT/post_filter_step.<variant>.tflite`` when the model directory has a post-filter,
:mod:`tfrnncomp.model.postfilter`), plus ``OUT/tflite.json`` (model id, input size, steps,
variants).  Inputs and outputs stay float32
in every variant, so the same host loop (:func:`tfrnncomp.runtime.steps.run_steps`) drives them:

``float32``       plain conversion (all builtin ops: CONV_2D, LOGISTIC, TANH, SPLIT, ...)
``float16``       float16 weights, float32 compute (half the file)
``dynamic_int8``  int8 weights, activations quantized on the fly (hybrid kernels)
``int8``          full integer: int8 weights and activations, calibrated on mosaics of
                  128x128 training patches run through the TF step loop (the recurrent
                  states of every iteration are part of the calibration set); the
                  post-filter step is ``dynamic_int8`` here (it rounds to uint8 levels and
                  must be exact to a fraction of one, which int8 activations cannot hold)

``--height/--width`` fix the input size (rounded up to a multiple of 32); the models are
fully convolutional, so LiteRT can also resize them to another size at run time
(:mod:`tfrnncomp.export.litert_backend` does), and ``--dynamic`` exports unknown H and W instead.
Calibration images come from ``--calibration-data`` (a folder of images), by default
``$TFRNNCOMP_DATA/train`` or ``../shared/data/train`` next to this repository when present,
and synthetic images otherwise.

Each file is written atomically and ``tflite.json`` after each variant, so the manifest
lists complete files only.  Other variants of an earlier export of the same model and size
stay; files of the variants asked for, or an export of another model or size, are
replaced only with ``force`` (``--force``).
"""

import json
import os
import tempfile

import numpy as np

from tfrnncomp.errors import ConfigError, OutputError
from tfrnncomp.export.litert_backend import MANIFEST
from tfrnncomp.runtime.litert import (VARIANTS, convert, step_names,
                                      write_step_saved_model)

PATCH = 128
#: the first input of each step model (the others: reconstruction, gain, states)
_FIRST_INPUT = {"encoder_step": "image", "decoder_step": "bits"}


def model_file(out, step, variant):
    return os.path.join(out, f"{step}.{variant}.tflite")


# -- calibration data -----------------------------------------------------------------
def default_calibration_dir():
    """``$TFRNNCOMP_DATA/train``, else ``../shared/data/train`` beside the repository (the
    same root the evaluation harness uses: this module is reached through the
    ``tfrnncomp/export`` link, so its own path does not name the repository), or None."""
    from tfrnncomp.eval.schema import REPO

    root = os.environ.get("TFRNNCOMP_DATA") or os.path.join(REPO, "..", "shared", "data")
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


def _recording(fn, step, sample):
    """The step callable ``fn``, keeping its latest inputs in ``sample`` by input name."""
    from tfrnncomp.runtime.steps import step_callable

    part = step.split("_")[0]

    def call(first, reconstruction, gain, states):
        sample.clear()
        sample.update({_FIRST_INPUT[step]: first, "reconstruction": reconstruction, "gain": gain})
        sample.update({f"{part}_state_{i}": state for i, state in enumerate(states)})
        return fn(first, reconstruction, gain, states)

    return step_callable(call, fn.state_shapes)


def representative_dataset(model, images, iterations, step):
    """A generator function of ``step``'s input dicts along the host loop over ``images``.

    The loop is :func:`tfrnncomp.runtime.steps.step_iterations` over the TF step functions;
    every iteration of every image is one sample, so the recurrent states and the
    shrinking residuals of late iterations are calibrated too.  Samples are produced lazily
    (a 512x768 sample of the decoder step holds ~25 MB of state).
    """
    from tfrnncomp.runtime.steps import TFSteps, step_iterations

    tf_steps = TFSteps(model)

    def generate():
        sample = {}
        encoder, decoder = tf_steps.encoder, tf_steps.decoder
        if step == "encoder_step":
            encoder = _recording(encoder, step, sample)
        elif step == "decoder_step":
            decoder = _recording(decoder, step, sample)
        for image in images:
            loop = step_iterations(encoder, decoder, image, iterations)
            for _ in loop:
                yield dict(sample)

    return generate


# -- outputs ----------------------------------------------------------------------------
def check_variants(variants):
    """``variants`` as a list, or :class:`ConfigError` if empty or one is unknown."""
    variants = list(variants)
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown or not variants:
        wrong = f"unknown variant {','.join(unknown)}" if unknown else "no variant given"
        raise ConfigError(f"{wrong}; expected some of {','.join(VARIANTS)}")
    return variants


def check_outputs(out, variants, force=False, steps=step_names()):
    """Refuse an ``out`` that is not a folder, and existing files of ``variants`` unless
    ``force`` (:class:`OutputError`)."""
    if os.path.lexists(out) and not os.path.isdir(out):
        raise OutputError(f"{out}: is not a folder")
    for variant in variants:
        for step in steps:
            path = model_file(out, step, variant)
            if os.path.lexists(path) and not force:
                raise OutputError(f"{path}: exists; pass --force to overwrite it")


def _read_manifest(out):
    """The manifest in ``out``: None if there is none, ``{}`` if it cannot be read."""
    path = os.path.join(out, MANIFEST)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except ValueError:
        return {}


def _manifest(model, out, size, variants, force, post_filter=None):
    """The manifest of this export, keeping the other variants of an earlier export of the
    same model, post-filter and size (``size``: ``(height, width)``, ``None`` each when
    dynamic)."""
    from tfrnncomp.model import postfilter, zoo

    manifest = {"model_id": zoo.model_id(model), "config": model.config.to_dict(),
                "height": size[0], "width": size[1], "steps": list(step_names(post_filter)),
                "post_filter_id": postfilter.weights_id(post_filter),
                "state_layout": model.state_layout(), "variants": {}}
    old = _read_manifest(out)
    if old is None:
        return manifest
    if any(old.get(k) != manifest[k] for k in ("model_id", "height", "width", "post_filter_id")):
        if not force:
            raise OutputError(f"{out}: its {MANIFEST} is of another model or size, or "
                              "unreadable; pass --force to replace it")
        return manifest
    manifest["variants"] = {v: f for v, f in old.get("variants", {}).items() if v not in variants}
    if "calibration" in old and "int8" not in variants:
        manifest["calibration"] = old["calibration"]
    return manifest


def _write_manifest(out, manifest):
    from tfrnncomp.atomic import atomic_write_bytes

    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    atomic_write_bytes(os.path.join(out, MANIFEST), text.encode("utf-8"))


# -- conversion -------------------------------------------------------------------------
def _calibration(model, manifest, size, data_dir, count, iterations):
    """``{step: representative dataset}`` for int8, recorded in ``manifest``."""
    images = calibration_images(count, *size, data_dir)
    iterations = iterations or model.config.max_iterations
    manifest["calibration"] = {"source": data_dir or "synthetic", "images": len(images),
                               "patch": PATCH, "iterations": iterations}
    return {step: representative_dataset(model, images, iterations, step)
            for step in step_names()}  # the post-filter step is not calibrated (``convert``)


def _convert_variant(saved_model, out, variant, representatives, log, steps):
    """The ``steps`` of one variant, each written atomically; their manifest entries."""
    from tfrnncomp.atomic import atomic_write_bytes

    files = {}
    for step in steps:
        log(f"converting {step} ({variant})")
        data = convert(saved_model, step, variant, (representatives or {}).get(step))
        path = model_file(out, step, variant)
        atomic_write_bytes(path, data)
        files[step] = {"file": os.path.basename(path), "bytes": len(data)}
    return files


def export(model, out, height=512, width=768, variants=VARIANTS, dynamic=False,
           calibration_data=None, calibration_images_count=4, calibration_iterations=None,
           force=False, log=print, post_filter="auto"):
    """Convert the steps in every variant into ``out``; returns the manifest dict.

    ``model`` is a name, directory or model; ``post_filter``: ``"auto"`` (the model
    directory's, none for a model instance), ``None`` or a
    :class:`~tfrnncomp.model.postfilter.PostFilter`.  See the module's docstring for ``force``.
    """
    from tfrnncomp.model import zoo
    from tfrnncomp.model.network import RNNCompressionModel
    from tfrnncomp.runtime.steps import padded_size

    variants = check_variants(variants)
    name = model
    if not isinstance(model, RNNCompressionModel):
        model = zoo.load_model(model)
    post_filter = zoo.post_filter_for(post_filter, name, zoo.model_id(model))
    steps = step_names(post_filter)
    check_outputs(out, variants, force, steps)
    size = padded_size(height, width, model.config.pad_multiple)
    fixed = (None, None) if dynamic else size
    os.makedirs(out, exist_ok=True)
    manifest = _manifest(model, out, fixed, variants, force, post_filter)
    representatives = None
    if "int8" in variants:
        representatives = _calibration(model, manifest, size, calibration_data,
                                       calibration_images_count, calibration_iterations)
    with tempfile.TemporaryDirectory() as tmp:
        write_step_saved_model(model, tmp, *fixed, post_filter=post_filter)
        for variant in variants:
            manifest["variants"][variant] = _convert_variant(
                tmp, out, variant, representatives if variant == "int8" else None, log, steps)
            _write_manifest(out, manifest)
    return manifest
