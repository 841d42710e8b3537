package org.tfrnncomp.core;

/**
 * The binary CDF table of tfrnncomp's range coding
 * ({@code tfrnncomp/entropy/coding/rangecoder.py}).
 *
 * <p>Row {@code i} of the lookup table handed to tensorflow-compression is
 * {@code [precision = 12, 0, i + 1, 4096]}: a positive precision (no overflow /
 * escape coding), and the CDF {@code [0, i + 1, 4096]}, so
 * {@code P(bit = 0) = (i + 1) / 4096} for {@code i} in {@code [0, 4095)}.
 */
public final class BinaryTable {
    /** Bits of probability precision. */
    public static final int PRECISION = 12;
    /** Number of rows: indices are {@code 0 .. SIZE - 1}. */
    public static final int SIZE = (1 << PRECISION) - 1;

    private BinaryTable() {
    }

    /** The table index of {@code cdf0 = P(bit = 0) * 4096} in {@code [1, 4095]}. */
    public static int index(int cdf0) {
        if (cdf0 < 1 || cdf0 > SIZE) {
            throw new IllegalArgumentException("cdf0=" + cdf0 + " not in range [1, " + SIZE + "]");
        }
        return cdf0 - 1;
    }

    static void checkIndex(int index) {
        if (index < 0 || index >= SIZE) {
            throw new IllegalArgumentException("index=" + index + " not in range [0, " + SIZE
                                               + ")");
        }
    }
}
