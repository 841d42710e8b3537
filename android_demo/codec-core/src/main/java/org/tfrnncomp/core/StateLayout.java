package org.tfrnncomp.core;

/**
 * Shapes of the recurrent states of the exported step models
 * ({@code tfrnncomp.runtime.steps.state_layout}, the {@code "state_layout"} of
 * {@code tflite.json}): state i of a padded {@code H x W} image has shape
 * {@code [1, H / scale_i, W / scale_i, channels_i]}.
 */
public final class StateLayout {
    private final int[] scales;
    private final int[] channels;

    /** {@code pairs[i] = {scale_i, channels_i}}, e.g. the JSON {@code state_layout.decoder}. */
    public StateLayout(int[][] pairs) {
        scales = new int[pairs.length];
        channels = new int[pairs.length];
        for (int i = 0; i < pairs.length; i++) {
            if (pairs[i].length != 2 || pairs[i][0] < 1 || pairs[i][1] < 1) {
                throw new IllegalArgumentException("state " + i + ": expected [scale, channels]");
            }
            scales[i] = pairs[i][0];
            channels[i] = pairs[i][1];
        }
    }

    /** Number of state tensors. */
    public int size() {
        return scales.length;
    }

    /** Shape {@code [1, H / scale, W / scale, channels]} of state {@code i}. */
    public int[] shape(int i, int padHeight, int padWidth) {
        if (padHeight % scales[i] != 0 || padWidth % scales[i] != 0) {
            throw new IllegalArgumentException("padded size " + padHeight + "x" + padWidth
                + " is not a multiple of state " + i + "'s scale " + scales[i]);
        }
        return new int[] {1, padHeight / scales[i], padWidth / scales[i], channels[i]};
    }

    /** Number of floats of state {@code i}. */
    public int count(int i, int padHeight, int padWidth) {
        int[] s = shape(i, padHeight, padWidth);
        return Math.multiplyExact(Math.multiplyExact(s[1], s[2]), s[3]);
    }
}
