package org.tfrnncomp.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.List;
import org.junit.Test;

/**
 * Whole {@code .trc} files of entropy mode binaryrnn written by the Python codec
 * (tools/binaryrnn_files.py via make_vectors.py): the Java {@link Decoder} given
 * the BinaryRNN model file decodes the same codes, or fails with the Python error.
 */
public class BinaryRnnFileTest {
    private static Decoder.Model model(Vectors.Entry e) throws Exception {
        BinaryRnnModel entropy = BinaryRnnModel.read(Vectors.bytes(e.get("model")));
        return new Decoder.Model(e.get("model_id"), 16, 32, entropy);
    }

    private static List<Codes> decode(Vectors.Entry e) throws Exception {
        Decoder decoder = Decoder.open(Vectors.bytes(e.file), Bitstream.DEFAULT_MAX_PIXELS, false,
                                       model(e));
        return decoder.decode(decoder.availableIterations());
    }

    @Test
    public void filesDecodeToPythonsCodesOrFailWithPythonsError() throws Exception {
        int ok = 0;
        int failed = 0;
        for (Vectors.Entry e : Vectors.of("trcbinaryrnn")) {
            if (e.get("decode").equals("ok")) {
                List<Codes> codes = decode(e);
                assertEquals(e.file, e.getInt("iterations"), codes.size());
                assertEquals(e.file, BitstreamTest.codesOf(
                    Vectors.npz(e.get("codes")).get("codes")), codes);
                ok++;
                continue;
            }
            try {
                decode(e);
                fail(e.file + " decoded in Java, not in Python");
            } catch (BitstreamException error) {
                assertEquals(e.file, e.get("error"), error.kind().pythonName());
                assertEquals(e.file, e.get("message"), error.getMessage());
                failed++;
            }
        }
        assertTrue("whole, cut and refused files", ok >= 2 && failed >= 3);
    }

    @Test
    public void theShippedBinaryRnnDecodesAKodakCropLikePython() throws Exception {
        Vectors.Entry shipped = null;
        for (Vectors.Entry e : Vectors.of("trcbinaryrnn")) {
            shipped = e.file.equals("shipped_binaryrnn_96x128.trc") ? e : shipped;
        }
        org.junit.Assume.assumeNotNull(shipped);  // absent from make_vectors.py --quick
        List<Codes> codes = decode(shipped);
        assertEquals(8, codes.size());
        assertEquals(BitstreamTest.codesOf(Vectors.npz(shipped.get("codes")).get("codes")),
                     codes);
        assertEquals(6, codes.get(0).rows());
    }

    @Test
    public void theModelFilesHaveThePythonIds() throws Exception {
        for (Vectors.Entry e : Vectors.of("binaryrnnmodel")) {
            BinaryRnnModel m = BinaryRnnModel.read(Vectors.bytes(e.file));
            assertEquals(e.get("entropy_id"), m.entropyId());
            assertEquals(e.get("codec_model_id"), m.codecModelId());
        }
    }

    @Test
    public void withoutItsBinaryRnnModelAFileIsRefusedNamingTheModel() throws Exception {
        Vectors.Entry e = Vectors.find("tiny_binaryrnn_40x50.trc");
        String id = BinaryRnnModel.read(Vectors.bytes(e.get("model"))).entropyId();
        try {
            Decoder.open(Vectors.bytes(e.file));
            fail("decoded a binaryrnn file without its model");
        } catch (BitstreamException expected) {
            assertEquals(BitstreamException.Kind.UNSUPPORTED_MODE, expected.kind());
            assertEquals("file is entropy-coded with '" + id
                         + "'; give the decoder that BinaryRNN model file", expected.getMessage());
        }
    }

    @Test
    public void aCutFileDecodesItsWholeIterationsProgressively() throws Exception {
        Vectors.Entry whole = Vectors.find("tiny_binaryrnn_40x50.trc");
        Vectors.Entry cut = Vectors.find("binaryrnn_cut_2.trc");
        List<Codes> all = decode(whole);
        Decoder decoder = Decoder.open(Vectors.bytes(cut.file), Bitstream.DEFAULT_MAX_PIXELS,
                                       false, model(cut));
        assertEquals(2, decoder.availableIterations());
        assertEquals(all.get(0), decoder.next());
        assertEquals(all.get(1), decoder.next());
    }
}
