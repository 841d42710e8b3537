package org.tfrnncomp.core;

/**
 * The host side of progressive decoding: the neural decoder, run one iteration
 * at a time. {@link Decoder#run} calls {@link #begin} once, then {@link #step}
 * for iterations 0, 1, 2, ... with that iteration's codes, then {@link #end}.
 *
 * <p>The reference is {@code tfrnncomp.runtime.steps.run_decoder_steps}:
 *
 * <pre>
 * begin:  decoder_state_i = zeros; reconstruction = zeros [1, padH, padW, 3]; gain = ones [1, padH, padW, 1]
 * step t: reconstruction, gain, states = decoder_step(float(codes_t)[None], reconstruction, gain, states)
 *         image_t = to_uint8(reconstruction)[:height, :width]   (greyscale files: channel mean)
 * </pre>
 *
 * {@link StepLoopDriver} implements exactly this on top of a {@link DecoderStep}
 * (the Android app's TensorFlow Lite {@code decoder_step} signature); tests use a
 * fake. Implement this interface directly for other runtimes.
 */
public interface IterationDriver {
    /**
     * Called once before the first step, with the file's header: image size
     * {@code height x width}, padded size {@code padHeight x padWidth}, code shape
     * {@code codeRows x codeCols x codeDepth}, and the model id to check.
     */
    void begin(Header header) throws Exception;

    /** Runs the decoder step of iteration {@code iteration} (0-based) on its codes. */
    void step(int iteration, Codes codes) throws Exception;

    /** Called after the last step (the default does nothing). */
    default void end(int iterationsRun) throws Exception {
    }
}
