package org.tfrnncomp.core;

/** The made-up decoder step of tools/make_vectors.py ({@code fake_decoder_step}), in float32. */
final class FakeDecoderStep implements DecoderStep {
    static final int[][] LAYOUT = {{16, 4}, {8, 3}};
    int calls;

    @Override
    public void run(float[] bits, int[] bitsShape, float[] reconstruction, float[] gain,
                    int[] imageShape, float[][] states, int[][] stateShapes,
                    float[] outReconstruction, float[] outGain, float[][] outStates) {
        calls++;
        if (imageShape[1] != 16 * bitsShape[1] || imageShape[2] != 16 * bitsShape[2]
                || imageShape[3] != 3 || stateShapes[1][1] != 2 * bitsShape[1]) {
            throw new IllegalArgumentException("unexpected shapes");
        }
        int h = bitsShape[1], w = bitsShape[2], depth = bitsShape[3];
        float[] s0 = states[0], s1 = states[1], n0 = outStates[0], n1 = outStates[1];
        // n0 = s0 * 0.5 + bits[..., k % depth] * 0.25 at scale 16 (h x w x 4)
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                for (int k = 0; k < 4; k++) {
                    int at = (y * w + x) * 4 + k;
                    n0[at] = s0[at] * 0.5f + bits[(y * w + x) * depth + k % depth] * 0.25f;
                }
            }
        }
        // n1 = s1 + n0[y / 2, x / 2, k % 4] * 0.125 at scale 8 (2h x 2w x 3)
        int h1 = 2 * h, w1 = 2 * w;
        for (int y = 0; y < h1; y++) {
            for (int x = 0; x < w1; x++) {
                for (int k = 0; k < 3; k++) {
                    int at = (y * w1 + x) * 3 + k;
                    n1[at] = s1[at] + n0[((y / 2) * w + x / 2) * 4 + k % 4] * 0.125f;
                }
            }
        }
        // reconstruction += (n1[y / 8, x / 8, c] + bits[y / 16, x / 16, c + 3] * 0.1) / gain
        int ph = 16 * h, pw = 16 * w;
        for (int y = 0; y < ph; y++) {
            for (int x = 0; x < pw; x++) {
                int p = y * pw + x;
                for (int c = 0; c < 3; c++) {
                    float up1 = n1[((y / 8) * w1 + x / 8) * 3 + c];
                    float b = bits[((y / 16) * w + x / 16) * depth + c + 3];
                    outReconstruction[3 * p + c] = reconstruction[3 * p + c]
                                                   + (up1 + b * 0.1f) / gain[p];
                }
                outGain[p] = gain[p] * 1.25f;
            }
        }
    }
}
