package org.tfrnncomp.demo

import android.graphics.Bitmap
import android.graphics.ImageDecoder
import android.net.Uri
import android.os.Bundle
import android.widget.Button
import android.widget.ImageView
import android.widget.SeekBar
import android.widget.TextView
import androidx.activity.result.PickVisualMediaRequest
import androidx.activity.result.contract.ActivityResultContracts
import androidx.appcompat.app.AppCompatActivity
import androidx.lifecycle.lifecycleScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import org.tfrnncomp.core.Bitstream
import org.tfrnncomp.core.BitstreamException
import org.tfrnncomp.core.Decoder
import org.tfrnncomp.core.EntropyMode
import org.tfrnncomp.core.Encoder
import org.tfrnncomp.core.Header
import org.tfrnncomp.core.Pixels
import org.tfrnncomp.core.StepLoopDriver

/**
 * Compress a photo (encoder step model + context entropy coding in codec-core) or open a
 * `.trc` file, then watch it decode iteration by iteration; the slider shows the image
 * after any number of iterations (each one adds about 1/8 bit per pixel before entropy
 * coding).
 */
class MainActivity : AppCompatActivity() {
    private lateinit var info: TextView
    private lateinit var imageView: ImageView
    private lateinit var label: TextView
    private lateinit var slider: SeekBar

    private var models: StepModels? = null
    private var job: Job? = null
    private val frames = ArrayList<Bitmap>()
    private var followLatest = true
    @Volatile private var generation = 0  // bumped per decode: stale frames are dropped

    private val pickPhoto = registerForActivityResult(
        ActivityResultContracts.PickVisualMedia()) { uri -> uri?.let(::compressPhoto) }
    private val openTrc = registerForActivityResult(
        ActivityResultContracts.OpenDocument()) { uri -> uri?.let(::openFile) }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        info = findViewById(R.id.info)
        imageView = findViewById(R.id.image)
        label = findViewById(R.id.iteration_label)
        slider = findViewById(R.id.iterations)
        findViewById<Button>(R.id.pick_photo).setOnClickListener {
            pickPhoto.launch(PickVisualMediaRequest(ActivityResultContracts.PickVisualMedia.ImageOnly))
        }
        findViewById<Button>(R.id.open_trc).setOnClickListener { openTrc.launch(arrayOf("*/*")) }
        slider.setOnSeekBarChangeListener(object : SeekBar.OnSeekBarChangeListener {
            override fun onProgressChanged(bar: SeekBar, progress: Int, fromUser: Boolean) {
                if (fromUser) followLatest = progress == bar.max
                show(progress)
            }
            override fun onStartTrackingTouch(bar: SeekBar) {}
            override fun onStopTrackingTouch(bar: SeekBar) {}
        })
        models = try {
            StepModels(this)
        } catch (e: Exception) {
            info.text = "No step models in assets/tflite (${e.message}); see its README.md."
            null
        }
        intent?.data?.let(::openFile)
    }

    override fun onDestroy() {
        job?.cancel()
        models?.close()
        super.onDestroy()
    }

    private fun show(iteration: Int) {
        if (iteration < frames.size) {
            imageView.setImageBitmap(frames[iteration])
            label.text = "iterations: ${iteration + 1} of ${frames.size}"
        }
    }

    private fun openFile(uri: Uri) {
        val bytes = contentResolver.openInputStream(uri)?.use { it.readBytes() } ?: return
        decode(bytes, "")
    }

    private fun compressPhoto(uri: Uri) {
        val m = models ?: return
        job?.cancel()
        job = lifecycleScope.launch {
            info.text = "Compressing..."
            val bytes = withContext(Dispatchers.Default) {
                val bitmap = ImageDecoder.decodeBitmap(ImageDecoder.createSource(contentResolver, uri)) { d, i, _ ->
                    d.allocator = ImageDecoder.ALLOCATOR_SOFTWARE
                    val scale = minOf(1.0, 768.0 / maxOf(i.size.width, i.size.height))
                    d.setTargetSize((i.size.width * scale).toInt().coerceAtLeast(1),
                                    (i.size.height * scale).toInt().coerceAtLeast(1))
                }
                val w = bitmap.width
                val h = bitmap.height
                val argb = IntArray(w * h).also { bitmap.getPixels(it, 0, w, 0, 0, w, h) }
                val codes = TfliteEncoder(m).encode(argb, w, h, ITERATIONS)
                val header = Header(m.modelId, h.toLong(), w.toLong(), 3,
                                    Pixels.padded(h.toLong()).toLong(), Pixels.padded(w.toLong()).toLong(),
                                    ITERATIONS, EntropyMode.CONTEXT, m.blockSize, m.codeDepth, null)
                Encoder.encodeFile(header, codes)
            }
            decode(bytes, "compressed to ${bytes.size} bytes; ")
        }
    }

    private fun decode(bytes: ByteArray, prefix: String) {
        val m = models ?: return
        job?.cancel()
        generation++
        frames.clear()
        followLatest = true
        slider.isEnabled = false
        val decoder = try {
            Decoder.open(bytes, Bitstream.DEFAULT_MAX_PIXELS, false, m.model)
        } catch (e: BitstreamException) {
            info.text = "Cannot decode: ${e.message}"
            return
        }
        val h = decoder.header()
        val bpp = 8.0 * bytes.size / (h.height() * h.width())
        info.text = prefix + "${h.width()}x${h.height()}, ${decoder.availableIterations()} of " +
            "${h.iterations()} iterations, ${h.entropyMode().pythonName()}, %.3f bpp".format(bpp)
        val mine = ++generation
        job = lifecycleScope.launch {
            val filter = m.postFilterInterpreter?.let { TflitePostFilterStep(it) }
            val driver = StepLoopDriver(TfliteDecoderStep(m.decoderInterpreter), filter,
                                        m.decoderLayout) { t, argb, w, hh ->
                // the loop is blocking code: stop it here when another file was opened
                if (mine != generation) throw java.util.concurrent.CancellationException()
                val frame = Bitmap.createBitmap(argb, w, hh, Bitmap.Config.ARGB_8888)
                runOnUiThread {  // posted in order, so frames arrive in iteration order
                    if (mine != generation) return@runOnUiThread
                    frames.add(frame)
                    slider.max = frames.size - 1
                    slider.isEnabled = true
                    if (followLatest) slider.progress = t
                    show(slider.progress)
                }
            }
            withContext(Dispatchers.Default) { decoder.run(driver, Int.MAX_VALUE) }
        }
    }

    companion object {
        const val ITERATIONS = 8
    }
}
