"""Export a model as a versioned SavedModel for TensorFlow Serving.

    tfrnncomp export savedmodel exported/gru-w25 --model gru-w25 [--version 1] [--force]

writes ``OUT/<version>/`` with the signatures

``compress``   image uint8[H,W,3], iterations int32[] -> codes int8[T,H'/16,W'/16,32],
               reconstruction uint8[H,W,3]
``decompress`` codes int8[T,h,w,32], height int32[], width int32[] -> image uint8[H,W,3]
``serving_default``  = ``compress`` (TF Serving needs a default)

built from the same ``tf.function``s as the package (:mod:`tfrnncomp.runtime.graph`), with
dynamic H and W, so a server reproduces :meth:`tfrnncomp.Codec.encode_codes` bit for bit; the
images (``reconstruction``, ``image``) go through the model's post-filter when its directory has
one (:mod:`tfrnncomp.model.postfilter`), as the package's own decoding does.
Only stock TensorFlow ops are used.  ``OUT/<version>/assets.extra/tfrnncomp.json`` holds
the model id and config a client needs to write ``.trc`` headers (TF Serving ignores it).

``--with-range-coder`` adds ``compress_trc`` (image, iterations -> codes, reconstruction,
payloads string[T]) and ``decompress_trc`` (payloads, height, width -> image, codes): the
chunk payloads of a ``.trc`` file of entropy mode ``context``, range-coded in the graph
(:mod:`tfrnncomp.export.tf_context`).  These use the tensorflow-compression op library: load it
(``import tensorflow_compression_ops``) before loading the SavedModel; TF Serving needs a
build with those ops linked in.

Check it with::

    saved_model_cli show --dir OUT/1 --all
    python -c "import numpy as np; np.save('codes.npy', np.ones((1, 2, 2, 32), np.int8))"
    saved_model_cli run --dir OUT/1 --tag_set serve --signature_def decompress \\
        --inputs codes=codes.npy --input_exprs 'height=20;width=30' --outdir . --overwrite

(``--input_exprs`` takes Python literals only; arrays go through ``--inputs`` .npy files.
Python ints are fed as the signature's int32.)
"""

import json
import os

SIGNATURES = ("compress", "decompress")
RANGE_CODER_SIGNATURES = ("compress_trc", "decompress_trc")


def build_archive(model, with_range_coder=False, post_filter=None):
    """A ``keras.export.ExportArchive`` with the ``compress``/``decompress`` endpoints.

    ``with_range_coder`` adds ``compress_trc``/``decompress_trc``
    (see :mod:`tfrnncomp.export.tf_context`).
    """
    import keras
    import tensorflow as tf

    from tfrnncomp.runtime.graph import CodecFunctions

    functions = CodecFunctions(model, post_filter=post_filter)
    max_iterations = int(model.config.max_iterations)

    @tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.uint8, name="image"),
                                  tf.TensorSpec([], tf.int32, name="iterations")])
    def compress(image, iterations):
        checks = [tf.debugging.assert_less_equal(
            iterations, max_iterations,
            message=f"iterations must be in 1..{max_iterations}")]
        with tf.control_dependencies(checks):
            result = functions.encode(image, iterations)
        return {"codes": result["codes"], "reconstruction": result["reconstruction"]}

    @tf.function(input_signature=[
        tf.TensorSpec([None, None, None, model.config.bits], tf.int8, name="codes"),
        tf.TensorSpec([], tf.int32, name="height"),
        tf.TensorSpec([], tf.int32, name="width")])
    def decompress(codes, height, width):
        shape, block = tf.shape(codes), model.config.block_size
        checks = [
            tf.debugging.assert_positive(height, message="height must be >= 1"),
            tf.debugging.assert_positive(width, message="width must be >= 1"),
            tf.debugging.assert_less_equal(height, shape[1] * block,
                                           message="height exceeds the codes' padded height"),
            tf.debugging.assert_less_equal(width, shape[2] * block,
                                           message="width exceeds the codes' padded width")]
        with tf.control_dependencies(checks):
            return {"image": functions.decode(codes, height, width)}

    compress.get_concrete_function()
    decompress.get_concrete_function()
    archive = keras.export.ExportArchive()
    archive.track(model)
    if post_filter is not None:
        archive.track(post_filter)
    archive.add_endpoint("compress", compress)
    archive.add_endpoint("decompress", decompress)
    if with_range_coder:
        from tfrnncomp.export import tf_context

        tf_context.add_endpoints(archive, functions, max_iterations)
    return archive


def model_info(model, with_range_coder=False, post_filter=None):
    from tfrnncomp.model import postfilter, zoo

    signatures = list(SIGNATURES) + (list(RANGE_CODER_SIGNATURES) if with_range_coder else [])
    return {"entropy_mode": "context" if with_range_coder else None,
            "needs_op_library": "tensorflow_compression_ops" if with_range_coder else None,
            "model_id": zoo.model_id(model), "config": model.config.to_dict(),
            "post_filter_id": postfilter.weights_id(post_filter),
            "block_size": model.config.block_size, "bits": model.config.bits,
            "max_iterations": model.config.max_iterations, "signatures": signatures}


def export(model, out, version=1, force=False, with_range_coder=False, post_filter="auto"):
    """Write ``out/<version>/``; returns that path.  ``model`` is a name, directory or model;
    ``post_filter``: ``"auto"`` (the model directory's, none for a model instance), ``None``,
    or a :class:`~tfrnncomp.model.postfilter.PostFilter`.

    The version folder appears complete or not at all (TF Serving picks up a version once
    its folder exists); an existing one is replaced only with ``force``, else
    :class:`~tfrnncomp.errors.OutputError`.
    """
    from tfrnncomp.atomic import atomic_directory, atomic_write_bytes
    from tfrnncomp.model import zoo
    from tfrnncomp.model.network import RNNCompressionModel

    name = model
    if not isinstance(model, RNNCompressionModel):
        model = zoo.load_model(model)
    post_filter = zoo.post_filter_for(post_filter, name, zoo.model_id(model))
    target = os.path.join(out, str(int(version)))
    os.makedirs(out, exist_ok=True)
    with atomic_directory(target, replace=force) as tmp:
        build_archive(model, with_range_coder, post_filter).write_out(tmp, verbose=False)
        extra = os.path.join(tmp, "assets.extra")
        os.makedirs(extra, exist_ok=True)
        info = json.dumps(model_info(model, with_range_coder, post_filter), indent=2,
                          sort_keys=True)
        atomic_write_bytes(os.path.join(extra, "tfrnncomp.json"), (info + "\n").encode("utf-8"))
    return target
