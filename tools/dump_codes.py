"""Dump the codec's code tensors of a folder of images as TFRecord (training data for
entropy models).

    python tools/dump_codes.py --data ../shared/data/train --split train --out codes-train.tfrecord
"""

import argparse
import os
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                       "shared", "data", "train"))
    parser.add_argument("--split", default="train", choices=("train", "validation", "all"))
    parser.add_argument("--model", default=None)
    parser.add_argument("--iterations", type=int, default=None)
    parser.add_argument("--limit", type=int, default=None, help="at most this many images")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if not os.path.isdir(args.data):
        print(f"dump_codes: no image folder at {args.data}; pass --data", file=sys.stderr)
        return 2
    from tqdm import tqdm

    from tfrnncomp import data
    from tfrnncomp.codec import Codec
    from tfrnncomp.entropy.codes_data import dump_codes

    files = data.split_files(data.list_images(args.data), args.split, root=args.data)
    files = files[:args.limit] if args.limit else files
    count = dump_codes(Codec(args.model), files, args.out, args.iterations, progress=tqdm)
    print(f"{args.out}: {count} code tensors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
