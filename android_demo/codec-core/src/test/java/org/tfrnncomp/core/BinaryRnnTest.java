package org.tfrnncomp.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import org.junit.Test;

/**
 * The integer BinaryRNN against the vectors of tools/make_binaryrnn_vectors.py
 * ({@code /vectors_binaryrnn/}): the tiny progressive and single-iteration models
 * (and the shipped one if it was there), every intermediate integer, every table
 * index and every coded chunk, bit for bit.
 */
public class BinaryRnnTest {
    static final String DIR = "vectors_binaryrnn";

    /** One case of the vectors: codes [T][h][w][D], its model, everything Python computed. */
    static final class Case {
        final String name;
        final BinaryRnnModel model;
        final int iterations;
        final int h;
        final int w;
        final int depth;
        final Map<String, Npz.Array> arrays;

        Case(Vectors.Entry e) throws IOException {
            name = e.file;
            model = model(e.get("model"));
            int[] shape = e.getShape("shape");
            iterations = shape[0];
            h = shape[1];
            w = shape[2];
            depth = shape[3];
            arrays = Vectors.npz(DIR, e.file);
        }

        private int[] slice(String key, int t) {
            int[] all = arrays.get(key).ints();
            int n = all.length / iterations;
            return Arrays.copyOfRange(all, t * n, (t + 1) * n);
        }

        byte[] codes(int t) {
            byte[] all = arrays.get("codes").bytes();
            int n = h * w * depth;
            return t < 0 ? null : Arrays.copyOfRange(all, t * n, (t + 1) * n);
        }

        boolean[] active(int t) {
            byte[] all = arrays.get("active").bytes();
            boolean[] out = new boolean[h * w];
            for (int i = 0; i < out.length; i++) {
                out[i] = all[t * h * w + i] != 0;
            }
            return out;
        }

        int[] indices(int t) {
            return slice("indices", t);
        }

        int[] features(int t) {
            return slice("features", t);
        }

        int[] lstmH(int t) {
            return slice("lstm_h", t);
        }

        byte[] chunk(int t) {
            return arrays.get("chunk_" + t).bytes();
        }
    }

    private static final Map<String, BinaryRnnModel> MODELS = new HashMap<>();

    static synchronized BinaryRnnModel model(String file) throws IOException {
        if (!MODELS.containsKey(file)) {
            MODELS.put(file, BinaryRnnModel.read(Vectors.bytes(DIR, file)));
        }
        return MODELS.get(file);
    }

    static Case[] cases() throws IOException {
        java.util.List<Vectors.Entry> entries = Vectors.of(DIR, "binaryrnn");
        Case[] out = new Case[entries.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = new Case(entries.get(i));
        }
        return out;
    }

    @Test
    public void modelFilesParseAndHaveThePythonEntropyIds() throws Exception {
        for (Vectors.Entry e : Vectors.of(DIR, "model")) {
            BinaryRnnModel m = model(e.file);
            assertEquals(e.file, e.get("entropy_id"), m.entropyId());
            assertEquals(e.file, e.get("codec_model_id"), m.codecModelId());
            assertEquals(32, m.bits);
        }
        assertTrue(model("tiny_progressive.bin").progressive);
        assertFalse(model("tiny_plain.bin").progressive);
        assertEquals(1, model("tiny_progressive.bin").depthGroups);
        assertEquals(4, model("tiny_grouped.bin").depthGroups);
        assertEquals(8, model("tiny_grouped.bin").groupSize);
    }

    @Test
    public void featuresAndLstmOutputsEqualPythonsRowByRow() throws Exception {
        for (Case c : cases()) {
            for (int t = 0; t < c.iterations; t++) {
                BinaryRnnRows rows = new BinaryRnnRows(c.model, c.h, c.w, t + 1, c.codes(t),
                                                       c.codes(t - 1), c.codes(t - 2));
                int n = c.w * c.model.channels;
                for (int y = 0; y < c.h; y++) {
                    rows.next();
                    String at = c.name + " t=" + t + " y=" + y;
                    assertArrayEquals(at + " X", Arrays.copyOfRange(c.features(t), y * n,
                                                                    (y + 1) * n), rows.features);
                    assertArrayEquals(at + " H", Arrays.copyOfRange(c.lstmH(t), y * n,
                                                                    (y + 1) * n), rows.state);
                }
            }
        }
    }

    @Test
    public void tableIndicesEqualPythonsForEveryBit() throws Exception {
        int checked = 0;
        for (Case c : cases()) {
            for (int t = 0; t < c.iterations; t++) {
                int[] indices = BinaryRnnDecoder.indicesFor(c.model, c.codes(t), t + 1, c.h, c.w,
                    c.codes(t - 1), c.codes(t - 2), c.active(t));
                assertArrayEquals(c.name + " t=" + t, c.indices(t), indices);
                checked += indices.length;
            }
        }
        assertTrue(checked > 1000);
    }

    @Test
    public void chunksDecodeToPythonsCodesAndReencodeToTheSameBytes() throws Exception {
        for (Case c : cases()) {
            for (int t = 0; t < c.iterations; t++) {
                byte[] decoded = BinaryRnnDecoder.decodeIteration(c.model, c.chunk(t), t + 1, c.h,
                    c.w, c.codes(t - 1), c.codes(t - 2), c.active(t));
                assertArrayEquals(c.name + " t=" + t, c.codes(t), decoded);
                assertArrayEquals(c.name + " t=" + t, c.chunk(t), BinaryRnnDecoder
                    .encodeIteration(c.model, decoded, t + 1, c.h, c.w, c.codes(t - 1),
                                     c.codes(t - 2), c.active(t)));
            }
        }
    }

    @Test
    public void inactivePositionsDecodeToZeroAndCostNoBits() throws Exception {
        int inactive = 0;
        for (Case c : cases()) {
            if (!c.name.endsWith("_active.npz")) {
                continue;
            }
            for (int t = 0; t < c.iterations; t++) {
                boolean[] active = c.active(t);
                byte[] decoded = BinaryRnnDecoder.decodeIteration(c.model, c.chunk(t), t + 1, c.h,
                    c.w, c.codes(t - 1), c.codes(t - 2), active);
                for (int p = 0; p < active.length; p++) {
                    for (int d = 0; d < c.depth; d++) {
                        assertEquals(active[p], decoded[p * c.depth + d] != 0);
                    }
                    inactive += active[p] ? 0 : 1;
                }
            }
        }
        assertTrue("the vectors have inactive positions", inactive > 0);
    }

    @Test
    public void aCorruptedChunkFailsTheFinalCheckOrDecodesOtherCodes() throws Exception {
        Case c = cases()[1];
        byte[] chunk = c.chunk(0);
        byte[] longer = Arrays.copyOf(chunk, chunk.length + 1);
        longer[chunk.length] = 0x55;
        try {
            BinaryRnnDecoder.decodeIteration(c.model, longer, 1, c.h, c.w, null, null, null);
            fail("accepted a chunk with a trailing byte");
        } catch (BitstreamException expected) {
            assertEquals(BitstreamException.Kind.MALFORMED, expected.kind());
            assertEquals("entropy-coded chunk is inconsistent (range decoder check failed)",
                         expected.getMessage());
        }
        int rejected = 0;
        for (int i = 0; i < chunk.length; i++) {
            byte[] flipped = chunk.clone();
            flipped[i] ^= 0x10;
            try {
                byte[] out = BinaryRnnDecoder.decodeIteration(c.model, flipped, 1, c.h, c.w, null,
                                                              null, null);
                assertNotEquals("byte " + i, Arrays.toString(c.codes(0)), Arrays.toString(out));
            } catch (BitstreamException expected) {
                rejected++;
            }
        }
        assertTrue("the final check catches some flips", rejected > 0);
    }

    @Test
    public void badModelFilesAreRefusedWithAClearMessage() throws Exception {
        byte[] good = Vectors.bytes(DIR, "tiny_progressive.bin");
        String[][] cases = {
            {"magic", "not a BinaryRNN integer model (bad magic or version)"},
            {"trailing", "BinaryRNN integer model has trailing bytes"},
            {"cut", "BinaryRNN integer model file is cut short"},
        };
        for (String[] k : cases) {
            byte[] bad;
            if (k[0].equals("magic")) {
                bad = good.clone();
                bad[4] = 2;
            } else if (k[0].equals("trailing")) {
                bad = Arrays.copyOf(good, good.length + 1);
            } else {
                bad = Arrays.copyOf(good, good.length - 3);
            }
            try {
                BinaryRnnModel.read(bad);
                fail(k[0]);
            } catch (IOException expected) {
                assertEquals(k[1], expected.getMessage());
            }
        }
    }
}
