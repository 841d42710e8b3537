package org.tfrnncomp.core;

/**
 * Convolution taps over code bits, four bits at a time: for weights laid out
 * {@code [tap][depth][C]} and codes in {-1, +1}, the sum over four consecutive
 * depths {@code sum_j w[d + j][o] * c[d + j]} depends only on the four bits, so it
 * is looked up in a table of 16 precomputed C-vectors ({@link #add}) instead of four
 * vector additions. The sums are the same integers in any order, so the result is
 * bit-exact. Groups holding an uncoded 0 are summed bit by bit ({@link #NONE}).
 */
final class CodeTaps {
    /** Nibble code of a group of four codes that holds a 0. */
    static final int NONE = -1;

    private final int[] weights;
    private final int depth;
    private final int channels;
    private final int groups;
    private final int[] table;  // [tap][group][16][C]

    CodeTaps(int[] weights, int taps, int depth, int channels) {
        if (depth % 4 != 0 || weights.length != taps * depth * channels) {
            throw new IllegalArgumentException("depth must be a multiple of 4");
        }
        this.weights = weights;
        this.depth = depth;
        this.channels = channels;
        this.groups = depth / 4;
        this.table = new int[taps * groups * 16 * channels];
        for (int tap = 0; tap < taps; tap++) {
            for (int g = 0; g < groups; g++) {
                int at = (tap * groups + g) * 16 * channels;
                int wAt = (tap * depth + 4 * g) * channels;
                for (int j = 0; j < 4; j++) {
                    for (int o = 0; o < channels; o++) {
                        table[at + o] -= weights[wAt + j * channels + o];
                    }
                }
                for (int p = 1; p < 16; p++) {
                    int low = Integer.numberOfTrailingZeros(p);
                    int from = at + (p & (p - 1)) * channels;
                    int to = at + p * channels;
                    for (int o = 0; o < channels; o++) {
                        table[to + o] = table[from + o] + 2 * weights[wAt + low * channels + o];
                    }
                }
            }
        }
    }

    /**
     * Nibble codes of {@code positions} code vectors of {@code bits} values each
     * ({@code codes[from ...]}): bit j of group g is 1 where code {@code 4g + j} is
     * +1, {@link #NONE} where the group holds a 0.
     */
    static void nibbles(byte[] codes, int from, int positions, int bits, int[] out, int outAt) {
        int n = positions * bits / 4;
        for (int i = 0; i < n; i++) {
            int at = from + 4 * i;
            int p = 0;
            boolean coded = true;
            for (int j = 0; j < 4; j++) {
                int v = codes[at + j];
                coded &= v != 0;
                p |= (v > 0 ? 1 : 0) << j;
            }
            out[outAt + i] = coded ? p : NONE;
        }
    }

    /**
     * {@code acc[accAt + o] += sum_{d < count * 4} w[tap][4 * group0 + d][o] * c[d]}, the
     * codes given as {@code count} nibble codes from {@code nib[nibAt]} (and as values
     * {@code codes[codesAt ...]} for the groups that hold a 0).
     */
    void add(int[] acc, int accAt, int tap, int group0, int count, int[] nib, int nibAt,
             byte[] codes, int codesAt) {
        int c = channels;
        for (int g = 0; g < count; g++) {
            int p = nib[nibAt + g];
            if (p != NONE) {
                int at = ((tap * groups + group0 + g) * 16 + p) * c;
                for (int o = 0; o < c; o++) {
                    acc[accAt + o] += table[at + o];
                }
                continue;
            }
            for (int j = 0; j < 4; j++) {
                int v = codes[codesAt + 4 * g + j];
                int wAt = (tap * depth + 4 * (group0 + g) + j) * c;
                for (int o = 0; o < c; o++) {
                    acc[accAt + o] += v * weights[wAt + o];
                }
            }
        }
    }
}
