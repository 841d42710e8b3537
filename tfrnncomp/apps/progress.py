"""Progress bars of the command line, written to stderr with tqdm.

The model runs every iteration of an image inside one ``tf.function``, so one image's bar
advances by stage (read, encode, entropy coding, write) rather than by iteration;
``info --compare`` decodes one prefix per step, so its bar advances by iteration.
"""

import functools
import sys

#: on a terminal, single images above this many pixels get a bar (smaller ones take seconds)
MIN_PIXELS = 1_000_000
#: the stages of one image, by command (what :meth:`tfrnncomp.Codec.compress` and
#: :meth:`~tfrnncomp.Codec.decompress` report, between reading and writing the file)
STAGES = {"compress": ("read", "encode", "entropy", "write"),
          "decompress": ("read", "entropy", "decode", "write")}


def wanted(forced, pixels=None, quiet=False):
    """Whether to draw a bar: never when ``quiet``; always when ``forced`` (``--progress``);
    else when stderr is a terminal and the image has more than :data:`MIN_PIXELS` pixels.

    ``pixels`` is a function giving the pixel count (None where it is unknown, e.g. from
    stdin: then a bar is drawn), called only on a terminal; without it any size gets one.
    """
    if quiet:
        return False
    if forced:
        return True
    if not sys.stderr.isatty():
        return False
    count = None if pixels is None else pixels()
    return count is None or count > MIN_PIXELS


class Stages:
    """A bar over the stages of coding one image, and the ``progress`` callable of
    :meth:`tfrnncomp.Codec.compress` and :meth:`~tfrnncomp.Codec.decompress`: called with
    each stage's name as the stage begins.  Names outside ``stages`` only relabel the bar.
    As a context manager, it fills the bar when the block ends without an error."""

    def __init__(self, desc, stages):
        from tqdm import tqdm

        self.stages = tuple(stages)
        self.bar = tqdm(total=len(self.stages), desc=desc, unit="stage", file=sys.stderr,
                        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt}"
                        "{postfix} [{elapsed}]")

    def __call__(self, stage):
        if stage in self.stages:
            self.bar.n = self.stages.index(stage)  # the stages before it are done
        self.bar.set_postfix_str(stage)  # redraws the bar

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        if kind is None:
            self.bar.n = len(self.stages)
            self.bar.set_postfix_str("done", refresh=False)
        self.bar.close()  # draws the last state once more and ends the line


def iterations(desc):
    """A tqdm bar maker for a loop over iterations: ``iterations(desc)(items, total=N)``."""
    from tqdm import tqdm

    return functools.partial(tqdm, desc=desc, unit="iteration", file=sys.stderr)
