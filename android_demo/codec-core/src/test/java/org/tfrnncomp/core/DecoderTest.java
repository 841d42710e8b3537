package org.tfrnncomp.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.Arrays;
import java.util.List;
import org.junit.Test;

/** Progressive decoding and the host loop with a fake decoder-step driver. */
public class DecoderTest {
    private static List<Codes> expected(String trc) throws Exception {
        return BitstreamTest.codesOf(Vectors.npz(Vectors.find(trc).get("codes")).get("codes"));
    }

    @Test
    public void decodesOneIterationAtATime() throws Exception {
        for (String name : new String[] {"tiny_context_100x130.trc", "tiny_raw_40x50.trc"}) {
            List<Codes> codes = expected(name);
            Decoder decoder = Decoder.open(Vectors.bytes(name));
            assertEquals(codes.size(), decoder.availableIterations());
            assertTrue(decoder.isComplete());
            for (int t = 0; t < codes.size(); t++) {
                assertEquals(t, decoder.decodedIterations());
                assertTrue(decoder.hasNext());
                Codes c = decoder.next();
                assertEquals(name + " iteration " + t, codes.get(t), c);
                assertEquals(c.rows(), decoder.header().codeRows());
            }
            assertFalse(decoder.hasNext());
            try {
                decoder.next();
                fail("decoded past the end");
            } catch (IllegalStateException expected) {
                // ok
            }
        }
    }

    @Test
    public void theHostLoopRunsTheDriverOnEachIterationsCodes() throws Exception {
        String name = "tiny_context_noise_33x65.trc";
        List<Codes> codes = expected(name);
        FakeIterationDriver driver = new FakeIterationDriver();
        int run = Decoder.open(Vectors.bytes(name)).run(driver, 99);
        assertEquals(codes.size(), run);
        assertEquals(run, driver.ended);
        assertEquals(codes, driver.seen);
        assertEquals(33, driver.header.height());
        int[] sum = new int[codes.get(0).size()];
        for (Codes c : codes) {
            byte[] v = c.values();
            for (int i = 0; i < v.length; i++) {
                sum[i] += v[i];
            }
        }
        assertArrayEquals(sum, driver.sum);

        FakeIterationDriver two = new FakeIterationDriver();
        assertEquals(2, Decoder.open(Vectors.bytes(name)).run(two, 2));
        assertEquals(Arrays.asList(0, 1), two.steps);
        assertEquals(codes.subList(0, 2), two.seen);
    }

    @Test
    public void aCutFileRunsItsWholeIterations() throws Exception {
        String name = "tiny_context_100x130.trc";
        byte[] data = Vectors.bytes(name);
        List<Codes> codes = expected(name);
        FakeIterationDriver driver = new FakeIterationDriver();
        Decoder decoder = Decoder.open(Arrays.copyOf(data, data.length - 1));
        assertFalse(decoder.isComplete());
        assertEquals(codes.size() - 1, decoder.run(driver, 16));
        assertEquals(codes.subList(0, codes.size() - 1), driver.seen);
        try {
            Decoder.open(Arrays.copyOf(data, data.length - 1), Bitstream.DEFAULT_MAX_PIXELS,
                         true, null);
            fail("strict mode accepted a cut file");
        } catch (BitstreamException expected) {
            assertEquals(BitstreamException.Kind.TRUNCATED, expected.kind());
        }
    }

    @Test
    public void driverErrorsPropagate() throws Exception {
        FakeIterationDriver driver = new FakeIterationDriver();
        driver.failAt = 1;
        try {
            Decoder.open(Vectors.bytes("tiny_raw_40x50.trc")).run(driver, 3);
            fail("no error");
        } catch (Exception expected) {
            assertEquals("model failed at 1", expected.getMessage());
        }
        assertEquals(-1, driver.ended);
    }

    @Test
    public void filesOfAnotherModelAreRefusedAsInPython() throws Exception {
        byte[] data = Vectors.bytes("tiny_context_40x50.trc");
        String id = Vectors.find("tiny_context_40x50.trc").get("model_id");
        Decoder.open(data, Bitstream.DEFAULT_MAX_PIXELS, false, new Decoder.Model(id, 16, 32));
        try {
            Decoder.open(data, Bitstream.DEFAULT_MAX_PIXELS, false,
                         new Decoder.Model("gru-w25@00000000", 16, 32));
            fail("accepted another model's file");
        } catch (BitstreamException expected) {
            assertEquals(BitstreamException.Kind.MODEL_MISMATCH, expected.kind());
            assertEquals("file was written by model '" + id + "', this codec is "
                         + "'gru-w25@00000000'; decode it with that model", expected.getMessage());
        }
        try {
            Decoder.open(data, Bitstream.DEFAULT_MAX_PIXELS, false, new Decoder.Model(id, 16, 16));
            fail("accepted another code depth");
        } catch (BitstreamException expected) {
            assertEquals("file's code depth or block size does not match the model",
                         expected.getMessage());
        }
    }

    @Test
    public void aBinaryRnnFileWithoutItsEntropyModelIdIsRefusedLikeInPython() throws Exception {
        Vectors.Entry e = Vectors.find("context_entropy_binaryrnn.trc");
        try {
            Decoder.open(Vectors.bytes(e.file));
            fail("decoded a binaryrnn file");
        } catch (BitstreamException expected) {
            assertEquals(BitstreamException.Kind.MALFORMED, expected.kind());
            assertEquals(e.get("decode"), expected.getMessage());
        }
    }

    @Test
    public void codesConvertBetweenLayouts() {
        byte[] bits = {0, 1, 1, 0, 1, 1};
        Codes c = Codes.fromBits(1, 2, 3, bits);
        assertArrayEquals(new byte[] {-1, 1, 1, -1, 1, 1}, c.values());
        assertArrayEquals(bits, c.toBits());
        assertEquals(1, c.get(0, 1, 2));
        byte[][][] nested = c.toArray();
        assertArrayEquals(new byte[] {-1, 1, 1}, nested[0][0]);
        assertEquals(c, Codes.fromArray(nested));
        java.nio.FloatBuffer floats = c.toFloatBuffer().asFloatBuffer();
        assertEquals(-1f, floats.get(0), 0f);
        assertEquals(1f, floats.get(5), 0f);
        try {
            new Codes(1, 1, 2, new byte[] {0, 1});
            fail("accepted a 0 code");
        } catch (IllegalArgumentException expected) {
            // ok
        }
    }
}
