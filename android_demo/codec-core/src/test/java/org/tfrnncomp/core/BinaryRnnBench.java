package org.tfrnncomp.core;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * Timing harness (not a unit test) for entropy decoding with the BinaryRNN on the
 * JVM: {@code build.sh bench MODEL OUT_DIR [FILE.trc ...]}.
 *
 * <p>Decodes a Kodak-size code tensor (32 x 48 x 32 bits, 16 iterations; synthetic
 * codes with spatial structure, range-coded here by the Java encoder) and each
 * given {@code .trc} file (through {@link Decoder}, CRC checks included), several
 * times in one JVM, and writes {@code java.json} and {@code java.md} to OUT_DIR.
 * The first run includes JIT compilation.
 */
public final class BinaryRnnBench {
    private static final int RUNS = 4;

    private BinaryRnnBench() {
    }

    /** Seconds of each run of {@code work}. */
    private interface Work {
        void run() throws Exception;
    }

    /** Wall seconds of each run, then the thread's CPU seconds of each run. */
    private static double[] time(Work work) throws Exception {
        java.lang.management.ThreadMXBean bean =
            java.lang.management.ManagementFactory.getThreadMXBean();
        double[] out = new double[2 * RUNS];
        for (int i = 0; i < RUNS; i++) {
            long cpu = bean.getCurrentThreadCpuTime();
            long start = System.nanoTime();
            work.run();
            out[i] = (System.nanoTime() - start) / 1e9;
            out[RUNS + i] = (bean.getCurrentThreadCpuTime() - cpu) / 1e9;
        }
        return out;
    }

    /** Codes like a photo's: a per-column pattern, each bit flipped with probability 0.15. */
    static byte[][] syntheticCodes(int iterations, int h, int w, int depth, long seed) {
        Random rng = new Random(seed);
        boolean[] base = new boolean[w * depth];
        for (int i = 0; i < base.length; i++) {
            base[i] = rng.nextDouble() < 0.3;
        }
        byte[][] out = new byte[iterations][h * w * depth];
        for (byte[] codes : out) {
            for (int i = 0; i < codes.length; i++) {
                boolean bit = base[i % base.length] ^ (rng.nextDouble() < 0.15);
                codes[i] = (byte) (bit ? 1 : -1);
            }
        }
        return out;
    }

    private static String row(String what, int iterations, long bytes, double[] s) {
        double[] wall = Arrays.copyOfRange(s, 0, RUNS);
        double[] cpu = Arrays.copyOfRange(s, RUNS, 2 * RUNS);
        Arrays.sort(wall);
        Arrays.sort(cpu);
        return String.format(Locale.ROOT, "| %s | %d | %d | %.3f | %.3f | %.3f | %.3f |", what,
                             iterations, bytes, s[0], wall[0], wall[RUNS / 2], cpu[0]);
    }

    private static String list(double[] s, int from) {
        StringBuilder out = new StringBuilder();
        for (int i = from; i < from + RUNS; i++) {
            out.append(i == from ? "" : ", ").append(String.format(Locale.ROOT, "%.4f", s[i]));
        }
        return out.toString();
    }

    private static String json(String what, int iterations, long bytes, double[] s) {
        return String.format(Locale.ROOT, "    {\"input\": \"%s\", \"iterations\": %d, "
                             + "\"coded_bytes\": %d, \"wall_seconds\": [%s], "
                             + "\"cpu_seconds\": [%s]}", what, iterations, bytes, list(s, 0),
                             list(s, RUNS));
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: BinaryRnnBench MODEL.bin OUT_DIR [FILE.trc ...]");
            System.exit(2);
        }
        File modelFile = new File(args[0]);
        BinaryRnnModel model = BinaryRnnModel.read(Files.readAllBytes(modelFile.toPath()));
        List<String> rows = new ArrayList<>();
        List<String> records = new ArrayList<>();

        int t = 16;
        int h = 32;
        int w = 48;
        byte[][] codes = syntheticCodes(t, h, w, model.bits, 1);
        byte[][] chunks = new byte[t][];
        long bytes = 0;
        for (int i = 0; i < t; i++) {
            chunks[i] = BinaryRnnDecoder.encodeIteration(model, codes[i], i + 1, h, w,
                i > 0 ? codes[i - 1] : null, i > 1 ? codes[i - 2] : null, null);
            bytes += chunks[i].length;
        }
        double[] s = time(() -> {
            byte[] p1 = null;
            byte[] p2 = null;
            for (int i = 0; i < t; i++) {
                byte[] out = BinaryRnnDecoder.decodeIteration(model, chunks[i], i + 1, h, w, p1,
                                                              p2, null);
                if (!Arrays.equals(out, codes[i])) {
                    throw new AssertionError("synthetic codes decoded wrongly");
                }
                p2 = p1;
                p1 = out;
            }
        });
        String what = "synthetic 32x48x32 (Kodak size)";
        rows.add(row(what, t, bytes, s));
        records.add(json(what, t, bytes, s));

        for (int a = 2; a < args.length; a++) {
            byte[] file = Files.readAllBytes(new File(args[a]).toPath());
            Header header = Bitstream.read(file, Bitstream.DEFAULT_MAX_PIXELS, false).header();
            Decoder.Model expected = new Decoder.Model(header.modelId(), header.blockSize(),
                                                       header.codeDepth(), model);
            int[] n = new int[1];
            double[] fs = time(() -> {
                Decoder d = Decoder.open(file, Bitstream.DEFAULT_MAX_PIXELS, false, expected);
                n[0] = d.decode(d.availableIterations()).size();
            });
            String name = new File(args[a]).getName() + " (" + header.codeRows() + "x"
                          + header.codeCols() + "x" + header.codeDepth() + ")";
            rows.add(row(name, n[0], file.length, fs));
            records.add(json(name, n[0], file.length, fs));
        }
        StringBuilder command = new StringBuilder("android_demo/codec-core/build.sh bench "
                                                  + modelFile.getName() + " " + args[1]);
        for (int a = 2; a < args.length; a++) {
            command.append(' ').append(new File(args[a]).getName());
        }
        write(new File(args[1]), model, rows, records, command.toString());
    }

    private static void write(File dir, BinaryRnnModel model, List<String> rows,
                              List<String> records, String command) throws IOException {
        String jvm = System.getProperty("java.vm.name") + " " + System.getProperty("java.version");
        String md = "# BinaryRNN entropy decoding on the JVM (android_demo/codec-core)\n\n"
            + "Model " + model.entropyId() + " (" + model.channels + " channels, for "
            + model.codecModelId() + "); " + jvm + ", "
            + Runtime.getRuntime().availableProcessors() + " cores, one thread; "
            + RUNS + " runs in one JVM, the first includes JIT compilation; wall-clock "
            + "seconds, and the decoding thread's CPU seconds (less affected by the other "
            + "processes). Measured on a shared, loaded machine.\n\n"
            + "| input | iterations | coded bytes | first run s | best s | median s "
            + "| best thread CPU s |\n"
            + "|---|---|---|---|---|---|---|\n" + String.join("\n", rows) + "\n\n"
            + "Command: `" + command + "` (file names shortened to the last path part; "
            + "a `.trc` input was written by `python -m tfrnncomp compress --iterations 16 "
            + "--entropy binaryrnn IMAGE.png FILE.trc` with the shipped model).\n";
        String json = "{\n  \"entropy_id\": \"" + model.entropyId() + "\",\n  \"jvm\": \""
            + jvm + "\",\n  \"runs\": " + RUNS + ",\n  \"results\": [\n"
            + String.join(",\n", records) + "\n  ]\n}\n";
        if (!dir.isDirectory() && !dir.mkdirs()) {
            throw new IOException("cannot create " + dir);
        }
        writeAtomically(new File(dir, "java.md"), md);
        writeAtomically(new File(dir, "java.json"), json);
        System.out.print(md);
    }

    private static void writeAtomically(File file, String text) throws IOException {
        File tmp = new File(file.getPath() + ".tmp");
        Files.write(tmp.toPath(), text.getBytes(StandardCharsets.UTF_8));
        Files.move(tmp.toPath(), file.toPath(), StandardCopyOption.REPLACE_EXISTING);
    }
}
