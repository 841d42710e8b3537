"""Classic image codecs behind one small interface, for :mod:`tfrnncomp.eval.evaluate`.

Each :class:`ClassicCodec` turns an RGB ``uint8[H,W,3]`` image and one sweep
setting into the bytes of a complete file (what would be written to disk:
container and headers included), and decodes such bytes back to RGB.  The
default sweeps span roughly 0.1-2.5 bpp on Kodak (JPEG XL's largest distance,
25, gives ~0.12 bpp).

=========  ==============================================  ===================
name       encoder                                         sweep
=========  ==============================================  ===================
jpeg420    Pillow JPEG, subsampling=2, optimize=True       quality
jpeg444    Pillow JPEG, subsampling=0, optimize=True       quality
webp       Pillow WebP, method=6                           quality
jpeg2000   Pillow OpenJPEG, irreversible, mct=1, rates,    compression ratio
           raw codestream (.j2k)
avif       Pillow's built-in AVIF (libavif), 4:4:4,        quality
           speed 4
jpegxl     imagecodecs.jpegxl_encode (libjxl), effort 7    butteraugli distance
hevc       ffmpeg + libx265, one intra frame, yuv444p      crf
           (full-range BT.601, converted here), preset
           medium, x265 info=0, raw Annex-B stream
=========  ==============================================  ===================
"""

import dataclasses
import io
import shutil
import subprocess
from typing import Callable, Optional

import numpy as np
from PIL import Image, features


@dataclasses.dataclass
class ClassicCodec:
    name: str
    description: str
    setting_name: str
    settings: tuple
    encode: Callable  # (rgb uint8[H,W,3], setting) -> bytes
    decode: Callable  # (bytes, height, width) -> rgb uint8[H,W,3]
    options: dict
    unavailable: Callable = lambda: None  # -> None, or why the codec cannot run here

    def info(self):
        """The ``codec`` object of a results file."""
        info = {"family": "classic", "encoder": self.name, "setting_name": self.setting_name,
                "settings": list(self.settings), "options": dict(self.options)}
        info.update(library_versions(self.name))
        return info


def _pil_encode(fmt, **options):
    def encode(image, setting):
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format=fmt, **options, **{_PIL_SETTING[fmt]: setting})
        return buffer.getvalue()
    return encode


_PIL_SETTING = {"JPEG": "quality", "WEBP": "quality", "AVIF": "quality"}


def _pil_decode(data, height, width):
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def _j2k_encode(image, ratio):
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG2000", irreversible=True, mct=1,
                                quality_mode="rates", quality_layers=[float(ratio)], no_jp2=True)
    return buffer.getvalue()


def _jxl_encode(image, distance):
    import imagecodecs

    return bytes(imagecodecs.jpegxl_encode(image, distance=float(distance), effort=7))


def _jxl_decode(data, height, width):
    import imagecodecs

    return np.asarray(imagecodecs.jpegxl_decode(data), np.uint8)[..., :3]


def _jxl_unavailable():
    try:
        import imagecodecs

        if not getattr(imagecodecs.JPEGXL, "available", True):
            return "imagecodecs is built without JPEG XL"
        imagecodecs.jpegxl_encode  # noqa: B018
    except (ImportError, AttributeError) as error:
        return f"JPEG XL needs imagecodecs with libjxl (pip install imagecodecs): {error}"
    return None


def _feature_unavailable(feature, what):
    return lambda: None if features.check(feature) else f"this Pillow has no {what} support"


# -- HEVC intra through ffmpeg/libx265 --------------------------------------------------------
# RGB <-> YCbCr is done here (full-range BT.601, as JFIF) so that ffmpeg only moves planes and
# the colour conversion cannot silently differ between encoding and decoding.
_RGB_TO_YCC = np.array([[0.299, 0.587, 0.114],
                        [-0.168735892, -0.331264108, 0.5],
                        [0.5, -0.418687589, -0.081312411]])
_YCC_TO_RGB = np.linalg.inv(_RGB_TO_YCC)


def rgb_to_yuv444_planes(image):
    ycc = image.astype(np.float64) @ _RGB_TO_YCC.T + np.array([0.0, 128.0, 128.0])
    return np.clip(np.round(ycc), 0, 255).astype(np.uint8).transpose(2, 0, 1)


def yuv444_planes_to_rgb(planes):
    ycc = planes.transpose(1, 2, 0).astype(np.float64) - np.array([0.0, 128.0, 128.0])
    return np.clip(np.round(ycc @ _YCC_TO_RGB.T), 0, 255).astype(np.uint8)


def _ffmpeg(args, data):
    done = subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", *args],
                          input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if done.returncode:
        raise RuntimeError(f"ffmpeg failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def _hevc_encode(image, crf, preset="medium"):
    height, width = image.shape[:2]
    return _ffmpeg(["-f", "rawvideo", "-pix_fmt", "yuv444p", "-s", f"{width}x{height}",
                    "-i", "pipe:", "-frames:v", "1", "-c:v", "libx265", "-preset", preset,
                    "-crf", str(crf), "-x265-params", "info=0:log-level=error",
                    "-f", "hevc", "pipe:"], rgb_to_yuv444_planes(image).tobytes())


def _hevc_decode(data, height, width):
    raw = _ffmpeg(["-f", "hevc", "-i", "pipe:", "-frames:v", "1", "-f", "rawvideo",
                   "-pix_fmt", "yuv444p", "pipe:"], data)
    if len(raw) != 3 * height * width:
        raise RuntimeError(f"ffmpeg decoded {len(raw)} bytes, expected {3 * height * width}")
    return yuv444_planes_to_rgb(np.frombuffer(raw, np.uint8).reshape(3, height, width))


def _hevc_unavailable():
    if shutil.which("ffmpeg") is None:
        return "ffmpeg is not installed (Debian: apt-get install -y ffmpeg)"
    encoders = subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], capture_output=True,
                              text=True, check=False).stdout
    if "libx265" not in encoders:
        return "this ffmpeg has no libx265 encoder"
    return None


def _ffmpeg_version():
    try:
        out = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True,
                             check=False).stdout
        return out.splitlines()[0] if out else None
    except OSError:
        return None


def library_versions(name):
    """Versions of the libraries behind one codec (for the ``codec`` object)."""
    import PIL

    pillow = {"pillow": PIL.__version__}
    if name in ("jpeg420", "jpeg444"):
        return {**pillow, "libjpeg": features.version("jpg"),
                "libjpeg_turbo": features.version("libjpeg_turbo")}
    if name == "webp":
        return {**pillow, "libwebp": features.version("webp")}
    if name == "jpeg2000":
        return {**pillow, "openjpeg": features.version("jpg_2000")}
    if name == "avif":
        return {**pillow, "libavif": features.version("avif")}
    if name == "jpegxl":
        try:
            import imagecodecs

            return {"imagecodecs": imagecodecs.__version__, "libjxl": imagecodecs.jpegxl_version()}
        except (ImportError, AttributeError):
            return {}
    if name == "hevc":
        return {"ffmpeg": _ffmpeg_version()}
    return {}


def _jpeg(name, subsampling, label, settings):
    return ClassicCodec(
        name, f"JPEG {label} (Pillow/libjpeg, optimized Huffman tables)", "quality", settings,
        _pil_encode("JPEG", subsampling=subsampling, optimize=True), _pil_decode,
        {"subsampling": subsampling, "optimize": True})


CODECS = {
    "jpeg420": _jpeg("jpeg420", 2, "4:2:0",
                     (3, 5, 8, 10, 15, 20, 30, 40, 50, 60, 70, 80, 85, 90, 93)),
    "jpeg444": _jpeg("jpeg444", 0, "4:4:4",
                     (1, 3, 5, 8, 10, 15, 20, 30, 40, 50, 60, 70, 80, 85, 90)),
    "webp": ClassicCodec(
        "webp", "WebP lossy (Pillow/libwebp, method 6)", "quality",
        (0, 3, 6, 10, 20, 30, 40, 50, 60, 70, 80, 85, 90, 95),
        _pil_encode("WEBP", method=6), _pil_decode, {"method": 6},
        _feature_unavailable("webp", "WebP")),
    "jpeg2000": ClassicCodec(
        "jpeg2000", "JPEG 2000 (Pillow/OpenJPEG, 9/7 wavelet, RCT, .j2k codestream)",
        "compression_ratio", (240, 192, 144, 96, 72, 48, 36, 24, 18, 14, 12, 10),
        _j2k_encode, _pil_decode,
        {"irreversible": True, "mct": 1, "quality_mode": "rates", "no_jp2": True},
        _feature_unavailable("jpg_2000", "JPEG 2000")),
    "avif": ClassicCodec(
        "avif", "AVIF (Pillow's built-in libavif, 4:4:4, speed 4)", "quality",
        (10, 20, 30, 40, 50, 60, 65, 70, 75, 80, 85, 90),
        _pil_encode("AVIF", subsampling="4:4:4", speed=4), _pil_decode,
        {"subsampling": "4:4:4", "speed": 4}, _feature_unavailable("avif", "AVIF")),
    "jpegxl": ClassicCodec(
        "jpegxl", "JPEG XL (imagecodecs/libjxl, effort 7)", "distance",
        (25, 20, 15, 12, 10, 8, 6, 4, 3, 2, 1.5, 1, 0.75, 0.6),
        _jxl_encode, _jxl_decode, {"effort": 7}, _jxl_unavailable),
    "hevc": ClassicCodec(
        "hevc", "HEVC intra (ffmpeg/libx265, one frame, yuv444p full-range BT.601)", "crf",
        (38, 36, 34, 32, 30, 28, 25, 22, 19, 16, 13, 11),
        _hevc_encode, _hevc_decode,
        {"pix_fmt": "yuv444p", "color": "full-range BT.601 (JFIF) done in numpy",
         "preset": "medium",
         "x265-params": "info=0", "container": "raw Annex-B (.hevc)"},
        _hevc_unavailable),
}


def get(name) -> ClassicCodec:
    try:
        return CODECS[name]
    except KeyError:
        raise ValueError(f"unknown codec {name!r}; known: {', '.join(CODECS)}") from None


def unavailable(name) -> Optional[str]:
    """None when the codec can run here, else a one-line reason."""
    return get(name).unavailable()
