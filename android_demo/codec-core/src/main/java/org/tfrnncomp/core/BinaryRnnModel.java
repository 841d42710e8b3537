package org.tfrnncomp.core;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * The integer BinaryRNN of entropy mode {@code binaryrnn} (Toderici et al. 2017,
 * Section 3, quantized as in Balle et al. 2019), read from its model file
 * ({@code binaryrnn.bin}, format in {@code tfrnncomp/entropy/BINARYRNN.md}
 * section 5): big-endian, magic {@code "TRBN"}, version 1, JSON meta data, then
 * named int8 / int32 arrays. Every array's shape is checked against the
 * configuration, so a decoder can index them without further checks.
 * Immutable and thread-safe.
 */
public final class BinaryRnnModel {
    static final String FORMAT = "tfrnncomp-binaryrnn-int";
    private static final byte[] MAGIC = {'T', 'R', 'B', 'N'};
    private static final int VERSION = 1;

    /** Code depth D ({@code bits}). */
    public final int bits;
    /** Width C of the features, the LSTM state and the hidden layer. */
    public final int channels;
    /** Rows R above a code row covered by the masked convolution. */
    public final int maskedRows;
    /** Width W (odd) of the masked convolution. */
    public final int maskedWidth;
    /** Width K (odd) of the line LSTM's convolutions. */
    public final int lstmKernel;
    /** Whether iteration t is predicted also from iterations t-1 and t-2. */
    public final boolean progressive;
    /** Kernel P (odd) of the earlier-iterations convolution. */
    public final int previousKernel;
    /** Iterations T with their own embedding ({@code iteration_b} rows). */
    public final int iterations;
    /** Depth groups G: a position's bits are decoded in G groups of {@link #groupSize}. */
    public final int depthGroups;
    /** Bits per depth group, D / G. */
    public final int groupSize;

    final int shiftMasked;
    final int shiftPrevious;
    final int shiftLstmX;
    final int shiftLstmH;
    final int shiftHidden;
    final int shiftLogits;
    final int shiftGroup;

    final int[] maskedW;
    final int[] maskedB;
    final int[] maskedM;
    final int[] previousW;   // empty unless progressive
    final int[] iterationB;
    final int[] previousM;
    final int[] lstmXW;
    final int[] lstmXB;
    final int[] lstmXM;
    final int[] lstmHW;
    final int[] lstmHM;
    final int[] hiddenW;
    final int[] hiddenB;
    final int[] hiddenM;
    final int[] logitsW;
    final int[] logitsB;
    final int[] logitsM;
    final int[] groupW;      // [D][D], zero where grp(e) >= grp(d); empty if G = 1
    final int[] groupM;
    final int[] sigmoidLut;
    final int[] tanhLut;
    final int[] cdf0Lut;

    /** Nibble tables of the masked and earlier-iterations convolutions (null if D % 4 != 0). */
    final CodeTaps maskedTaps;
    final CodeTaps previousTaps;

    private final String codecModelId;
    private final String entropyId;

    private BinaryRnnModel(Map<String, Object> meta, Map<String, int[]> arrays,
                           Map<String, int[]> shapes, String entropyId) throws IOException {
        Map<String, Object> config = object(meta, "config");
        Map<String, Object> shifts = object(meta, "shifts");
        Object format = meta.get("format");
        if (format != null && !FORMAT.equals(format)) {
            throw new IOException("BinaryRNN model has format " + format + ", not " + FORMAT);
        }
        codecModelId = string(meta, "codec_model_id");
        bits = positive(config, "bits");
        channels = positive(config, "channels");
        maskedRows = positive(config, "masked_rows");
        maskedWidth = odd(config, "masked_width");
        lstmKernel = odd(config, "lstm_kernel");
        progressive = Boolean.TRUE.equals(config.get("progressive"));
        previousKernel = progressive ? odd(config, "previous_kernel") : 1;
        iterations = progressive ? positive(config, "iterations") : 1;
        shiftMasked = shift(shifts, "masked");
        shiftLstmX = shift(shifts, "lstm_x");
        shiftLstmH = shift(shifts, "lstm_h");
        shiftHidden = shift(shifts, "hidden");
        shiftLogits = shift(shifts, "logits");
        shiftPrevious = progressive ? shift(shifts, "previous") : 1;
        depthGroups = config.containsKey("depth_groups")
                      ? integer(config, "depth_groups", 1, bits) : 1;
        if (bits % depthGroups != 0) {
            throw new IOException("BinaryRNN model: depth_groups " + depthGroups
                                  + " does not divide " + bits + " bits");
        }
        groupSize = bits / depthGroups;
        shiftGroup = depthGroups > 1 ? shift(shifts, "group") : 1;
        int c = channels;
        int d = bits;
        Arrays2 a = new Arrays2(arrays, shapes);
        maskedW = a.get("masked_w", maskedRows, maskedWidth, d, c);
        maskedB = a.get("masked_b", c);
        maskedM = a.get("masked_m", c);
        if (progressive) {
            previousW = a.get("previous_w", previousKernel, previousKernel, 2 * d, c);
            iterationB = a.get("iteration_b", iterations, c);
            previousM = a.get("previous_m", c);
        } else {
            previousW = new int[0];
            iterationB = new int[0];
            previousM = new int[0];
        }
        lstmXW = a.get("lstm_x_w", 1, lstmKernel, c, 4 * c);
        lstmXB = a.get("lstm_x_b", 4 * c);
        lstmXM = a.get("lstm_x_m", 4 * c);
        lstmHW = a.get("lstm_h_w", 1, lstmKernel, c, 4 * c);
        lstmHM = a.get("lstm_h_m", 4 * c);
        hiddenW = a.get("hidden_w", c, c);
        hiddenB = a.get("hidden_b", c);
        hiddenM = a.get("hidden_m", c);
        logitsW = a.get("logits_w", c, d);
        logitsB = a.get("logits_b", d);
        logitsM = a.get("logits_m", d);
        if (depthGroups > 1) {
            groupW = a.get("group_w", d, d);
            groupM = a.get("group_m", d);
            for (int e = 0; e < d; e++) {
                for (int o = 0; o < d; o++) {
                    if (e / groupSize >= o / groupSize && groupW[e * d + o] != 0) {
                        throw new IOException("BinaryRNN model: a depth group sees its own or "
                                              + "later bits");
                    }
                }
            }
        } else if (arrays.containsKey("group_w")) {
            throw new IOException("BinaryRNN model: group weights do not match depth_groups");
        } else {
            groupW = new int[0];
            groupM = new int[0];
        }
        sigmoidLut = a.get("sigmoid_lut", 2 * BinaryRnnRows.GATE_MAX + 1);
        tanhLut = a.get("tanh_lut", 2 * BinaryRnnRows.GATE_MAX + 1);
        cdf0Lut = a.get("cdf0_lut", 2 * BinaryRnnRows.LOGIT_MAX + 1);
        for (int v : cdf0Lut) {
            if (v < 1 || v > BinaryTable.SIZE) {
                throw new IOException("BinaryRNN model's cdf0_lut holds " + v
                                      + ", outside [1, " + BinaryTable.SIZE + "]");
            }
        }
        boolean nibbles = bits % 4 == 0;
        maskedTaps = nibbles ? new CodeTaps(maskedW, maskedRows * maskedWidth, d, c) : null;
        previousTaps = nibbles && progressive
                       ? new CodeTaps(previousW, previousKernel * previousKernel, 2 * d, c) : null;
        this.entropyId = entropyId;
    }

    /** Reads a model file's bytes. */
    public static BinaryRnnModel read(byte[] file) throws IOException {
        ByteBuffer in = ByteBuffer.wrap(file);  // big-endian
        try {
            byte[] magic = new byte[4];
            in.get(magic);
            if (!Arrays.equals(magic, MAGIC) || file.length < 11 || (in.get() & 0xFF) != VERSION) {
                throw new IOException("not a BinaryRNN integer model (bad magic or version)");
            }
            byte[] metaBytes = new byte[checkedLength(in.getInt(), in.remaining())];
            in.get(metaBytes);
            Object meta;
            try {
                meta = MiniJson.parse(new String(metaBytes, StandardCharsets.UTF_8));
            } catch (IllegalArgumentException e) {
                throw new IOException("BinaryRNN model meta data: " + e.getMessage());
            }
            if (!(meta instanceof Map)) {
                throw new IOException("BinaryRNN model meta data is not a JSON object");
            }
            int count = in.getShort() & 0xFFFF;
            Map<String, int[]> arrays = new HashMap<>();
            Map<String, int[]> shapes = new HashMap<>();
            for (int i = 0; i < count; i++) {
                byte[] name = new byte[in.get() & 0xFF];
                in.get(name);
                String key = new String(name, StandardCharsets.US_ASCII);
                int dtype = in.get() & 0xFF;
                int[] shape = new int[in.get() & 0xFF];
                long size = 1;
                for (int k = 0; k < shape.length; k++) {
                    shape[k] = checkedLength(in.getInt(), in.remaining());
                    size = Math.min(size * shape[k], Integer.MAX_VALUE);  // no overflow
                }
                if (dtype != 1 && dtype != 4) {
                    throw new IOException("BinaryRNN model array " + key + " has dtype " + dtype);
                }
                int[] values = new int[checkedLength(size * dtype, in.remaining()) / dtype];
                for (int k = 0; k < values.length; k++) {
                    values[k] = dtype == 1 ? in.get() : in.getInt();
                }
                if (arrays.put(key, values) != null) {
                    throw new IOException("BinaryRNN model has array " + key + " twice");
                }
                shapes.put(key, shape);
            }
            if (in.hasRemaining()) {
                throw new IOException("BinaryRNN integer model has trailing bytes");
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> metaMap = (Map<String, Object>) meta;
            return new BinaryRnnModel(metaMap, arrays, shapes, entropyIdOf(file));
        } catch (java.nio.BufferUnderflowException e) {
            throw new IOException("BinaryRNN integer model file is cut short");
        }
    }

    /** {@code binaryrnn@} + the first 8 hex digits of the SHA-256 of the model file. */
    public static String entropyIdOf(byte[] file) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(file);
            StringBuilder out = new StringBuilder("binaryrnn@");
            for (int i = 0; i < 4; i++) {
                out.append(String.format("%02x", digest[i] & 0xFF));
            }
            return out.toString();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is not available", e);
        }
    }

    /** The id written into header extension 3 of the files this model codes. */
    public String entropyId() {
        return entropyId;
    }

    /** The id of the codec model whose codes this model was trained on. */
    public String codecModelId() {
        return codecModelId;
    }

    private static int checkedLength(long length, int remaining) throws IOException {
        if (length < 0 || length > remaining) {
            throw new IOException("BinaryRNN integer model file is cut short");
        }
        return (int) length;
    }

    /** Looks up arrays by name and checks their shapes. */
    private static final class Arrays2 {
        private final Map<String, int[]> arrays;
        private final Map<String, int[]> shapes;

        Arrays2(Map<String, int[]> arrays, Map<String, int[]> shapes) {
            this.arrays = arrays;
            this.shapes = shapes;
        }

        int[] get(String name, int... shape) throws IOException {
            int[] values = arrays.get(name);
            if (values == null) {
                throw new IOException("BinaryRNN model has no array " + name);
            }
            if (!Arrays.equals(shape, shapes.get(name))) {
                throw new IOException("BinaryRNN model array " + name + " has shape "
                    + Arrays.toString(shapes.get(name)) + ", expected " + Arrays.toString(shape));
            }
            return values;
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> object(Map<String, Object> meta, String key)
            throws IOException {
        Object value = meta.get(key);
        if (!(value instanceof Map)) {
            throw new IOException("BinaryRNN model meta data has no object " + key);
        }
        return (Map<String, Object>) value;
    }

    private static String string(Map<String, Object> meta, String key) throws IOException {
        Object value = meta.get(key);
        if (!(value instanceof String)) {
            throw new IOException("BinaryRNN model meta data has no string " + key);
        }
        return (String) value;
    }

    private static int integer(Map<String, Object> map, String key, int lo, int hi)
            throws IOException {
        Object value = map.get(key);
        if (!(value instanceof Long) || (Long) value < lo || (Long) value > hi) {
            throw new IOException("BinaryRNN model: " + key + " must be an integer in " + lo
                                  + ".." + hi + ", got " + value);
        }
        return ((Long) value).intValue();
    }

    private static int positive(Map<String, Object> config, String key) throws IOException {
        return integer(config, key, 1, 4096);
    }

    private static int odd(Map<String, Object> config, String key) throws IOException {
        int value = positive(config, key);
        if (value % 2 == 0) {
            throw new IOException("BinaryRNN model: " + key + " must be odd, got " + value);
        }
        return value;
    }

    private static int shift(Map<String, Object> shifts, String key) throws IOException {
        return integer(shifts, key, 1, 62);
    }

    @Override
    public String toString() {
        return "BinaryRnnModel(" + entropyId + " for " + codecModelId + ", " + channels
               + " channels, " + (progressive ? "progressive" : "single iteration")
               + (depthGroups > 1 ? ", " + depthGroups + " depth groups" : "") + ")";
    }
}
