"""Runtimes of the model's iterations behind one :class:`Backend` interface: the TensorFlow
graph (:mod:`.graph`), and step models run by the NumPy host loop (:mod:`.steps`,
:mod:`.litert`)."""

from typing import Protocol


class Backend(Protocol):
    """What a :class:`~tfrnncomp.Codec` needs of a runtime; NumPy arrays (or tensors) in and
    out, any image size (padded inside to the model's multiple)."""

    #: whether :meth:`encode_adaptive` exists and stopped blocks keep their pixels when
    #: decoding (spatially adaptive files)
    adaptive: bool

    def encode(self, image, iterations):
        """``{"codes": int8[T,h,w,bits], "reconstruction": uint8[H,W,3]}`` of a uint8 image."""

    def encode_codes(self, image, iterations):
        """Only the codes ``int8[T,h,w,bits]``."""

    def decode(self, codes, height, width):
        """The image ``uint8[height,width,3]`` after every iteration of ``codes`` (through the
        post-filter, if the backend has one)."""

    def decode_all(self, codes, height, width):
        """The image after each iteration, ``uint8[T,height,width,3]``, in one pass."""


class AdaptiveBackend(Protocol):
    """What spatially adaptive coding (:mod:`tfrnncomp.codec.adaptive`) needs of a runtime: a
    :class:`Backend` whose ``adaptive`` is true has it."""

    def encode_adaptive(self, image, iterations, block, rule, threshold, plan):
        """``{"codes", "map", "reconstruction", "block_mse"}`` of a uint8 image, each block of
        ``block x block`` code positions stopping by ``rule`` (or after its ``plan`` count)."""


def check_backend(name):
    """``name`` if it names a backend, else :class:`~tfrnncomp.errors.BackendError`."""
    from tfrnncomp.runtime import litert

    litert.variant_for(name)
    return name


def require_adaptive(functions, name, what):
    """Refuse ``what`` (adaptive coding, or decoding an adaptive file) on the backend
    ``functions`` named ``name`` unless it is :attr:`Backend.adaptive`: adaptive files keep
    stopped blocks' pixels inside the TF graph; the LiteRT step models do not implement that
    mask, so they must not code or decode such files (:class:`~tfrnncomp.errors.BackendError`)."""
    if not functions.adaptive:
        from tfrnncomp.errors import BackendError

        raise BackendError(f"{what} needs backend 'tf' or 'tf-xla', this codec uses {name!r}")


def backend_for(model, name="tf", threads=None, post_filter=None) -> Backend:
    """The backend ``name`` of :data:`tfrnncomp.runtime.litert.BACKENDS` running ``model``:
    ``"tf"`` (the graph), ``"tf-xla"`` (compiled with XLA) or a LiteRT variant; decoded
    images go through ``post_filter`` (a :class:`~tfrnncomp.model.postfilter.PostFilter`)
    if given."""
    from tfrnncomp.runtime import litert

    variant = litert.variant_for(name)
    if variant is None:
        from tfrnncomp.runtime.graph import CodecFunctions

        return CodecFunctions(model, jit_compile=name == "tf-xla", post_filter=post_filter)
    return litert.LiteRTFunctions(model, variant, threads or litert.DEFAULT_THREADS,
                                  post_filter=post_filter)
