package org.tfrnncomp.core;

/**
 * Pixel conversions of the host loop, bit-exact with the Python package:
 * {@code steps.to_uint8} / {@code image_io.from_array} (decoder side) and
 * {@code steps.pad_image} + {@code steps.to_model_range} (encoder side).
 * Images are packed ARGB {@code int}s (Android's {@code Bitmap} format).
 */
public final class Pixels {
    private Pixels() {
    }

    /** {@code uint8(clip(round_half_even((v + 0.5) * 255), 0, 255))} in float32. */
    public static int toUint8(float v) {
        float scaled = (v + 0.5f) * 255.0f;
        double r = Math.rint(scaled);  // ties to even, like np.round
        return r < 0 ? 0 : r > 255 ? 255 : (int) r;
    }

    /**
     * The decoder's reconstruction {@code float32[padHeight, padWidth, 3]} (flat, in
     * [-0.5, 0.5]) cropped to {@code height x width} as opaque ARGB pixels; for
     * {@code channels == 1} the grey value is the rounded mean of the three channels.
     */
    public static int[] toArgb(float[] reconstruction, int padWidth, int height, int width,
                               int channels) {
        if ((long) height * width > Integer.MAX_VALUE || reconstruction.length < 3L * padWidth * height
                || width > padWidth) {
            throw new IllegalArgumentException("crop " + height + "x" + width
                + " does not fit a reconstruction of width " + padWidth);
        }
        int[] out = new int[height * width];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int at = 3 * (y * padWidth + x);
                int r = toUint8(reconstruction[at]);
                int g = toUint8(reconstruction[at + 1]);
                int b = toUint8(reconstruction[at + 2]);
                if (channels == 1) {
                    float mean = (float) (r + g + b) / 3.0f;
                    r = g = b = (int) Math.rint(mean);
                }
                out[y * width + x] = 0xFF000000 | r << 16 | g << 8 | b;
            }
        }
        return out;
    }

    /**
     * An ARGB image edge-padded to {@code padHeight x padWidth} (repeating the last row
     * and column) as the encoder's input {@code float32[padHeight, padWidth, 3]}:
     * {@code value / 255 - 0.5}.
     */
    public static float[] toModelInput(int[] argb, int height, int width, int padHeight,
                                       int padWidth) {
        if (argb.length != height * width || padHeight < height || padWidth < width) {
            throw new IllegalArgumentException("bad sizes");
        }
        float[] out = new float[3 * padHeight * padWidth];
        int i = 0;
        for (int y = 0; y < padHeight; y++) {
            int row = Math.min(y, height - 1) * width;
            for (int x = 0; x < padWidth; x++) {
                int p = argb[row + Math.min(x, width - 1)];
                out[i++] = (float) ((p >>> 16) & 0xFF) / 255.0f - 0.5f;
                out[i++] = (float) ((p >>> 8) & 0xFF) / 255.0f - 0.5f;
                out[i++] = (float) (p & 0xFF) / 255.0f - 0.5f;
            }
        }
        return out;
    }

    /** The padded size the codec uses: each side rounded up to a multiple of 32. */
    public static int padded(long side) {
        long p = (side + 31) / 32 * 32;
        if (side < 1 || p > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("bad image side " + side);
        }
        return (int) p;
    }
}
