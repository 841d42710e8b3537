"""Training: the ``fit`` loop and its options (:mod:`.train`, :mod:`.setup`), patches from folders or
TFDS (:mod:`.data`, :mod:`.patches`, :mod:`.image_files`), replica noise and whole-image validation."""
