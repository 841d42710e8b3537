"""Dump the codec's code tensors of a folder of images as TFRecord (training data for
entropy models).

    python tools/training/dump_codes.py --data ../shared/data/train --split train --crop 320 \\
        --crops 2 --out codes-train.tfrecord
"""

import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "train"))
    parser.add_argument("--split", default="train", choices=("train", "validation", "all"))
    parser.add_argument("--model", default=None)
    parser.add_argument("--iterations", type=int, default=None)
    parser.add_argument("--limit", type=int, default=None, help="at most this many images")
    parser.add_argument("--crop", type=int, default=None,
                        help="random crops of this size (pixels) instead of whole images")
    parser.add_argument("--crops", type=int, default=1, help="crops per image")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shard", default=None,
                        help="i/n: only every n-th image starting at the i-th (parallel dumps)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if not os.path.isdir(args.data):
        print(f"dump_codes: no image folder at {args.data}; pass --data", file=sys.stderr)
        return 2
    from tqdm import tqdm

    from tfrnncomp.training import data
    from tfrnncomp.codec import Codec
    from tfrnncomp.entropy.training.codes_data import dump_codes

    files = data.split_files(data.list_images(args.data), args.split, root=args.data)
    if args.shard:
        index, count = (int(v) for v in args.shard.split("/"))
        files = files[index::count]
    files = files[:args.limit] if args.limit else files
    count = dump_codes(Codec(args.model), files, args.out, args.iterations, progress=tqdm,
                       crop=args.crop, crops=args.crops, seed=args.seed)
    print(f"{args.out}: {count} code tensors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
