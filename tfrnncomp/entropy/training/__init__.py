"""Training the BinaryRNN entropy model (TensorFlow/Keras): its layers and model, the datasets
of the codec's codes it learns from, and its quantization to the integer network coders run."""
