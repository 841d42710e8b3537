package org.tfrnncomp.core;

/**
 * The integer context model of entropy mode "context": an exact port of
 * {@code tfrnncomp/entropy/coding/context.py}.
 *
 * <p>The bits of one iteration ({@code [h][w][depth]}, C order, values 0/1) are
 * coded in raster order. The context of bit {@code c_t(y, x, d)} is
 * {@code (d, c_{t-1}(y, x, d), c_{t-2}(y, x, d), c_t(y - 1, x, d))}, each
 * neighbour 0, 1 or {@link #ABSENT}: {@code ((d * 3 + prev1) * 3 + prev2) * 3 + up}.
 * Row y is coded with counts {@code n0, n1} per context gathered over rows
 * {@code < y} of the same iteration (the counts restart every iteration), with the
 * Krichevsky-Trofimov estimate in integers
 * {@code cdf0 = clip(((2 n0 + 1) << 12) / (2 (n0 + n1) + 2), 1, 4095)} and
 * table index {@code cdf0 - 1} ({@link BinaryTable}).
 *
 * <p>Bit arrays are flat {@code byte[]} of 0/1 in C order; the previous
 * iterations may be {@code null} (absent).
 */
public final class ContextModel {
    public static final int ABSENT = 2;
    public static final int STATES = 3;

    private ContextModel() {
    }

    /** Number of contexts for codes of {@code depth} bits: {@code depth * 27}. */
    public static int numContexts(int depth) {
        return depth * STATES * STATES * STATES;
    }

    /** Integer KT estimate of P(bit = 0) scaled to 4096, clipped to [1, 4095]. */
    public static int cdf0FromCounts(long n0, long n1) {
        long cdf0 = ((2 * n0 + 1) << BinaryTable.PRECISION) / (2 * (n0 + n1) + 2);
        return (int) Math.max(1, Math.min(cdf0, (1 << BinaryTable.PRECISION) - 1));
    }

    private static void check(byte[] bits, int h, int w, int depth, String name) {
        if (h < 1 || w < 1 || depth < 1 || (long) h * w * depth > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("bad shape " + h + "x" + w + "x" + depth);
        }
        if (bits != null && bits.length != h * w * depth) {
            throw new IllegalArgumentException(name + " holds " + bits.length
                + " values, expected " + h * w * depth);
        }
    }

    /** The context model's state while coding one iteration, row by row. */
    private static final class RowCoder {
        final int w;
        final int depth;
        final int rowSize;
        final byte[] prev1;
        final byte[] prev2;
        final int[] counts;  // [context][bit]
        final int[] contexts;
        final int[] indices;

        RowCoder(int w, int depth, byte[] prev1, byte[] prev2) {
            this.w = w;
            this.depth = depth;
            this.rowSize = w * depth;
            this.prev1 = prev1;
            this.prev2 = prev2;
            this.counts = new int[2 * numContexts(depth)];
            this.contexts = new int[rowSize];
            this.indices = new int[rowSize];
        }

        private static int neighbour(byte[] previous, int at) {
            return previous == null ? ABSENT : previous[at];
        }

        /** Fills contexts/indices of row y; {@code up} is row y - 1 (offset) or null. */
        void prepare(int y, byte[] up, int upOffset) {
            int base = y * rowSize;
            int i = 0;
            for (int x = 0; x < w; x++) {
                for (int d = 0; d < depth; d++, i++) {
                    int u = up == null ? ABSENT : up[upOffset + i];
                    int ctx = ((d * STATES + neighbour(prev1, base + i)) * STATES
                               + neighbour(prev2, base + i)) * STATES + u;
                    contexts[i] = ctx;
                    indices[i] = cdf0FromCounts(counts[2 * ctx], counts[2 * ctx + 1]) - 1;
                }
            }
        }

        /** Adds the coded row to the counts. */
        void update(byte[] bits, int offset) {
            for (int i = 0; i < rowSize; i++) {
                counts[2 * contexts[i] + bits[offset + i]]++;
            }
        }
    }

    private static void checkBits(byte[] bits, String name) {
        if (bits == null) {
            return;
        }
        for (byte b : bits) {
            if (b != 0 && b != 1) {
                throw new IllegalArgumentException(name + " must be a 0/1 array");
            }
        }
    }

    /** The shapes and 0/1 values of one iteration's bits and of the two earlier iterations. */
    private static void checkIteration(byte[] bits, int h, int w, int depth, byte[] prev1,
                                       byte[] prev2) {
        check(bits, h, w, depth, "bits");
        check(prev1, h, w, depth, "prev1");
        check(prev2, h, w, depth, "prev2");
        checkBits(prev1, "prev1");
        checkBits(prev2, "prev2");
        checkBits(bits, "bits");
    }

    /** Table indices of every bit of one iteration (encoder side; for tests and analysis). */
    public static int[] indicesFor(byte[] bits, int h, int w, int depth, byte[] prev1,
                                   byte[] prev2) {
        checkIteration(bits, h, w, depth, prev1, prev2);
        RowCoder coder = new RowCoder(w, depth, prev1, prev2);
        int[] out = new int[bits.length];
        for (int y = 0; y < h; y++) {
            coder.prepare(y, y == 0 ? null : bits, (y - 1) * coder.rowSize);
            System.arraycopy(coder.indices, 0, out, y * coder.rowSize, coder.rowSize);
            coder.update(bits, y * coder.rowSize);
        }
        return out;
    }

    /** The model's ideal code length in bits (cross-entropy of the coded bits). */
    public static double codeLength(byte[] bits, int h, int w, int depth, byte[] prev1,
                                    byte[] prev2) {
        int[] indices = indicesFor(bits, h, w, depth, prev1, prev2);
        double total = 0;
        for (int i = 0; i < bits.length; i++) {
            double cdf0 = (indices[i] + 1) / (double) (1 << BinaryTable.PRECISION);
            total -= Math.log(bits[i] == 0 ? cdf0 : 1 - cdf0) / Math.log(2);
        }
        return total;
    }

    /** Range-codes one iteration's 0/1 bits given the two earlier iterations (or null). */
    public static byte[] encode(byte[] bits, int h, int w, int depth, byte[] prev1,
                                byte[] prev2) {
        checkIteration(bits, h, w, depth, prev1, prev2);
        RowCoder coder = new RowCoder(w, depth, prev1, prev2);
        RangeEncoder encoder = new RangeEncoder();
        for (int y = 0; y < h; y++) {
            int offset = y * coder.rowSize;
            coder.prepare(y, y == 0 ? null : bits, offset - coder.rowSize);
            for (int i = 0; i < coder.rowSize; i++) {
                encoder.encodeBit(coder.indices[i], bits[offset + i]);
            }
            coder.update(bits, offset);
        }
        return encoder.finish();
    }

    /**
     * Decodes one iteration's 0/1 bits from {@code payload}, given the two earlier
     * iterations' bits (or null).
     *
     * @throws BitstreamException ({@code MALFORMED}) if the range decoder's final
     *     check fails, with the Python package's message
     */
    public static byte[] decode(byte[] payload, int h, int w, int depth, byte[] prev1,
                                byte[] prev2) throws BitstreamException {
        check(null, h, w, depth, "bits");
        check(prev1, h, w, depth, "prev1");
        check(prev2, h, w, depth, "prev2");
        checkBits(prev1, "prev1");
        checkBits(prev2, "prev2");
        RowCoder coder = new RowCoder(w, depth, prev1, prev2);
        RangeDecoder decoder = new RangeDecoder(payload);
        byte[] out = new byte[h * w * depth];
        for (int y = 0; y < h; y++) {
            int offset = y * coder.rowSize;
            coder.prepare(y, y == 0 ? null : out, offset - coder.rowSize);
            decoder.decodeBits(coder.indices, out, offset);
            coder.update(out, offset);
        }
        if (!decoder.finish()) {
            throw new BitstreamException(BitstreamException.Kind.MALFORMED,
                "entropy-coded chunk is inconsistent (range decoder check failed)");
        }
        return out;
    }
}
