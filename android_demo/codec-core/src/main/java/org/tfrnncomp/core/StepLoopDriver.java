package org.tfrnncomp.core;

/**
 * The host loop of {@code tfrnncomp.runtime.steps.run_decoder_steps} as an
 * {@link IterationDriver}: zero states, zero reconstruction and unit gain at
 * {@link #begin}, one {@link DecoderStep} call per iteration, and after each the
 * cropped image ({@link Pixels#toArgb}; through the {@link PostFilterStep} first, if the
 * model has one) handed to a {@link FrameListener}.
 */
public final class StepLoopDriver implements IterationDriver {
    /** Receives the image after each iteration (ARGB, {@code height x width}). */
    public interface FrameListener {
        void onFrame(int iteration, int[] argb, int width, int height) throws Exception;
    }

    private final DecoderStep step;
    private final PostFilterStep postFilter;
    private final StateLayout layout;
    private final FrameListener listener;
    private int decoded;
    private float[] plane;
    private float[] filtered;
    private Header header;
    private int padHeight;
    private int padWidth;
    private int[] bitsShape;
    private int[][] stateShapes;
    private float[] reconstruction;
    private float[] gain;
    private float[][] states;
    private float[] nextReconstruction;
    private float[] nextGain;
    private float[][] nextStates;

    /** {@code listener} may be null (then read {@link #reconstruction()} after each step). */
    public StepLoopDriver(DecoderStep step, StateLayout layout, FrameListener listener) {
        this(step, null, layout, listener);
    }

    /** With the model's post-filter ({@code postFilter} may be null: none). */
    public StepLoopDriver(DecoderStep step, PostFilterStep postFilter, StateLayout layout,
                          FrameListener listener) {
        this.step = step;
        this.postFilter = postFilter;
        this.layout = layout;
        this.listener = listener;
    }

    @Override
    public void begin(Header h) {
        header = h;
        if (h.padHeight() > 1 << 15 || h.padWidth() > 1 << 15) {
            throw new IllegalArgumentException("padded size " + h.padHeight() + "x"
                                               + h.padWidth() + " is too large");
        }
        padHeight = (int) h.padHeight();
        padWidth = (int) h.padWidth();
        bitsShape = new int[] {1, (int) h.codeRows(), (int) h.codeCols(), h.codeDepth()};
        int pixels = padHeight * padWidth;
        reconstruction = new float[3 * pixels];
        nextReconstruction = new float[3 * pixels];
        gain = new float[pixels];
        java.util.Arrays.fill(gain, 1.0f);
        decoded = 0;
        plane = postFilter == null ? null : new float[pixels];
        filtered = postFilter == null ? null : new float[3 * pixels];
        nextGain = new float[pixels];
        int n = layout.size();
        stateShapes = new int[n][];
        states = new float[n][];
        nextStates = new float[n][];
        for (int i = 0; i < n; i++) {
            stateShapes[i] = layout.shape(i, padHeight, padWidth);
            states[i] = new float[layout.count(i, padHeight, padWidth)];
            nextStates[i] = new float[states[i].length];
        }
    }

    @Override
    public void step(int iteration, Codes codes) throws Exception {
        if (header == null) {
            throw new IllegalStateException("step() before begin()");
        }
        if (codes.rows() != bitsShape[1] || codes.cols() != bitsShape[2]
                || codes.depth() != bitsShape[3]) {
            throw new IllegalArgumentException(codes + " does not match the header");
        }
        byte[] v = codes.valuesView();
        float[] bits = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            bits[i] = v[i];
        }
        step.run(bits, bitsShape.clone(), reconstruction, gain,
                 new int[] {1, padHeight, padWidth, 3}, states, stateShapes,
                 nextReconstruction, nextGain, nextStates);
        float[] r = reconstruction;
        reconstruction = nextReconstruction;
        nextReconstruction = r;
        float[] g = gain;
        gain = nextGain;
        nextGain = g;
        float[][] s = states;
        states = nextStates;
        nextStates = s;
        decoded++;
        if (listener != null) {
            listener.onFrame(iteration, image(), (int) header.width(), (int) header.height());
        }
    }

    /** The current reconstruction {@code float32[padHeight, padWidth, 3]} (not a copy). */
    public float[] reconstruction() {
        return reconstruction;
    }

    /**
     * The current image (through the post-filter, if any), cropped, in the file's colour mode,
     * as ARGB pixels.
     */
    public int[] image() throws Exception {
        float[] shown = reconstruction;
        if (postFilter != null) {
            java.util.Arrays.fill(plane, (float) decoded);
            postFilter.run(reconstruction, new int[] {1, padHeight, padWidth, 3}, plane, filtered);
            shown = filtered;
        }
        return Pixels.toArgb(shown, padWidth, (int) header.height(), (int) header.width(),
                             header.channels());
    }
}
