#!/usr/bin/env python3
"""Prepare the carried folder of an accelerator run: training photos as JPEG crops, the
validation crops, and wheels.

    python tools/training/device_prep.py [--data ../shared/data/train] [--out .device]
        [--crop 256] [--crops-per-image 1] [--quality 92] [--max-mib 22] [--seed 0]
        [--validation-images 8] [--validation-crop 256] [--wheels]

``OUT/photos/`` gets random ``--crop`` squares (whole images when smaller) of the training
split of ``--data`` (the split rule of ``tfrnncomp train``: ``--validation-fraction`` of the
files, by path hash, are held out and never copied), re-encoded as JPEG, until ``--max-mib``
are written: with the repository and the wheels the carried tree must stay under 64 MiB.
``OUT/validation/`` gets the whole-image validation crops of the CPU run (the same
``--validation-images`` centre crops of the held-out files, as PNG), which ``device_run.py
--validation`` scores the run on.
``--wheels`` also downloads into ``OUT/wheels/`` (``pip download --no-deps``, network needed)
the wheels of Keras and of those of its requirements that the accelerator's image lacks, built
for its Python (3.12, x86-64 Linux).  OUT is ignored by git (``.device/`` is in .gitignore).
"""

import argparse
import os
import subprocess
import sys

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, REPO)

#: Keras' requirements missing from the accelerator's image (it has numpy 2, h5py, absl-py,
#: rich, ml-dtypes, packaging); Keras itself is pinned to the version of this environment
WHEELS = ("namex", "optree")
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64", "manylinux1_x86_64")


def crop_photos(data, out, crop=256, crops_per_image=1, quality=92, max_mib=22.0, seed=0,
                validation_fraction=0.05):
    """Write JPEG crops of the training split of ``data`` into ``out``; returns their paths."""
    from tfrnncomp.training.image_files import _pil_decode, source_files

    files = source_files(data, "train", validation_fraction)
    rng = np.random.default_rng(seed)
    os.makedirs(out, exist_ok=True)
    written, budget = [], max_mib * 2**20
    for index in rng.permutation(len(files)):
        image = _pil_decode(files[index])
        for k in range(crops_per_image):
            h, w = min(crop, image.shape[0]), min(crop, image.shape[1])
            y = rng.integers(0, image.shape[0] - h + 1)
            x = rng.integers(0, image.shape[1] - w + 1)
            path = os.path.join(out, f"{index:05d}_{k}.jpg")
            Image.fromarray(image[y:y + h, x:x + w]).save(path, quality=quality)
            budget -= os.path.getsize(path)
            if budget < 0:
                os.remove(path)
                return written
            written.append(path)
    return written


def write_validation_crops(data, out, size=256, count=8, validation_fraction=0.05):
    """The CPU run's whole-image validation crops of ``data`` as PNGs in ``out``; their paths."""
    from tfrnncomp.training.validation import validation_crops

    names, crops = validation_crops(data, size, count, validation_fraction)
    os.makedirs(out, exist_ok=True)
    paths = []
    for index, (name, crop) in enumerate(zip(names, crops)):
        stem = os.path.splitext(name.replace("/", "_"))[0]
        paths.append(os.path.join(out, f"{index:02d}_{stem}.png"))
        Image.fromarray(crop).save(paths[-1])
    return paths


def download_wheels(out, python_version="3.12"):
    """``pip download --no-deps`` Keras (this environment's version) and :data:`WHEELS`."""
    import keras

    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--python-version", python_version, "--implementation", "cp", "-d", out]
    for platform in PLATFORMS:
        command += ["--platform", platform]
    subprocess.run(command + [f"keras=={keras.__version__}", *WHEELS], check=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.path.join(REPO, "..", "shared", "data", "train"))
    parser.add_argument("--out", default=os.path.join(REPO, ".device"))
    parser.add_argument("--crop", type=int, default=256)
    parser.add_argument("--crops-per-image", type=int, default=1)
    parser.add_argument("--quality", type=int, default=92)
    parser.add_argument("--max-mib", type=float, default=22.0)
    parser.add_argument("--validation-fraction", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--validation-images", type=int, default=8, help="0: none")
    parser.add_argument("--validation-crop", type=int, default=256)
    parser.add_argument("--wheels", action="store_true")
    args = parser.parse_args(argv)
    photos = crop_photos(args.data, os.path.join(args.out, "photos"), args.crop,
                         args.crops_per_image, args.quality, args.max_mib, args.seed,
                         args.validation_fraction)
    size = sum(os.path.getsize(p) for p in photos) / 2**20
    print(f"{len(photos)} crops, {size:.1f} MiB in {os.path.join(args.out, 'photos')}")
    if args.validation_images:
        crops = write_validation_crops(args.data, os.path.join(args.out, "validation"),
                                       args.validation_crop, args.validation_images,
                                       args.validation_fraction)
        print(f"{len(crops)} validation crops in {os.path.join(args.out, 'validation')}")
    if args.wheels:
        download_wheels(os.path.join(args.out, "wheels"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
