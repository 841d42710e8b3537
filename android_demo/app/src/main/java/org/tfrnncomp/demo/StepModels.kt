package org.tfrnncomp.demo

import android.content.Context
import org.json.JSONObject
import org.tensorflow.lite.Interpreter
import org.tfrnncomp.core.Codes
import org.tfrnncomp.core.Decoder
import org.tfrnncomp.core.DecoderStep
import org.tfrnncomp.core.Pixels
import org.tfrnncomp.core.PostFilterStep
import org.tfrnncomp.core.StateLayout
import java.io.FileInputStream
import java.nio.FloatBuffer
import java.nio.MappedByteBuffer
import java.nio.channels.FileChannel

/**
 * The exported step models (`tfrnncomp export tflite`, see assets/tflite/README.md):
 * `tflite.json` + `encoder_step.<variant>.tflite` + `decoder_step.<variant>.tflite`, and
 * `post_filter_step.<variant>.tflite` when the model has a post-filter.
 */
class StepModels(context: Context, private val dir: String = "tflite",
                 variant: String = "float32", threads: Int = 2) : AutoCloseable {
    private val assets = context.assets
    private val manifest = JSONObject(assets.open("$dir/tflite.json").bufferedReader().readText())
    val modelId: String = manifest.getString("model_id")
    private val layout = manifest.getJSONObject("state_layout")
    val blockSize: Int = layout.getInt("block")
    val codeDepth: Int = layout.getInt("bits")
    val encoderLayout = stateLayout("encoder")
    val decoderLayout = stateLayout("decoder")
    private val files = manifest.getJSONObject("variants").getJSONObject(variant)
    private val options = Interpreter.Options().setNumThreads(threads)
    private var decoder: Interpreter? = null
    private var encoder: Interpreter? = null
    private var postFilter: Interpreter? = null
    private val hasPostFilter: Boolean = (0 until manifest.getJSONArray("steps").length())
        .any { manifest.getJSONArray("steps").getString(it) == "post_filter_step" }

    /** Loaded on first use, so a decode-only session never maps the encoder. */
    val decoderInterpreter: Interpreter
        @Synchronized get() = decoder ?: load("decoder_step").also { decoder = it }
    val encoderInterpreter: Interpreter
        @Synchronized get() = encoder ?: load("encoder_step").also { encoder = it }
    /** The post-filter's step model, or null when the export has none. */
    val postFilterInterpreter: Interpreter?
        @Synchronized get() {
            if (!hasPostFilter) return null
            return postFilter ?: load("post_filter_step").also { postFilter = it }
        }

    /** What a file must have been written with to be decoded here. */
    val model = Decoder.Model(modelId, blockSize, codeDepth)

    private fun stateLayout(part: String): StateLayout {
        val pairs = layout.getJSONArray(part)
        return StateLayout(Array(pairs.length()) { i ->
            val p = pairs.getJSONArray(i)
            intArrayOf(p.getInt(0), p.getInt(1))
        })
    }

    private fun load(step: String): Interpreter {
        val name = files.getJSONObject(step).getString("file")
        val fd = assets.openFd("$dir/$name")
        val buffer: MappedByteBuffer = FileInputStream(fd.fileDescriptor).channel
            .map(FileChannel.MapMode.READ_ONLY, fd.startOffset, fd.declaredLength)
        return Interpreter(buffer, options)
    }

    @Synchronized
    override fun close() {
        decoder?.close()
        encoder?.close()
        postFilter?.close()
        decoder = null
        encoder = null
        postFilter = null
    }
}

/**
 * Runs the single signature of a step model with flat float arrays.
 *
 * TensorFlow Lite resizes signature inputs only when they are passed as
 * multi-dimensional arrays (never for Buffers), so the first call at a new size
 * passes zero arrays of the new shapes; later calls wrap the flat arrays.
 */
class SignatureStep(private val interpreter: Interpreter) {
    private val signature: String = interpreter.signatureKeys.single()
    private var lastShapes: Map<String, List<Int>>? = null

    fun run(inputs: Map<String, Pair<FloatArray, IntArray>>, outputs: Map<String, FloatArray>) {
        val shapes = inputs.mapValues { it.value.second.toList() }
        if (shapes != lastShapes) {
            val zeros: Map<String, Any> = inputs.mapValues { (_, v) ->
                java.lang.reflect.Array.newInstance(java.lang.Float.TYPE, *v.second)
            }
            interpreter.runSignature(zeros, wrap(outputs), signature)
            lastShapes = shapes
        }
        interpreter.runSignature(inputs.mapValues { FloatBuffer.wrap(it.value.first) as Any },
                                 wrap(outputs), signature)
    }

    private fun wrap(outputs: Map<String, FloatArray>): Map<String, Any> =
        outputs.mapValues { FloatBuffer.wrap(it.value) }
}

/** codec-core's [DecoderStep] on the `decoder_step` TFLite model. */
class TfliteDecoderStep(interpreter: Interpreter) : DecoderStep {
    private val step = SignatureStep(interpreter)

    override fun run(bits: FloatArray, bitsShape: IntArray, reconstruction: FloatArray,
                     gain: FloatArray, imageShape: IntArray, states: Array<FloatArray>,
                     stateShapes: Array<IntArray>, outReconstruction: FloatArray,
                     outGain: FloatArray, outStates: Array<FloatArray>) {
        val gainShape = intArrayOf(1, imageShape[1], imageShape[2], 1)
        val inputs = mutableMapOf(
            "bits" to (bits to bitsShape),
            "reconstruction" to (reconstruction to imageShape),
            "gain" to (gain to gainShape))
        val outputs = mutableMapOf("reconstruction" to outReconstruction, "gain" to outGain)
        for (i in states.indices) {
            inputs["decoder_state_$i"] = states[i] to stateShapes[i]
            outputs["decoder_state_$i"] = outStates[i]
        }
        step.run(inputs, outputs)
    }
}

/** codec-core's [PostFilterStep] on the `post_filter_step` TFLite model. */
class TflitePostFilterStep(interpreter: Interpreter) : PostFilterStep {
    private val step = SignatureStep(interpreter)

    override fun run(reconstruction: FloatArray, imageShape: IntArray, iterations: FloatArray,
                     outImage: FloatArray) {
        val planeShape = intArrayOf(1, imageShape[1], imageShape[2], 1)
        step.run(mapOf("reconstruction" to (reconstruction to imageShape),
                       "iterations" to (iterations to planeShape)),
                 mapOf("image" to outImage))
    }
}

/**
 * The encoder host loop of `tfrnncomp.runtime.steps.run_steps`: each iteration runs the
 * encoder step on the residual, then the decoder step (the next iteration codes
 * what is still missing).
 */
class TfliteEncoder(private val models: StepModels) {
    private val encoderStep = SignatureStep(models.encoderInterpreter)
    private val decoderStep = TfliteDecoderStep(models.decoderInterpreter)

    fun encode(argb: IntArray, width: Int, height: Int, iterations: Int,
               progress: (Int) -> Unit = {}): List<Codes> {
        val ph = Pixels.padded(height.toLong())
        val pw = Pixels.padded(width.toLong())
        val image = Pixels.toModelInput(argb, height, width, ph, pw)
        val imageShape = intArrayOf(1, ph, pw, 3)
        val gainShape = intArrayOf(1, ph, pw, 1)
        val enc = models.encoderLayout
        val dec = models.decoderLayout
        var encStates = Array(enc.size()) { FloatArray(enc.count(it, ph, pw)) }
        var decStates = Array(dec.size()) { FloatArray(dec.count(it, ph, pw)) }
        val decShapes = Array(dec.size()) { dec.shape(it, ph, pw) }
        var reconstruction = FloatArray(3 * ph * pw)
        var gain = FloatArray(ph * pw) { 1f }
        val rows = ph / models.blockSize
        val cols = pw / models.blockSize
        val bitsShape = intArrayOf(1, rows, cols, models.codeDepth)
        val codes = ArrayList<Codes>()
        for (t in 0 until iterations) {
            val bits = FloatArray(rows * cols * models.codeDepth)
            val nextEnc = Array(enc.size()) { FloatArray(encStates[it].size) }
            val inputs = mutableMapOf(
                "image" to (image to imageShape),
                "reconstruction" to (reconstruction to imageShape),
                "gain" to (gain to gainShape))
            val outputs = mutableMapOf("bits" to bits)
            for (i in encStates.indices) {
                inputs["encoder_state_$i"] = encStates[i] to enc.shape(i, ph, pw)
                outputs["encoder_state_$i"] = nextEnc[i]
            }
            encoderStep.run(inputs, outputs)
            encStates = nextEnc
            val values = ByteArray(bits.size) { if (bits[it] >= 0f) 1 else -1 }
            for (i in bits.indices) bits[i] = values[i].toFloat()
            val nextRecon = FloatArray(reconstruction.size)
            val nextGain = FloatArray(gain.size)
            val nextDec = Array(dec.size()) { FloatArray(decStates[it].size) }
            decoderStep.run(bits, bitsShape, reconstruction, gain, imageShape, decStates,
                            decShapes, nextRecon, nextGain, nextDec)
            reconstruction = nextRecon
            gain = nextGain
            decStates = nextDec
            codes.add(Codes(rows, cols, models.codeDepth, values))
            progress(t)
        }
        return codes
    }
}
