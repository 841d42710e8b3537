package org.tfrnncomp.core;

import java.nio.charset.StandardCharsets;

/**
 * Entropy mode {@code binaryrnn}: range decoding with the integer BinaryRNN
 * ({@code tfrnncomp/entropy/coding/binaryrnn.py}, spec {@code BINARYRNN.md}
 * section 4). Each iteration is one chunk, its own range-coder stream; the
 * decoder computes a code row's table indices ({@link BinaryRnnRows}) from the
 * rows above and the two earlier iterations, decodes the row's active bits depth group
 * by depth group (each in raster order, from the groups before it), and finally
 * requires the range decoder's finalize check.
 *
 * <p>Codes are flat C-order {@code byte[h * w * D]} in {-1, 0, +1} (0 = not coded);
 * an optional {@code active} mask {@code boolean[h * w]} says which positions the
 * chunk codes ({@code null}: all).
 */
public final class BinaryRnnDecoder {
    /** Header extension tag holding the entropy model id. */
    public static final int ENTROPY_MODEL_TAG = 3;

    private BinaryRnnDecoder() {
    }

    /**
     * Decodes 1-based iteration {@code t} of shape {@code h x w x model.bits} from its
     * chunk, given the codes of iterations t-1 and t-2 (null where absent).
     *
     * @throws BitstreamException ({@code MALFORMED}) if the finalize check fails
     */
    public static byte[] decodeIteration(BinaryRnnModel model, byte[] payload, int t, int h,
                                         int w, byte[] prev1, byte[] prev2, boolean[] active)
            throws BitstreamException {
        checkActive(active, h, w);
        int depth = model.bits;
        byte[] codes = new byte[h * w * depth];
        BinaryRnnRows rows = new BinaryRnnRows(model, h, w, t, codes, prev1, prev2);
        RangeDecoder decoder = new RangeDecoder(payload);
        int size = model.groupSize;
        for (int y = 0; y < h; y++) {
            rows.next();
            for (int g = 0; g < model.depthGroups; g++) {
                int[] indices = rows.group(g);
                for (int x = 0; x < w; x++) {
                    if (active != null && !active[y * w + x]) {
                        continue;
                    }
                    int at = (y * w + x) * depth + g * size;
                    for (int j = 0; j < size; j++) {
                        codes[at + j] = (byte) (2 * decoder.decodeBit(indices[x * size + j]) - 1);
                    }
                }
            }
        }
        if (!decoder.finish()) {
            throw new BitstreamException(BitstreamException.Kind.MALFORMED,
                "entropy-coded chunk is inconsistent (range decoder check failed)");
        }
        return codes;
    }

    /**
     * The table index of every bit of iteration {@code t} whose codes are known
     * (encoder side; -1 at inactive positions). Inactive positions of {@code codes}
     * must hold 0.
     */
    public static int[] indicesFor(BinaryRnnModel model, byte[] codes, int t, int h, int w,
                                   byte[] prev1, byte[] prev2, boolean[] active) {
        checkActive(active, h, w);
        int depth = model.bits;
        BinaryRnnRows rows = new BinaryRnnRows(model, h, w, t, codes, prev1, prev2);
        int size = model.groupSize;
        int[] out = new int[codes.length];
        for (int y = 0; y < h; y++) {
            rows.next();
            for (int g = 0; g < model.depthGroups; g++) {
                int[] indices = rows.group(g);
                for (int x = 0; x < w; x++) {
                    boolean on = active == null || active[y * w + x];
                    for (int j = 0; j < size; j++) {
                        out[(y * w + x) * depth + g * size + j] = on ? indices[x * size + j] : -1;
                    }
                }
            }
        }
        return out;
    }

    /** Range-codes iteration {@code t}'s codes (+-1, 0 where inactive): Python's encoder. */
    public static byte[] encodeIteration(BinaryRnnModel model, byte[] codes, int t, int h, int w,
                                         byte[] prev1, byte[] prev2, boolean[] active) {
        int[] indices = indicesFor(model, codes, t, h, w, prev1, prev2, active);
        RangeEncoder encoder = new RangeEncoder();
        int depth = model.bits;
        int size = model.groupSize;
        for (int y = 0; y < h; y++) {  // the decoder's order: rows, depth groups, x, bits
            for (int g = 0; g < model.depthGroups; g++) {
                for (int x = 0; x < w; x++) {
                    int at = (y * w + x) * depth + g * size;
                    for (int j = 0; j < size; j++) {
                        if (indices[at + j] >= 0) {
                            encoder.encodeBit(indices[at + j], codes[at + j] > 0 ? 1 : 0);
                        }
                    }
                }
            }
        }
        return encoder.finish();
    }

    /**
     * Checks that a file of entropy mode binaryrnn was coded with {@code model} and
     * that {@code model} belongs to the codec model {@code codecModelId} (null: not
     * checked), as {@code Codec._check_entropy_model} of the Python package does.
     */
    public static void checkBinding(Header header, BinaryRnnModel model, String codecModelId)
            throws BitstreamException {
        byte[] value = header.extensionsView().get(ENTROPY_MODEL_TAG);
        if (value == null) {
            throw new BitstreamException(BitstreamException.Kind.MALFORMED,
                "binaryrnn file has no entropy model id (extension 3)");
        }
        for (byte b : value) {
            if (b < 0) {
                throw new BitstreamException(BitstreamException.Kind.MALFORMED,
                                             "entropy model id is not ASCII");
            }
        }
        String fileId = new String(value, StandardCharsets.US_ASCII);
        if (model == null) {
            throw new BitstreamException(BitstreamException.Kind.UNSUPPORTED_MODE,
                "file is entropy-coded with " + Header.shownId(fileId)
                + "; give the decoder that BinaryRNN model file");
        }
        if (codecModelId != null && !model.codecModelId().equals(codecModelId)) {
            throw new BitstreamException(BitstreamException.Kind.MODEL_MISMATCH,
                "entropy model " + Header.shownId(model.entropyId()) + " belongs to codec model "
                + Header.shownId(model.codecModelId()) + ", not "
                + Header.shownId(codecModelId));
        }
        if (!fileId.equals(model.entropyId())) {
            throw new BitstreamException(BitstreamException.Kind.MODEL_MISMATCH,
                "file was entropy-coded with " + Header.shownId(fileId) + ", this codec has "
                + Header.shownId(model.entropyId()));
        }
        if (header.codeDepth() != model.bits) {
            throw new BitstreamException(BitstreamException.Kind.MODEL_MISMATCH,
                "file's code depth " + header.codeDepth() + " does not match the entropy "
                + "model's " + model.bits);
        }
    }

    private static void checkActive(boolean[] active, int h, int w) {
        if (active != null && active.length != h * w) {
            throw new IllegalArgumentException("active mask holds " + active.length
                                               + " values, expected " + h * w);
        }
    }
}
