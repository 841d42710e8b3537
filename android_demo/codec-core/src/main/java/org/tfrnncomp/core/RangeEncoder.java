package org.tfrnncomp.core;

import java.io.ByteArrayOutputStream;

/**
 * Range encoder producing the same bytes as tensorflow-compression's
 * {@code RangeEncoder} (tensorflow_compression/cc/lib/range_coder.cc, used by the
 * {@code create_range_encoder} / {@code entropy_encode_index} /
 * {@code entropy_encode_finalize} ops), written from its description.
 *
 * <p>The state is a 32-bit interval {@code [base, base + size)} with
 * {@code 2^16 <= size <= 2^32}. A symbol with cumulative frequencies
 * {@code [lower, upper) / 2^precision} narrows it to
 * {@code [base + floor(size * lower / 2^p), base + floor(size * upper / 2^p))};
 * when the size falls to 2^16 or below, 16 bits are shifted out. If the two
 * candidate top halves differ (a carry is still possible), the encoder defers
 * them in {@code delay} (low 16 bits: the value plus one; upper bits: how many
 * further bytes are pending) until the interval settles below or above the
 * 2^32 boundary. The final flush writes the shortest value inside the interval,
 * leaving trailing zero bytes implicit (the decoder reads zeros past the end).
 *
 * <p>All state is held in {@code long}s masked to 32 bits.
 */
public final class RangeEncoder {
    private static final long MASK = 0xFFFFFFFFL;

    private long base = 0;
    private long sizeMinus1 = MASK;
    private long delay = 0;
    private boolean finished = false;
    private final ByteArrayOutputStream sink = new ByteArrayOutputStream();

    /** Test hook: counts of the branches taken (see {@code RangeCoderTest}); null = off. */
    long[] trace;

    private void count(int branch) {
        if (trace != null) {
            trace[branch]++;
        }
    }

    /**
     * Encodes the half-open interval {@code [lower, upper) / 2^precision}.
     * Requires {@code 0 <= lower < upper <= 2^precision} and {@code 0 < precision <= 16}.
     */
    public void encode(int lower, int upper, int precision) {
        if (finished) {
            throw new IllegalStateException("encoder already finished");
        }
        if (!(0 < precision && precision <= 16)) {
            throw new IllegalArgumentException("precision not in (0, 16]: " + precision);
        }
        if (!(0 <= lower && lower < upper && upper <= (1 << precision))) {
            throw new IllegalArgumentException("Must satisfy 0 <= lower < upper <= "
                + (1 << precision) + ": lower=" + lower + ", upper=" + upper);
        }
        long size = sizeMinus1 + 1;  // 2^16 < size <= 2^32
        long a = (size * lower) >>> precision;
        long b = ((size * upper) >>> precision) - 1;
        base = (base + a) & MASK;
        sizeMinus1 = (b - a) & MASK;
        boolean baseOverflow = base < a;

        if (((base + sizeMinus1) & MASK) < base) {
            // state 1: the interval straddles 2^32; the pending output is still undecided
            if ((sizeMinus1 >>> 16) == 0) {
                base = (base << 16) & MASK;
                sizeMinus1 = ((sizeMinus1 << 16) | 0xFFFF) & MASK;
                delay += 0x20000;  // two more pending bytes (0x00 or 0xFF once settled)
                count(1);
            } else {
                count(0);
            }
            return;
        }

        if (delay != 0) {
            // state 1 -> 0: the carry is settled
            long pending = delay >>> 16;
            if (baseOverflow) {
                // the interval moved above 2^32: the delayed value, then zeros
                sink.write((int) (delay >>> 8) & 0xFF);
                sink.write((int) delay & 0xFF);
                for (long i = 0; i < pending; i++) {
                    sink.write(0);
                }
                count(pending > 0 ? 12 : 2);
            } else {
                // the interval stayed below 2^32: the delayed value minus one, then 0xFF
                long value = delay - 1;
                sink.write((int) (value >>> 8) & 0xFF);
                sink.write((int) value & 0xFF);
                for (long i = 0; i < pending; i++) {
                    sink.write(0xFF);
                }
                count(pending > 0 ? 13 : 3);
            }
            delay = 0;
        }

        if ((sizeMinus1 >>> 16) == 0) {
            long top = base >>> 16;
            base = (base << 16) & MASK;
            sizeMinus1 = ((sizeMinus1 << 16) | 0xFFFF) & MASK;
            if (base <= ((base + sizeMinus1) & MASK)) {
                sink.write((int) (top >>> 8) & 0xFF);
                sink.write((int) top & 0xFF);
                count(4);
            } else {
                delay = top + 1;  // enter state 1
                count(5);
            }
        }
    }

    /**
     * Encodes one bit with row {@code index} of the binary table of
     * {@link BinaryTable}: {@code P(bit = 0) = (index + 1) / 4096}. This is what
     * {@code entropy_encode_index} does with tfrnncomp's lookup table.
     */
    public void encodeBit(int index, int bit) {
        BinaryTable.checkIndex(index);
        if (bit == 0) {
            encode(0, index + 1, BinaryTable.PRECISION);
        } else if (bit == 1) {
            encode(index + 1, 1 << BinaryTable.PRECISION, BinaryTable.PRECISION);
        } else {
            throw new IllegalArgumentException("value=" + bit + " not in range [0, 2)");
        }
    }

    /** Encodes {@code bits[i]} with table row {@code indices[i]} for every i. */
    public void encodeBits(int[] indices, byte[] bits) {
        if (indices.length != bits.length) {
            throw new IllegalArgumentException("indices and bits differ in length");
        }
        for (int i = 0; i < bits.length; i++) {
            encodeBit(indices[i], bits[i]);
        }
    }

    /** Flushes the encoder and returns every byte written; the encoder cannot be reused. */
    public byte[] finish() {
        if (!finished) {
            finished = true;
            if (delay != 0) {
                // state 1: 2^32 is inside the interval; write the delayed value only
                sink.write((int) (delay >>> 8) & 0xFF);
                if ((delay & 0xFF) != 0) {
                    sink.write((int) delay & 0xFF);
                    count(6);
                } else {
                    count(7);
                }
            } else if (base != 0) {
                long upper = (base + sizeMinus1) & MASK;
                long mid = ((base - 1) >>> 24) + 1;  // base rounded up to a multiple of 2^24
                if (mid <= (upper >>> 24)) {
                    sink.write((int) mid & 0xFF);
                    count(9);
                } else {
                    mid = ((base - 1) >>> 16) + 1;  // ... or to a multiple of 2^16
                    sink.write((int) (mid >>> 8) & 0xFF);
                    if ((mid & 0xFF) != 0) {
                        sink.write((int) mid & 0xFF);
                        count(10);
                    } else {
                        count(11);
                    }
                }
            } else {
                count(8);  // base 0: all zeros, implicit
            }
        }
        return sink.toByteArray();
    }
}
