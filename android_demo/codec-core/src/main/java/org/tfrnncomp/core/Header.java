package org.tfrnncomp.core;

import java.util.Arrays;
import java.util.Collections;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Everything a reader needs before the first chunk (Python: {@code bitstream.Header}).
 *
 * <p>Immutable. The 32-bit size fields are {@code long}s because the format
 * stores them unsigned. Construction does not validate; {@link #validate(Long)}
 * does (the reader always calls it).
 */
public final class Header {
    private final String modelId;
    private final long height;
    private final long width;
    private final int channels;
    private final long padHeight;
    private final long padWidth;
    private final int iterations;
    private final EntropyMode entropyMode;
    private final int blockSize;
    private final int codeDepth;
    private final SortedMap<Integer, byte[]> extensions;

    /** A header with block size 16, code depth 32 and no extensions (the paper's model). */
    public Header(String modelId, long height, long width, int channels, long padHeight,
                  long padWidth, int iterations, EntropyMode entropyMode) {
        this(modelId, height, width, channels, padHeight, padWidth, iterations, entropyMode,
             16, 32, null);
    }

    public Header(String modelId, long height, long width, int channels, long padHeight,
                  long padWidth, int iterations, EntropyMode entropyMode, int blockSize,
                  int codeDepth, Map<Integer, byte[]> extensions) {
        if (modelId == null || entropyMode == null) {
            throw new NullPointerException("modelId and entropyMode are required");
        }
        this.modelId = modelId;
        this.height = height;
        this.width = width;
        this.channels = channels;
        this.padHeight = padHeight;
        this.padWidth = padWidth;
        this.iterations = iterations;
        this.entropyMode = entropyMode;
        this.blockSize = blockSize;
        this.codeDepth = codeDepth;
        TreeMap<Integer, byte[]> copy = new TreeMap<>();
        if (extensions != null) {
            for (Map.Entry<Integer, byte[]> e : extensions.entrySet()) {
                if (e.getKey() == null || e.getValue() == null) {
                    throw new NullPointerException("extension tags and values must not be null");
                }
                copy.put(e.getKey(), e.getValue().clone());
            }
        }
        this.extensions = Collections.unmodifiableSortedMap(copy);
    }

    /** The same header declaring another number of iterations (for writing a prefix). */
    public Header withIterations(int newIterations) {
        return new Header(modelId, height, width, channels, padHeight, padWidth, newIterations,
                          entropyMode, blockSize, codeDepth, extensions);
    }

    public String modelId() { return modelId; }
    public long height() { return height; }
    public long width() { return width; }
    /** 1 (greyscale) or 3 (RGB): the colour mode of the original image. */
    public int channels() { return channels; }
    public long padHeight() { return padHeight; }
    public long padWidth() { return padWidth; }
    /** Iterations (chunks) the file declares; a cut file may hold fewer. */
    public int iterations() { return iterations; }
    public EntropyMode entropyMode() { return entropyMode; }
    public int blockSize() { return blockSize; }
    public int codeDepth() { return codeDepth; }

    /** Extension records by tag, sorted; the values are copies. */
    public SortedMap<Integer, byte[]> extensions() {
        TreeMap<Integer, byte[]> copy = new TreeMap<>();
        for (Map.Entry<Integer, byte[]> e : extensions.entrySet()) {
            copy.put(e.getKey(), e.getValue().clone());
        }
        return Collections.unmodifiableSortedMap(copy);
    }

    SortedMap<Integer, byte[]> extensionsView() {
        return extensions;
    }

    /** Number of pixels of the original image (as an unsigned 64-bit value). */
    public long pixels() {
        return height * width;
    }

    /** Rows of one iteration's code ({@code padHeight / blockSize}). */
    public long codeRows() {
        return padHeight / blockSize;
    }

    /** Columns of one iteration's code ({@code padWidth / blockSize}). */
    public long codeCols() {
        return padWidth / blockSize;
    }

    /** Number of bits of one iteration's code, saturated at {@code Long.MAX_VALUE}. */
    public long codeCount() {
        return saturatedProduct(saturatedProduct(codeRows(), codeCols()), codeDepth);
    }

    /** Size in bytes of one iteration's code packed as raw bits. */
    public long rawChunkBytes() {
        long count = codeCount();
        return count == Long.MAX_VALUE ? count : (count + 7) / 8;
    }

    /** Largest chunk payload a reader accepts for this header. */
    public long maxChunkBytes() {
        long raw = rawChunkBytes();
        if (entropyMode == EntropyMode.RAW) {
            return raw;
        }
        return raw > (Long.MAX_VALUE - 1024) / 4 ? Long.MAX_VALUE : 4 * raw + 1024;
    }

    private static long saturatedProduct(long a, long b) {
        if (a == 0 || b == 0) {
            return 0;
        }
        return a > Long.MAX_VALUE / b ? Long.MAX_VALUE : a * b;
    }

    /**
     * Throws if the header is unusable: {@link BitstreamException.Kind#LIMIT} when the image
     * or its padded size has more than {@code maxPixels} pixels, else
     * {@link BitstreamException.Kind#MALFORMED}. {@code maxPixels == null} disables the size
     * limit (used when writing).
     */
    public void validate(Long maxPixels) throws BitstreamException {
        String mid = modelId;
        boolean printable = mid.length() >= 1 && mid.length() <= Bitstream.MAX_MODEL_ID_BYTES;
        for (int i = 0; printable && i < mid.length(); i++) {
            char c = mid.charAt(i);
            printable = c >= ' ' && c <= '~';
        }
        if (!printable) {
            throw malformed("model id must be 1.." + Bitstream.MAX_MODEL_ID_BYTES
                            + " printable ASCII characters, got " + pythonRepr(mid));
        }
        long h = height;
        long w = width;
        long ph = padHeight;
        long pw = padWidth;
        if (!(1 <= h && h <= Bitstream.U32_MAX && 1 <= w && w <= Bitstream.U32_MAX)) {
            throw malformed("image size " + h + "x" + w + " is invalid (each side must be 1.."
                            + Bitstream.U32_MAX + ")");
        }
        // both sides are at most 2^32 - 1, so the products fit in 64 bits unsigned
        if (maxPixels != null && Long.compareUnsigned(h * w, maxPixels) > 0) {
            throw new BitstreamException(BitstreamException.Kind.LIMIT,
                "header claims " + h + "x" + w + " pixels (" + Long.toUnsignedString(h * w)
                + "), above the limit of "
                + maxPixels + "; pass a larger maxPixels to raise it");
        }
        if (channels != 1 && channels != 3) {
            throw malformed("channels must be 1 or 3, got " + channels);
        }
        if (blockSize < 1 || blockSize > 255) {
            throw malformed("block size must be 1..255, got " + blockSize);
        }
        if (codeDepth < 1 || codeDepth > 255) {
            throw malformed("code depth must be 1..255, got " + codeDepth);
        }
        long step = 2L * blockSize;
        if (!(h <= ph && ph <= Bitstream.U32_MAX && w <= pw && pw <= Bitstream.U32_MAX)
                || ph % step != 0 || pw % step != 0) {
            throw malformed("padded size " + ph + "x" + pw + " must be multiples of " + step
                            + " and at least the image size " + h + "x" + w);
        }
        if (maxPixels != null && Long.compareUnsigned(ph * pw, maxPixels) > 0) {
            throw new BitstreamException(BitstreamException.Kind.LIMIT,
                "header claims a padded size of " + ph + "x" + pw + " pixels ("
                + Long.toUnsignedString(ph * pw) + "), above the limit of " + maxPixels + "; pass a larger maxPixels to raise it");
        }
        if (iterations < 1 || iterations > Bitstream.MAX_ITERATIONS) {
            throw malformed("iterations must be 1.." + Bitstream.MAX_ITERATIONS + ", got "
                            + iterations);
        }
        long total = 0;
        for (Map.Entry<Integer, byte[]> e : extensions.entrySet()) {
            int tag = e.getKey();
            if (tag < 0 || tag > 255) {
                throw malformed("extension tag must be 0..255, got " + tag);
            }
            if (e.getValue().length > 0xFFFF) {
                throw malformed("extension " + tag + " is " + e.getValue().length
                                + " bytes, above 65535");
            }
            total += 3 + e.getValue().length;
        }
        if (total > 0xFFFF) {
            throw malformed("extensions take more than 65535 bytes");
        }
    }

    private static BitstreamException malformed(String message) {
        return new BitstreamException(BitstreamException.Kind.MALFORMED, message);
    }

    /** Python's {@code repr()} of a string, so messages match the Python package's. */
    /** Python's {@code tfrnncomp.errors.shown_id}: an id quoted for a message, cut after
     *  {@link #SHOWN_ID_CHARS} characters (a file may hold a 60 KB id). */
    static String shownId(String s) {
        if (s.length() <= SHOWN_ID_CHARS) {
            return pythonRepr(s);
        }
        return pythonRepr(s.substring(0, SHOWN_ID_CHARS)) + "... (" + s.length() + " characters)";
    }

    /** Characters of an id that {@link #shownId} quotes (Python's {@code SHOWN_ID_CHARS}). */
    static final int SHOWN_ID_CHARS = 60;

    static String pythonRepr(String s) {
        char quote = s.indexOf('\'') >= 0 && s.indexOf('"') < 0 ? '"' : '\'';
        StringBuilder out = new StringBuilder().append(quote);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == quote || c == '\\') {
                out.append('\\').append(c);
            } else if (c == '\t') {
                out.append("\\t");
            } else if (c == '\n') {
                out.append("\\n");
            } else if (c == '\r') {
                out.append("\\r");
            } else if (c < ' ' || (c >= 0x7f && c <= 0xa0)) {
                out.append(String.format("\\x%02x", (int) c));
            } else {
                out.append(c);
            }
        }
        return out.append(quote).toString();
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof Header)) {
            return false;
        }
        Header h = (Header) o;
        if (!(modelId.equals(h.modelId) && height == h.height && width == h.width
              && channels == h.channels && padHeight == h.padHeight && padWidth == h.padWidth
              && iterations == h.iterations && entropyMode == h.entropyMode
              && blockSize == h.blockSize && codeDepth == h.codeDepth
              && extensions.keySet().equals(h.extensions.keySet()))) {
            return false;
        }
        for (Map.Entry<Integer, byte[]> e : extensions.entrySet()) {
            if (!Arrays.equals(e.getValue(), h.extensions.get(e.getKey()))) {
                return false;
            }
        }
        return true;
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(new Object[] {modelId, height, width, channels, padHeight,
                                             padWidth, iterations, entropyMode, blockSize,
                                             codeDepth, extensions.keySet()});
    }

    @Override
    public String toString() {
        return "Header(modelId=" + modelId + ", height=" + height + ", width=" + width
               + ", channels=" + channels + ", padHeight=" + padHeight + ", padWidth="
               + padWidth + ", iterations=" + iterations + ", entropyMode=" + entropyMode
               + ", blockSize=" + blockSize + ", codeDepth=" + codeDepth + ", extensions="
               + extensions.keySet() + ")";
    }
}
