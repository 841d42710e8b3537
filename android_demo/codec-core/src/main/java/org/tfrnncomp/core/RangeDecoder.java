package org.tfrnncomp.core;

/**
 * Range decoder for the bytes of tensorflow-compression's range coder
 * ({@code RangeDecoder} in tensorflow_compression/cc/lib/range_coder.h, used by
 * {@code create_range_decoder} / {@code entropy_decode_index} /
 * {@code entropy_decode_finalize}), written from its description; see
 * {@link RangeEncoder} for the interval arithmetic.
 *
 * <p>The decoder holds a 32-bit window {@code value} of the input and mirrors
 * the encoder's interval. Bytes past the end of the input read as zero (the
 * encoder leaves trailing zeros implicit), so any input decodes to some symbols;
 * {@link #finish()} is the weak consistency check of the original.
 */
public final class RangeDecoder {
    private static final long MASK = 0xFFFFFFFFL;

    private final byte[] data;
    private final int end;
    private int pos;
    private long base = 0;
    private long sizeMinus1 = MASK;
    private long value = 0;

    public RangeDecoder(byte[] data) {
        this(data, 0, data.length);
    }

    /** Decodes {@code length} bytes of {@code data} from {@code offset} (not copied). */
    public RangeDecoder(byte[] data, int offset, int length) {
        if (offset < 0 || length < 0 || offset > data.length - length) {
            throw new IndexOutOfBoundsException("bad offset/length");
        }
        this.data = data;
        this.pos = offset;
        this.end = offset + length;
        read16();
        read16();
    }

    private void read16() {
        value = (value << 8) & MASK;
        if (pos != end) {
            value |= data[pos++] & 0xFF;
        }
        value = (value << 8) & MASK;
        if (pos != end) {
            value |= data[pos++] & 0xFF;
        }
    }

    /**
     * Decodes a symbol given its CDF: {@code cdf[0] = 0}, non-decreasing, last
     * element at most {@code 2^precision} (normally equal). Returns the index k
     * with {@code cdf[k] <= scaled value < cdf[k + 1]}.
     */
    public int decode(int[] cdf, int precision) {
        if (!(0 < precision && precision <= 16)) {
            throw new IllegalArgumentException("precision not in (0, 16]: " + precision);
        }
        if (cdf.length < 2) {
            throw new IllegalArgumentException("cdf needs at least 2 values");
        }
        long size = sizeMinus1 + 1;
        long lowerBound = (((value - base) & MASK) + 1) << precision;
        // smallest k >= 1 with lowerBound <= size * cdf[k] (binary search, as the original)
        int lo = 1;
        int len = cdf.length - 1;
        while (len > 0) {
            int half = len / 2;
            int mid = lo + half;
            if (lowerBound <= size * cdf[mid]) {
                len = half;
            } else {
                lo = mid + 1;
                len -= half + 1;
            }
        }
        if (lo >= cdf.length) {
            // impossible for a CDF ending at 2^precision; the original does not check
            throw new IllegalStateException("range decoder: value above the last CDF entry");
        }
        return narrow(size, cdf[lo - 1], cdf[lo], precision, lo - 1);
    }

    private int narrow(long size, long lowerCdf, long upperCdf, int precision, int symbol) {
        long a = (size * lowerCdf) >>> precision;
        long b = ((size * upperCdf) >>> precision) - 1;
        base = (base + a) & MASK;
        sizeMinus1 = (b - a) & MASK;
        if ((sizeMinus1 >>> 16) == 0) {
            base = (base << 16) & MASK;
            sizeMinus1 = ((sizeMinus1 << 16) | 0xFFFF) & MASK;
            read16();
        }
        return symbol;
    }

    /**
     * Decodes one bit coded with row {@code index} of {@link BinaryTable}
     * ({@code entropy_decode_index} with tfrnncomp's lookup table).
     */
    public int decodeBit(int index) {
        BinaryTable.checkIndex(index);
        long size = sizeMinus1 + 1;
        long lowerBound = (((value - base) & MASK) + 1) << BinaryTable.PRECISION;
        int cdf0 = index + 1;
        if (lowerBound <= size * cdf0) {
            return narrow(size, 0, cdf0, BinaryTable.PRECISION, 0);
        }
        // lowerBound <= size * 4096 always holds: value - base <= size - 1
        return narrow(size, cdf0, 1 << BinaryTable.PRECISION, BinaryTable.PRECISION, 1);
    }

    /** Decodes {@code indices.length} bits into {@code out[offset ...]}. */
    public void decodeBits(int[] indices, byte[] out, int offset) {
        for (int i = 0; i < indices.length; i++) {
            out[offset + i] = (byte) decodeBit(indices[i]);
        }
    }

    /**
     * After decoding every symbol: false means the input was certainly not
     * decoded as encoded (not read to the end, or a final value the encoder
     * cannot have written); true may still be a false positive. Same rule as
     * {@code entropy_decode_finalize}.
     */
    public boolean finish() {
        if (pos != end) {
            return false;
        }
        long upper = (base + sizeMinus1) & MASK;
        if (base == 0 || upper < base) {
            return value == 0;
        }
        int shift = (((base - 1) >>> 24) < (upper >>> 24)) ? 24 : 16;
        long mid = ((base - 1) >>> shift) + 1;
        return ((mid << shift) & MASK) == value;
    }
}
