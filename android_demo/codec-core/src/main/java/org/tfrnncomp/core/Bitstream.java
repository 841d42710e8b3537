package org.tfrnncomp.core;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.CRC32;

/**
 * Reader and writer of the {@code .trc} container, byte-compatible with
 * {@code tfrnncomp/format/container.py} (format version 1).
 *
 * <pre>
 * magic "TRNC" | version u8 | flags u8 | model_id (u8 len + ASCII)
 * height u32 | width u32 | channels u8 | pad_height u32 | pad_width u32
 * block_size u8 | code_depth u8 | iterations u8 | entropy u8
 * ext_len u16 + TLV records (u8 tag, u16 len, value) | header_crc u32
 * then `iterations` chunks: u32 length | payload | u32 crc32(index byte + payload)
 * </pre>
 *
 * All integers are big-endian. A file cut inside chunk k (k &gt; 1) reads as its
 * k - 1 whole chunks ({@link Container#complete()} is false); a cut inside the
 * header or the first chunk is a {@link BitstreamException.Kind#TRUNCATED} error.
 */
public final class Bitstream {
    public static final byte[] MAGIC = {'T', 'R', 'N', 'C'};
    public static final int FORMAT_VERSION = 1;
    public static final int MAX_ITERATIONS = 64;
    public static final long DEFAULT_MAX_PIXELS = 1L << 26;
    public static final int MAX_MODEL_ID_BYTES = 200;
    static final long U32_MAX = 0xFFFFFFFFL;
    /** Size of the fixed part after the model id (height .. ext_len). */
    static final int FIXED_BYTES = 23;

    private Bitstream() {
    }

    /** A parsed file: its header, the whole chunks present, and whether all were present. */
    public static final class Container {
        private final Header header;
        private final List<byte[]> chunks;
        private final boolean complete;

        Container(Header header, List<byte[]> chunks, boolean complete) {
            this.header = header;
            this.chunks = Collections.unmodifiableList(chunks);
            this.complete = complete;
        }

        public Header header() {
            return header;
        }

        /** The whole chunk payloads present, in order (do not modify the arrays). */
        public List<byte[]> chunks() {
            return chunks;
        }

        /** True if every declared chunk was present. */
        public boolean complete() {
            return complete;
        }
    }

    /** A header and the offset of the first byte after it. */
    public static final class HeaderAndOffset {
        public final Header header;
        public final int offset;

        HeaderAndOffset(Header header, int offset) {
            this.header = header;
            this.offset = offset;
        }
    }

    // -- writing --------------------------------------------------------------------------

    /** Serialises a header (validated, without the pixel limit) including its CRC. */
    public static byte[] encodeHeader(Header header) throws BitstreamException {
        header.validate(null);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] mid = header.modelId().getBytes(StandardCharsets.US_ASCII);
        out.write(MAGIC, 0, MAGIC.length);
        out.write(FORMAT_VERSION);
        out.write(0);
        out.write(mid.length);
        out.write(mid, 0, mid.length);
        byte[] ext = encodeExtensions(header.extensionsView());
        putU32(out, header.height());
        putU32(out, header.width());
        out.write(header.channels());
        putU32(out, header.padHeight());
        putU32(out, header.padWidth());
        out.write(header.blockSize());
        out.write(header.codeDepth());
        out.write(header.iterations());
        out.write(header.entropyMode().code());
        out.write(ext.length >>> 8);
        out.write(ext.length & 0xFF);
        out.write(ext, 0, ext.length);
        CRC32 crc = new CRC32();
        byte[] body = out.toByteArray();
        crc.update(body, 0, body.length);
        putU32(out, crc.getValue());
        return out.toByteArray();
    }

    /**
     * Serialises a header and its {@code header.iterations()} chunk payloads.
     *
     * @throws BitstreamException if the header is invalid
     * @throws IllegalArgumentException if the chunks do not fit the header
     */
    public static byte[] write(Header header, List<byte[]> chunks) throws BitstreamException {
        byte[] head = encodeHeader(header);
        if (chunks.size() != header.iterations()) {
            throw new IllegalArgumentException("header declares " + header.iterations()
                + " iterations, got " + chunks.size() + " chunks");
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(head, 0, head.length);
        for (int i = 0; i < chunks.size(); i++) {
            byte[] payload = chunks.get(i);
            long size = payload.length;
            if (header.entropyMode() == EntropyMode.RAW && size != header.rawChunkBytes()) {
                throw new IllegalArgumentException("chunk " + (i + 1) + ": RAW chunks must be "
                    + header.rawChunkBytes() + " bytes, got " + size);
            }
            if (size > header.maxChunkBytes()) {
                throw new IllegalArgumentException("chunk " + (i + 1) + ": " + size
                    + " bytes, above the bound of " + header.maxChunkBytes());
            }
            putU32(out, size);
            out.write(payload, 0, payload.length);
            putU32(out, chunkCrc(i, payload, 0, payload.length));
        }
        return out.toByteArray();
    }

    private static byte[] encodeExtensions(Map<Integer, byte[]> extensions) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (Map.Entry<Integer, byte[]> e : extensions.entrySet()) {
            byte[] v = e.getValue();
            out.write(e.getKey());
            out.write(v.length >>> 8);
            out.write(v.length & 0xFF);
            out.write(v, 0, v.length);
        }
        return out.toByteArray();
    }

    private static void putU32(ByteArrayOutputStream out, long value) {
        out.write((int) (value >>> 24) & 0xFF);
        out.write((int) (value >>> 16) & 0xFF);
        out.write((int) (value >>> 8) & 0xFF);
        out.write((int) value & 0xFF);
    }

    /** CRC32 of the 0-based chunk index (one byte) followed by the payload. */
    static long chunkCrc(int index, byte[] data, int offset, int length) {
        CRC32 crc = new CRC32();
        crc.update(index & 0xFF);
        crc.update(data, offset, length);
        return crc.getValue();
    }

    // -- reading --------------------------------------------------------------------------

    private static long u32(byte[] b, int at) {
        return ((b[at] & 0xFFL) << 24) | ((b[at + 1] & 0xFFL) << 16) | ((b[at + 2] & 0xFFL) << 8)
               | (b[at + 3] & 0xFFL);
    }

    private static int u8(byte[] b, int at) {
        return b[at] & 0xFF;
    }

    private static BitstreamException malformed(String message) {
        return new BitstreamException(BitstreamException.Kind.MALFORMED, message);
    }

    private static void need(long n, long count) throws BitstreamException {
        if (n < count) {
            throw new BitstreamException(BitstreamException.Kind.TRUNCATED,
                                         "file ends inside the header (" + n + " bytes)");
        }
    }

    /** {@link #decodeHeader(byte[], long)} with the default pixel limit. */
    public static HeaderAndOffset decodeHeader(byte[] data) throws BitstreamException {
        return decodeHeader(data, DEFAULT_MAX_PIXELS);
    }

    /** Parses and validates the header at the start of {@code data}. */
    public static HeaderAndOffset decodeHeader(byte[] data, long maxPixels)
            throws BitstreamException {
        if (maxPixels < 0) {
            throw new IllegalArgumentException("maxPixels must be >= 0, got " + maxPixels);
        }
        int n = data.length;
        for (int i = 0; i < Math.min(n, MAGIC.length); i++) {
            if (data[i] != MAGIC[i]) {
                throw malformed("not a tfrnncomp file (bad magic)");
            }
        }
        need(n, 5);
        int version = u8(data, 4);
        if (version > FORMAT_VERSION) {
            throw new BitstreamException(BitstreamException.Kind.UNSUPPORTED_VERSION,
                "format version " + version + " is newer than this reader (" + FORMAT_VERSION
                + "); upgrade tfrnncomp");
        }
        if (version != FORMAT_VERSION) {
            throw malformed("unknown format version " + version);
        }
        need(n, 7);
        int fixedAt = 7 + u8(data, 6);
        need(n, fixedAt + FIXED_BYTES);
        int p = fixedAt;
        long height = u32(data, p);
        long width = u32(data, p + 4);
        int channels = u8(data, p + 8);
        long padHeight = u32(data, p + 9);
        long padWidth = u32(data, p + 13);
        int block = u8(data, p + 17);
        int depth = u8(data, p + 18);
        int iterations = u8(data, p + 19);
        int entropy = u8(data, p + 20);
        int extLen = (u8(data, p + 21) << 8) | u8(data, p + 22);
        int extAt = fixedAt + FIXED_BYTES;
        int crcAt = extAt + extLen;
        need(n, crcAt + 4L);
        CRC32 crc = new CRC32();
        crc.update(data, 0, crcAt);
        if (crc.getValue() != u32(data, crcAt)) {
            throw new BitstreamException(BitstreamException.Kind.CHECKSUM,
                                         "header checksum mismatch");
        }
        if (data[5] != 0) {
            throw malformed(String.format("reserved flags byte is 0x%02x, expected 0",
                                          u8(data, 5)));
        }
        StringBuilder modelId = new StringBuilder();
        for (int i = 7; i < fixedAt; i++) {
            if ((data[i] & 0x80) != 0) {
                throw malformed("model id is not ASCII");
            }
            modelId.append((char) data[i]);
        }
        EntropyMode mode = EntropyMode.fromCode(entropy);
        if (mode == null) {
            throw malformed("unknown entropy mode " + entropy);
        }
        Map<Integer, byte[]> extensions = parseExtensions(data, extAt, crcAt);
        Header header = new Header(modelId.toString(), height, width, channels, padHeight,
                                   padWidth, iterations, mode, block, depth, extensions);
        header.validate(maxPixels);
        return new HeaderAndOffset(header, crcAt + 4);
    }

    private static Map<Integer, byte[]> parseExtensions(byte[] buf, int start, int end)
            throws BitstreamException {
        TreeMap<Integer, byte[]> out = new TreeMap<>();
        int pos = start;
        while (pos < end) {
            if (end - pos < 3) {
                throw malformed("extension block ends inside a record header");
            }
            int tag = u8(buf, pos);
            int length = (u8(buf, pos + 1) << 8) | u8(buf, pos + 2);
            pos += 3;
            if (end - pos < length) {
                throw malformed("extension " + tag + " claims " + length + " bytes, only "
                                + (end - pos) + " left");
            }
            if (out.containsKey(tag)) {
                throw malformed("duplicate extension tag " + tag);
            }
            byte[] value = new byte[length];
            System.arraycopy(buf, pos, value, 0, length);
            out.put(tag, value);
            pos += length;
        }
        return out;
    }

    /** {@link #read(byte[], long, boolean)} with the default limit, tolerating a cut file. */
    public static Container read(byte[] data) throws BitstreamException {
        return read(data, DEFAULT_MAX_PIXELS, false);
    }

    /**
     * Parses a whole file. A file cut inside chunk k (k &gt; 1) gives its k - 1 whole chunks
     * unless {@code strict}; {@code data} may be the bytes received so far of a download.
     *
     * @param maxPixels decompression-bomb guard: files whose header claims more pixels
     *     (original or padded) are refused before anything is allocated
     */
    public static Container read(byte[] data, long maxPixels, boolean strict)
            throws BitstreamException {
        HeaderAndOffset ho = decodeHeader(data, maxPixels);
        Header header = ho.header;
        long n = data.length;
        long pos = ho.offset;
        int total = header.iterations();
        long bound = header.maxChunkBytes();
        List<byte[]> chunks = new ArrayList<>();
        for (int i = 0; i < total; i++) {
            String where = "chunk " + (i + 1) + " of " + total;
            long size = 0;
            if (n - pos >= 4) {
                size = u32(data, (int) pos);
                if (header.entropyMode() == EntropyMode.RAW && size != header.rawChunkBytes()) {
                    throw malformed(where + ": length " + size + ", expected "
                                    + header.rawChunkBytes() + " for RAW codes");
                }
                if (size > bound) {
                    throw malformed(where + ": length " + size + " is above the bound of "
                                    + bound);
                }
            }
            if (n - pos < 4 || n - pos < 8 + size) {
                if (strict || chunks.isEmpty()) {
                    throw new BitstreamException(BitstreamException.Kind.TRUNCATED,
                                                 "file ends inside " + where);
                }
                return new Container(header, chunks, false);
            }
            int start = (int) pos + 4;
            int length = (int) size;
            if (u32(data, start + length) != chunkCrc(i, data, start, length)) {
                throw new BitstreamException(BitstreamException.Kind.CHECKSUM,
                                             where + ": checksum mismatch");
            }
            byte[] payload = new byte[length];
            System.arraycopy(data, start, payload, 0, length);
            chunks.add(payload);
            pos += 8 + size;
        }
        if (pos != n) {
            throw malformed((n - pos) + " bytes of trailing data");
        }
        return new Container(header, chunks, true);
    }

    // -- raw codes ------------------------------------------------------------------------

    /** Packs -1/+1 values (C order) into bits, +1 -> 1, most significant bit first. */
    public static byte[] packCodes(byte[] codes) {
        byte[] out = new byte[(codes.length + 7) / 8];
        for (int i = 0; i < codes.length; i++) {
            byte v = codes[i];
            if (v == 1) {
                out[i >>> 3] |= (byte) (0x80 >>> (i & 7));
            } else if (v != -1) {
                throw new IllegalArgumentException("codes must contain only -1 and +1, got "
                                                   + v + " at " + i);
            }
        }
        return out;
    }

    /** Inverse of {@link #packCodes}: {@code count} values of -1/+1. */
    public static byte[] unpackCodes(byte[] payload, int count) throws BitstreamException {
        if (count < 1) {
            throw new IllegalArgumentException("count must be positive, got " + count);
        }
        int expected = (int) ((count + 7L) / 8);
        if (payload.length != expected) {
            throw malformed("code payload is " + payload.length + " bytes, expected "
                            + expected + " for " + count + " bits");
        }
        byte[] out = new byte[count];
        for (int i = 0; i < count; i++) {
            out[i] = (byte) (((payload[i >>> 3] >>> (7 - (i & 7))) & 1) * 2 - 1);
        }
        return out;
    }
}
