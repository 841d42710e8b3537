"""The Android demo's plain-Java codec core (android_demo/codec-core).

``test_java_codec_core`` compiles the library and runs its JUnit tests (golden
vectors made by ``android_demo/codec-core/tools/make_vectors.py``) when a JDK and
junit4 are installed, and skips otherwise.  The other tests need no Java: they
check that the committed vectors still agree with this Python package, so a
change to the format on the Python side cannot silently leave the Java port
(and the vectors) behind.
"""

import os
import shutil
import subprocess

import numpy as np
import pytest

from tfrnncomp.format import container as bs
from tfrnncomp.errors import TfrnncompError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORE = os.path.join(ROOT, "android_demo", "codec-core")
VECTORS = os.path.join(CORE, "src", "test", "resources", "vectors")
JUNIT_JAR = os.environ.get("JUNIT_JAR", "/usr/share/java/junit4.jar")
HAMCREST_JARS = ("/usr/share/java/hamcrest-core.jar", "/usr/share/java/hamcrest.jar")


def _index():
    entries = []
    with open(os.path.join(VECTORS, "index.txt")) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            kind, name, *fields = line.split("\t")
            entries.append((kind, name, dict(field.split("=", 1) for field in fields)))
    return entries


def _read(name):
    with open(os.path.join(VECTORS, name), "rb") as f:
        return f.read()


def test_java_codec_core(tmp_path):
    missing = [tool for tool in ("javac", "java") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not found: install a JDK to test the Java core")
    if not os.path.exists(JUNIT_JAR) or not any(map(os.path.exists, HAMCREST_JARS)):
        pytest.skip(f"junit4 not found at {JUNIT_JAR}: apt-get install junit4 (or set JUNIT_JAR)")
    env = dict(os.environ, BUILD_DIR=str(tmp_path / "build"))
    result = subprocess.run(["sh", os.path.join(CORE, "build.sh")], env=env, capture_output=True,
                            text=True, timeout=900)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"codec-core build/tests failed:\n{output[-6000:]}"
    assert "OK (" in output


def test_the_vectors_index_lists_every_kind_and_existing_files():
    entries = _index()
    kinds = {kind for kind, _, _ in entries}
    assert kinds >= {"rangecoder", "rangegarbage", "context", "contextbad", "trc", "trcread",
                     "trcerror"}
    for _, name, fields in entries:
        assert os.path.exists(os.path.join(VECTORS, name)), name
        for key in ("codes", "source"):
            if fields.get(key):
                assert os.path.exists(os.path.join(VECTORS, fields[key])), fields[key]


def test_stored_files_still_read_and_fail_as_the_vectors_say():
    for kind, name, fields in _index():
        if kind not in ("trcread", "trcerror"):
            continue
        try:
            container = bs.read(_read(name), max_pixels=int(fields["max_pixels"]),
                                strict=fields["strict"] == "1")
        except TfrnncompError as error:
            assert kind == "trcerror", f"{name}: {error}"
            assert type(error).__name__ == fields["error"], name
            assert str(error) == fields["message"], name
        else:
            assert kind == "trcread", name
            assert len(container.chunks) == int(fields["chunks"]), name


def test_stored_context_chunks_and_files_still_match_the_python_coder():
    pytest.importorskip("tensorflow_compression_ops")
    from tfrnncomp.entropy.coding import context, rangecoder

    table = rangecoder.BinaryTable()

    def previous(bits, t):
        return (bits[t - 1] if t >= 1 else None, bits[t - 2] if t >= 2 else None)

    for kind, name, fields in _index():
        if kind == "context":
            data = np.load(os.path.join(VECTORS, name))
            bits, flat, offsets = data["bits"], data["chunks"], data["chunk_offsets"]
            for t in range(len(bits)):
                chunk = context.encode(table, bits[t], previous(bits, t))
                assert chunk == flat[offsets[t]:offsets[t + 1]].tobytes(), f"{name} chunk {t}"
        elif kind == "trc":
            container = bs.read(_read(name))
            codes = np.load(os.path.join(VECTORS, fields["codes"]))["codes"]
            header = container.header
            if header.entropy_mode == bs.EntropyMode.RAW:
                chunks = [bs.pack_codes(c) for c in codes]
            else:
                b = (codes > 0).astype(np.uint8)
                chunks = [context.encode(table, b[t], previous(b, t)) for t in range(len(b))]
            assert bs.write(header, chunks) == _read(name), name


def test_binaryrnn_vector_files_still_decode_in_python_to_the_recorded_codes():
    from tfrnncomp.format.extensions import Tag
    from tfrnncomp.entropy.coding import binaryrnn as binaryrnn_coder, integer_net, rangecoder

    checked = 0
    for kind, name, fields in _index():
        if kind != "trcbinaryrnn" or fields["decode"] != "ok":
            continue
        net = integer_net.IntegerNet.from_bytes(_read(fields["model"]))
        container = bs.read(_read(name))
        assert container.header.extensions[Tag.ENTROPY_MODEL].decode() == net.entropy_id
        codes = binaryrnn_coder.decode(net, rangecoder.BinaryTable(), container.chunks,
                                       container.header.code_shape)
        with np.load(os.path.join(VECTORS, fields["codes"])) as recorded:
            np.testing.assert_array_equal(codes, recorded["codes"])
        checked += 1
    assert checked >= 2


def test_binaryrnn_vector_files_refused_for_their_model_still_get_python_s_message():
    from tfrnncomp.errors import ModelMismatchError
    from tfrnncomp.format.extensions import Tag
    from tfrnncomp.entropy.coding import integer_net

    checked = 0
    for kind, name, fields in _index():
        if kind != "trcbinaryrnn" or fields.get("error") != "ModelMismatchError":
            continue
        net = integer_net.IntegerNet.from_bytes(_read(fields["model"]))
        file_id = bs.read(_read(name)).header.extensions[Tag.ENTROPY_MODEL].decode()
        with pytest.raises(ModelMismatchError) as refused:
            integer_net.check_binding(net, fields["model_id"], file_id)
        assert str(refused.value) == fields["message"], name
        checked += 1
    assert checked >= 2


def _vector_writer():
    import importlib.util

    path = os.path.join(CORE, "tools", "vector_writer.py")
    spec = importlib.util.spec_from_file_location("vector_writer", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_vector_tools_replace_a_vector_folder_whole_and_refuse_any_other(tmp_path):
    writer = _vector_writer()
    out = tmp_path / "vectors"
    with writer.vector_folder(str(out), "make_vectors.py") as w:
        w.entry("blob", w.blob("old.bin", b"old"))
    with writer.vector_folder(str(out), "make_vectors.py") as w:
        w.entry("blob", w.blob("new.bin", b"new"), size=3)
    assert sorted(os.listdir(out)) == ["index.txt", "new.bin"]
    assert (out / "index.txt").read_text().splitlines()[1:] == ["blob\tnew.bin\tsize=3"]
    with pytest.raises(RuntimeError):
        with writer.vector_folder(str(out), "make_vectors.py") as w:
            w.blob("half.bin", b"x")
            raise RuntimeError("a vector failed")
    assert sorted(os.listdir(out)) == ["index.txt", "new.bin"]
    assert sorted(os.listdir(tmp_path)) == ["vectors"]  # no temporary folder left
    other = tmp_path / "photos"
    other.mkdir()
    (other / "keep.jpg").write_bytes(b"photo")
    with pytest.raises(SystemExit, match="not a folder of vectors"):
        with writer.vector_folder(str(other), "make_vectors.py"):
            pass
    assert sorted(os.listdir(other)) == ["keep.jpg"]
