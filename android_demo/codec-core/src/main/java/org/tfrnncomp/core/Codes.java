package org.tfrnncomp.core;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Arrays;

/**
 * One iteration's binary code: {@code rows x cols x depth} values in {-1, +1}
 * (int8), C order: {@code values[(y * cols + x) * depth + d]}. This is
 * {@code codes[t]} of the Python package ({@code int8[h, w, bits]}) and the
 * input of the decoder-step model.
 */
public final class Codes {
    private final int rows;
    private final int cols;
    private final int depth;
    private final byte[] values;

    /** Wraps {@code values} (not copied) after checking the shape and that all are +-1. */
    public Codes(int rows, int cols, int depth, byte[] values) {
        if (rows < 1 || cols < 1 || depth < 1 || (long) rows * cols * depth != values.length) {
            throw new IllegalArgumentException("shape " + rows + "x" + cols + "x" + depth
                + " does not match " + values.length + " values");
        }
        for (byte v : values) {
            if (v != 1 && v != -1) {
                throw new IllegalArgumentException("codes must be -1 or +1, got " + v);
            }
        }
        this.rows = rows;
        this.cols = cols;
        this.depth = depth;
        this.values = values;
    }

    /** Codes from bits (0 -> -1, 1 -> +1). */
    public static Codes fromBits(int rows, int cols, int depth, byte[] bits) {
        byte[] v = new byte[bits.length];
        for (int i = 0; i < bits.length; i++) {
            if (bits[i] != 0 && bits[i] != 1) {
                throw new IllegalArgumentException("bits must be 0 or 1, got " + bits[i]);
            }
            v[i] = (byte) (bits[i] * 2 - 1);
        }
        return new Codes(rows, cols, depth, v);
    }

    /** Codes from a nested {@code [rows][cols][depth]} array of -1/+1 (copied). */
    public static Codes fromArray(byte[][][] array) {
        int r = array.length;
        int c = array[0].length;
        int d = array[0][0].length;
        byte[] v = new byte[r * c * d];
        int i = 0;
        for (byte[][] row : array) {
            for (byte[] cell : row) {
                if (cell.length != d || row.length != c) {
                    throw new IllegalArgumentException("ragged array");
                }
                System.arraycopy(cell, 0, v, i, d);
                i += d;
            }
        }
        return new Codes(r, c, d, v);
    }

    public int rows() { return rows; }
    public int cols() { return cols; }
    public int depth() { return depth; }

    /** Number of values ({@code rows * cols * depth}). */
    public int size() {
        return values.length;
    }

    public byte get(int y, int x, int d) {
        if (y < 0 || y >= rows || x < 0 || x >= cols || d < 0 || d >= depth) {
            throw new IndexOutOfBoundsException("(" + y + ", " + x + ", " + d + ")");
        }
        return values[(y * cols + x) * depth + d];
    }

    /** A copy of the flat C-order values. */
    public byte[] values() {
        return values.clone();
    }

    byte[] valuesView() {
        return values;
    }

    /** The values as 0/1 bits (-1 -> 0, +1 -> 1). */
    public byte[] toBits() {
        byte[] bits = new byte[values.length];
        for (int i = 0; i < bits.length; i++) {
            bits[i] = (byte) ((values[i] + 1) >> 1);
        }
        return bits;
    }

    /** A nested {@code [rows][cols][depth]} copy (TensorFlow Lite accepts such arrays). */
    public byte[][][] toArray() {
        byte[][][] out = new byte[rows][cols][depth];
        int i = 0;
        for (int y = 0; y < rows; y++) {
            for (int x = 0; x < cols; x++) {
                System.arraycopy(values, i, out[y][x], 0, depth);
                i += depth;
            }
        }
        return out;
    }

    /**
     * The values as floats in a direct, native-order buffer shaped
     * {@code [1, rows, cols, depth]}: the decoder step's input tensor (the model
     * casts the int8 codes to float32).
     */
    public ByteBuffer toFloatBuffer() {
        ByteBuffer buffer = ByteBuffer.allocateDirect(4 * values.length)
                                      .order(ByteOrder.nativeOrder());
        FloatBuffer floats = buffer.asFloatBuffer();
        for (byte v : values) {
            floats.put(v);
        }
        buffer.rewind();
        return buffer;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof Codes)) {
            return false;
        }
        Codes c = (Codes) o;
        return rows == c.rows && cols == c.cols && depth == c.depth
               && Arrays.equals(values, c.values);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * (31 * rows + cols) + depth) + Arrays.hashCode(values);
    }

    @Override
    public String toString() {
        return "Codes(" + rows + "x" + cols + "x" + depth + ")";
    }
}
