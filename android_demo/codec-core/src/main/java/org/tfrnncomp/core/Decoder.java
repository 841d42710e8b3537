package org.tfrnncomp.core;

import java.util.ArrayList;
import java.util.List;

/**
 * Turns a {@code .trc} file (raw, context or binaryrnn mode) into per-iteration
 * codes, progressively: {@link #next()} decodes one more iteration (an entropy-coded
 * iteration depends only on the two before it), {@link #run} feeds them to an
 * {@link IterationDriver}. Mode binaryrnn needs the codec model's
 * {@link BinaryRnnModel} ({@link Model#entropyModel}). Not thread-safe.
 *
 * <pre>
 * Decoder decoder = Decoder.open(bytes, Bitstream.DEFAULT_MAX_PIXELS, false,
 *                                new Decoder.Model("gru-w25@1a2b3c4d", 16, 32));
 * decoder.run(tfliteDriver, sliderValue);
 * </pre>
 */
public final class Decoder {
    /** What the caller's decoder model expects; files of other models are refused. */
    public static final class Model {
        public final String modelId;
        public final int blockSize;
        public final int codeDepth;
        /** The codec model's BinaryRNN (entropy mode binaryrnn), or null if it has none. */
        public final BinaryRnnModel entropyModel;

        public Model(String modelId, int blockSize, int codeDepth) {
            this(modelId, blockSize, codeDepth, null);
        }

        public Model(String modelId, int blockSize, int codeDepth, BinaryRnnModel entropyModel) {
            if (modelId == null) {
                throw new NullPointerException("modelId");
            }
            this.modelId = modelId;
            this.blockSize = blockSize;
            this.codeDepth = codeDepth;
            this.entropyModel = entropyModel;
        }
    }

    private final Bitstream.Container container;
    private final Header header;
    private final int rows;
    private final int cols;
    private final int depth;
    private final BinaryRnnModel entropyModel;
    private final List<Codes> decoded = new ArrayList<>();
    private byte[] prev1;  // bits (codes in mode binaryrnn) of the last decoded iteration
    private byte[] prev2;  // those of the one before

    /** Reads {@code file} with the default pixel limit, tolerating a cut file; any model. */
    public static Decoder open(byte[] file) throws BitstreamException {
        return open(file, Bitstream.DEFAULT_MAX_PIXELS, false, null);
    }

    /**
     * Reads {@code file} and checks it the way {@code Codec.read} of the Python package
     * does: the model id, then the entropy mode, then block size and code depth.
     *
     * @param expected the caller's model, or null to accept any
     */
    public static Decoder open(byte[] file, long maxPixels, boolean strict, Model expected)
            throws BitstreamException {
        Bitstream.Container container = Bitstream.read(file, maxPixels, strict);
        Header h = container.header();
        if (expected != null && !h.modelId().equals(expected.modelId)) {
            throw new BitstreamException(BitstreamException.Kind.MODEL_MISMATCH,
                "file was written by model " + Header.shownId(h.modelId())
                + ", this codec is " + Header.shownId(expected.modelId)
                + "; decode it with that model");
        }
        checkMode(h);
        if (expected != null && (h.codeDepth() != expected.codeDepth
                                 || h.blockSize() != expected.blockSize)) {
            throw new BitstreamException(BitstreamException.Kind.MODEL_MISMATCH,
                "file's code depth or block size does not match the model");
        }
        BinaryRnnModel entropy = expected == null ? null : expected.entropyModel;
        if (h.entropyMode() == EntropyMode.BINARYRNN) {
            BinaryRnnDecoder.checkBinding(h, entropy, expected == null ? null : expected.modelId);
        }
        return new Decoder(container, entropy);
    }

    private static void checkMode(Header h) throws BitstreamException {
        if (h.entropyMode() == null) {
            throw new BitstreamException(BitstreamException.Kind.UNSUPPORTED_MODE,
                "entropy mode is not supported by this version");
        }
    }

    /** A decoder over an already parsed raw or context-mode container (no model check). */
    public Decoder(Bitstream.Container container) throws BitstreamException {
        this(container, null);
    }

    /**
     * A decoder over an already parsed container; {@code entropyModel} is needed
     * (and checked against the file's entropy model id) in mode binaryrnn only.
     */
    public Decoder(Bitstream.Container container, BinaryRnnModel entropyModel)
            throws BitstreamException {
        this.container = container;
        this.header = container.header();
        this.entropyModel = entropyModel;
        checkMode(header);
        if (header.entropyMode() == EntropyMode.BINARYRNN) {
            BinaryRnnDecoder.checkBinding(header, entropyModel, null);
        }
        long count = header.codeCount();
        if (count > Integer.MAX_VALUE - 16) {
            throw new BitstreamException(BitstreamException.Kind.LIMIT,
                "one iteration's code of " + header.codeRows() + "x" + header.codeCols() + "x"
                + header.codeDepth() + " bits is too large for this decoder");
        }
        this.rows = (int) header.codeRows();
        this.cols = (int) header.codeCols();
        this.depth = header.codeDepth();
    }

    public Header header() {
        return header;
    }

    /** Whole iterations present in the file (fewer than declared if it was cut). */
    public int availableIterations() {
        return container.chunks().size();
    }

    /** True if every declared iteration is present. */
    public boolean isComplete() {
        return container.complete();
    }

    /** Iterations decoded so far. */
    public int decodedIterations() {
        return decoded.size();
    }

    public boolean hasNext() {
        return decoded.size() < availableIterations();
    }

    /** Decodes the next iteration's codes. */
    public Codes next() throws BitstreamException {
        int t = decoded.size();
        if (t >= availableIterations()) {
            throw new IllegalStateException("file holds " + availableIterations()
                                            + " whole iterations, all decoded");
        }
        byte[] payload = container.chunks().get(t);
        Codes codes;
        byte[] bits;
        if (header.entropyMode() == EntropyMode.RAW) {
            codes = new Codes(rows, cols, depth, Bitstream.unpackCodes(payload, rows * cols * depth));
            bits = codes.toBits();
        } else if (header.entropyMode() == EntropyMode.BINARYRNN) {
            bits = BinaryRnnDecoder.decodeIteration(entropyModel, payload, t + 1, rows, cols,
                                                    prev1, prev2, null);
            codes = new Codes(rows, cols, depth, bits);  // every position is coded: all +-1
        } else {
            bits = ContextModel.decode(payload, rows, cols, depth, prev1, prev2);
            codes = Codes.fromBits(rows, cols, depth, bits);
        }
        prev2 = prev1;
        prev1 = bits;
        decoded.add(codes);
        return codes;
    }

    /** The codes of iteration {@code t} (decoding up to it if needed). */
    public Codes codes(int t) throws BitstreamException {
        if (t < 0 || t >= availableIterations()) {
            throw new IndexOutOfBoundsException("iteration " + t + " of "
                                                + availableIterations() + " present");
        }
        while (decoded.size() <= t) {
            next();
        }
        return decoded.get(t);
    }

    /** Codes of the first {@code iterations} iterations. */
    public List<Codes> decode(int iterations) throws BitstreamException {
        if (iterations < 1 || iterations > availableIterations()) {
            throw new IllegalArgumentException("file holds " + availableIterations()
                + " whole iterations, " + iterations + " were asked for");
        }
        List<Codes> out = new ArrayList<>();
        for (int t = 0; t < iterations; t++) {
            out.add(codes(t));
        }
        return out;
    }

    /**
     * Runs the host loop: {@code driver.begin(header)}, then {@code driver.step(t, codes_t)}
     * for the first {@code min(maxIterations, availableIterations())} iterations (each
     * decoded just before its step, so the first image shows after one chunk), then
     * {@code driver.end(n)}. Returns n. Exceptions of the driver propagate unchanged.
     */
    public int run(IterationDriver driver, int maxIterations) throws Exception {
        if (maxIterations < 1) {
            throw new IllegalArgumentException("maxIterations must be >= 1, got "
                                               + maxIterations);
        }
        int n = Math.min(maxIterations, availableIterations());
        driver.begin(header);
        for (int t = 0; t < n; t++) {
            driver.step(t, codes(t));
        }
        driver.end(n);
        return n;
    }
}
