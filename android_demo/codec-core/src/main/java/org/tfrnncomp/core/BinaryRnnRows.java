package org.tfrnncomp.core;

/**
 * The integer BinaryRNN run over one iteration, one code row at a time
 * ({@code BINARYRNN.md} section 3): {@link #next} runs row y from rows {@code < y}
 * of the same iteration and from iterations t-1 and t-2; then, for each depth group g,
 * {@link #group} gives the range-coder table index of the group's bits of row y from
 * the row's bits of the groups before it, which the caller fills in before asking for
 * the next group; then {@link #next} again for row y + 1.
 *
 * <p>Only integers: accumulators are {@code int} (the spec bounds them below
 * 2^31), requantization products {@code long}. Every inner loop runs over an
 * output channel axis that is contiguous in the weights, so the JIT can
 * vectorize it. Codes are flat C-order {@code byte[h * w * D]} in {-1, 0, +1}.
 */
final class BinaryRnnRows {
    static final int GATE_MAX = 2048;
    static final int LOGIT_MAX = 3072;
    static final int ACT_MAX = 2047;
    static final int CELL_MAX = 1 << 15;

    private final BinaryRnnModel m;
    private final int h;
    private final int w;
    private final int t;
    private final byte[] codes;
    private final byte[] prev1;
    private final byte[] prev2;
    private int y = 0;

    private final int[] acc;      // [w][C] masked / previous accumulators
    private final int[] accP;
    final int[] features;         // X [w][C] of the last row
    private final int[] gates;    // [w][4C]
    private final int[] gatesH;
    final int[] state;            // H [w][C] of the last row
    private final int[] cell;     // Cs [w][C]
    private final int[] hidden;   // Y [C]
    private final int[] logits;   // [D]
    private final long[] head;    // [w][D] requantized logits of row y, before the group term
    private final int[] indices;  // [w][S] of one depth group
    private final int[] nib;      // nibble codes (CodeTaps) of this iteration's finished rows
    private final int[] nib1;     // of iterations t-1 and t-2 (null if absent or D % 4 != 0)
    private final int[] nib2;

    /**
     * @param t       the 1-based iteration
     * @param codes   this iteration's codes, rows {@code < y} filled in before {@code next()}
     * @param prev1   codes of iteration t-1, or null if absent
     * @param prev2   codes of iteration t-2, or null if absent
     */
    BinaryRnnRows(BinaryRnnModel model, int h, int w, int t, byte[] codes, byte[] prev1,
                  byte[] prev2) {
        int size = h * w * model.bits;
        if (h < 1 || w < 1 || t < 1 || (long) h * w * model.bits > Integer.MAX_VALUE
            || codes.length != size || (prev1 != null && prev1.length != size)
            || (prev2 != null && prev2.length != size)) {
            throw new IllegalArgumentException("bad shape " + h + "x" + w + "x" + model.bits
                                               + " or iteration " + t);
        }
        this.m = model;
        this.h = h;
        this.w = w;
        this.t = t;
        this.codes = codes;
        this.prev1 = prev1;
        this.prev2 = prev2;
        int c = model.channels;
        acc = new int[w * c];
        accP = new int[w * c];
        features = new int[w * c];
        gates = new int[w * 4 * c];
        gatesH = new int[w * 4 * c];
        state = new int[w * c];
        cell = new int[w * c];
        hidden = new int[c];
        logits = new int[model.bits];
        head = new long[w * model.bits];
        indices = new int[w * model.groupSize];
        boolean taps = model.maskedTaps != null;
        nib = taps ? new int[size / 4] : null;
        nib1 = taps && prev1 != null ? new int[size / 4] : null;
        nib2 = taps && prev2 != null ? new int[size / 4] : null;
        if (nib1 != null) {
            CodeTaps.nibbles(prev1, 0, h * w, model.bits, nib1, 0);
        }
        if (nib2 != null) {
            CodeTaps.nibbles(prev2, 0, h * w, model.bits, nib2, 0);
        }
    }

    static long rq(long acc, int multiplier, int shift) {
        return (acc * multiplier + (1L << (shift - 1))) >> shift;
    }

    private static int clamp(long v, int lo, int hi) {
        return (int) Math.max(lo, Math.min(hi, v));
    }

    /** Runs the next row up to its logits; {@link #group} then gives its indices. */
    void next() {
        if (y >= h) {
            throw new IllegalStateException("all " + h + " rows done");
        }
        if (nib != null && y > 0) {  // row y - 1 is final now
            int n = w * m.bits;
            CodeTaps.nibbles(codes, (y - 1) * n, w, m.bits, nib, (y - 1) * n / 4);
        }
        features();
        lstm();
        head();
        y++;
    }

    /**
     * The table indices {@code [w][S]} of depth group {@code g} of the row of the last
     * {@link #next} (a view, valid until the next call), from that row's codes of the groups
     * before {@code g} (section 3, step 5).
     */
    int[] group(int g) {
        int depth = m.bits;
        int size = m.groupSize;
        int at = (y - 1) * w * depth;
        for (int x = 0; x < w; x++) {
            for (int j = 0; j < size; j++) {
                int d = g * size + j;
                long l = head[x * depth + d];
                if (g > 0) {
                    int acc = 0;
                    for (int e = 0; e < g * size; e++) {
                        acc += m.groupW[e * depth + d] * codes[at + x * depth + e];
                    }
                    l += rq(acc, m.groupM[d], m.shiftGroup);
                }
                int v = clamp(l, -LOGIT_MAX, LOGIT_MAX);
                indices[x * size + j] = m.cdf0Lut[v + LOGIT_MAX] - 1;
            }
        }
        return indices;
    }

    /** Rows done so far. */
    int row() {
        return y;
    }

    /** acc[x][o] += sum_d wt[(base + d) * C + o] * src[at + d] over d < n (src in -1..1). */
    private static void addCodes(int[] acc, int accAt, int[] wt, int base, byte[] src, int at,
                                 int n, int c) {
        for (int d = 0; d < n; d++) {
            int v = src[at + d];
            if (v == 0) {
                continue;
            }
            int wAt = (base + d) * c;
            if (v > 0) {
                for (int o = 0; o < c; o++) {
                    acc[accAt + o] += wt[wAt + o];
                }
            } else {
                for (int o = 0; o < c; o++) {
                    acc[accAt + o] -= wt[wAt + o];
                }
            }
        }
    }

    /** Section 3, steps 1-3: X of row y. */
    private void features() {
        int c = m.channels;
        int depth = m.bits;
        int rows = m.maskedRows;
        int half = m.maskedWidth / 2;
        for (int x = 0; x < w; x++) {
            System.arraycopy(m.maskedB, 0, acc, x * c, c);
            for (int r = 0; r < rows; r++) {
                int yy = y - rows + r;
                if (yy < 0) {
                    continue;
                }
                for (int k = 0; k < m.maskedWidth; k++) {
                    int xx = x - half + k;
                    int at = (yy * w + xx) * depth;
                    int tap = r * m.maskedWidth + k;
                    if (xx < 0 || xx >= w) {
                        continue;
                    }
                    if (nib != null) {
                        m.maskedTaps.add(acc, x * c, tap, 0, depth / 4, nib, at / 4, codes, at);
                    } else {
                        addCodes(acc, x * c, m.maskedW, tap * depth, codes, at, depth, c);
                    }
                }
            }
        }
        if (m.progressive) {
            previous();
        }
        for (int x = 0; x < w; x++) {
            for (int o = 0; o < c; o++) {
                long v = rq(acc[x * c + o], m.maskedM[o], m.shiftMasked);
                if (m.progressive) {
                    v += rq(accP[x * c + o], m.previousM[o], m.shiftPrevious);
                }
                features[x * c + o] = clamp(v, -ACT_MAX, ACT_MAX);
            }
        }
    }

    /** Section 3, step 2: the earlier-iterations accumulators of row y. */
    private void previous() {
        int c = m.channels;
        int depth = m.bits;
        int p = m.previousKernel;
        int half = p / 2;
        int embedding = (Math.min(t, m.iterations) - 1) * c;
        for (int x = 0; x < w; x++) {
            System.arraycopy(m.iterationB, embedding, accP, x * c, c);
            for (int i = 0; i < p; i++) {
                int yy = y - half + i;
                if (yy < 0 || yy >= h) {
                    continue;
                }
                for (int k = 0; k < p; k++) {
                    int xx = x - half + k;
                    if (xx < 0 || xx >= w) {
                        continue;
                    }
                    int tap = i * p + k;
                    int base = tap * 2 * depth;
                    int at = (yy * w + xx) * depth;
                    int q = depth / 4;
                    if (nib1 != null) {
                        m.previousTaps.add(accP, x * c, tap, 0, q, nib1, at / 4, prev1, at);
                    } else if (prev1 != null) {
                        addCodes(accP, x * c, m.previousW, base, prev1, at, depth, c);
                    }
                    if (nib2 != null) {
                        m.previousTaps.add(accP, x * c, tap, q, q, nib2, at / 4, prev2, at);
                    } else if (prev2 != null) {
                        addCodes(accP, x * c, m.previousW, base + depth, prev2, at, depth, c);
                    }
                }
            }
        }
    }

    /**
     * out[x][g] (+)= sum_{k<K, o<C} wt[k][o][g] * in[x - K/2 + k][o], g < 4C; the loops
     * run over weight rows outermost, so each row of {@code wt} is read once per call.
     */
    private void convolve(int[] out, int[] wt, int[] in) {
        int c = m.channels;
        int g4 = 4 * c;
        int half = m.lstmKernel / 2;
        for (int k = 0; k < m.lstmKernel; k++) {
            for (int o = 0; o < c; o++) {
                int wAt = (k * c + o) * g4;
                for (int x = Math.max(0, half - k); x < Math.min(w, w + half - k); x++) {
                    int v = in[(x - half + k) * c + o];
                    if (v == 0) {
                        continue;
                    }
                    int outAt = x * g4;
                    for (int g = 0; g < g4; g++) {
                        out[outAt + g] += v * wt[wAt + g];
                    }
                }
            }
        }
    }

    /** Section 3, step 4: the line LSTM, state of row y - 1 to row y. */
    private void lstm() {
        int c = m.channels;
        int g4 = 4 * c;
        for (int x = 0; x < w; x++) {
            System.arraycopy(m.lstmXB, 0, gates, x * g4, g4);
        }
        java.util.Arrays.fill(gatesH, 0);
        convolve(gates, m.lstmXW, features);
        convolve(gatesH, m.lstmHW, state);  // state still holds H_{y-1}
        int[] sig = m.sigmoidLut;
        int[] tanh = m.tanhLut;
        for (int x = 0; x < w; x++) {
            int at = x * g4;
            for (int j = 0; j < c; j++) {
                int zi = gate(at, j);
                int zf = gate(at, c + j);
                int zo = gate(at, 2 * c + j);
                int zg = gate(at, 3 * c + j);
                long i = sig[zi];
                long f = sig[zf];
                long o = sig[zo];
                long g = tanh[zg];
                int s = x * c + j;
                long total = ((f * cell[s]) << 4) + i * g;
                cell[s] = clamp((total + (1L << 18)) >> 19, -CELL_MAX, CELL_MAX);
                long tc = tanh[clamp((cell[s] + 4) >> 3, -GATE_MAX, GATE_MAX) + GATE_MAX];
                state[s] = (int) ((o * tc + (1L << 19)) >> 20);
            }
        }
    }

    /** Z + 2048 of gate channel g at x (offset {@code at}). */
    private int gate(int at, int g) {
        long z = rq(gates[at + g], m.lstmXM[g], m.shiftLstmX)
                 + rq(gatesH[at + g], m.lstmHM[g], m.shiftLstmH);
        return clamp(z, -GATE_MAX, GATE_MAX) + GATE_MAX;
    }

    /** Section 3, step 5: hidden 1x1, logits 1x1, requantized (before the group term). */
    private void head() {
        int c = m.channels;
        int depth = m.bits;
        for (int x = 0; x < w; x++) {
            System.arraycopy(m.hiddenB, 0, hidden, 0, c);
            for (int j = 0; j < c; j++) {
                int v = state[x * c + j];
                if (v != 0) {
                    for (int o = 0; o < c; o++) {
                        hidden[o] += v * m.hiddenW[j * c + o];
                    }
                }
            }
            System.arraycopy(m.logitsB, 0, logits, 0, depth);
            for (int o = 0; o < c; o++) {
                int v = clamp(rq(hidden[o], m.hiddenM[o], m.shiftHidden), 0, ACT_MAX);
                if (v != 0) {
                    for (int d = 0; d < depth; d++) {
                        logits[d] += v * m.logitsW[o * depth + d];
                    }
                }
            }
            for (int d = 0; d < depth; d++) {
                head[x * depth + d] = rq(logits[d], m.logitsM[d], m.shiftLogits);
            }
        }
    }
}
