"""The network of Toderici et al. 2017: its config (:mod:`.config`), layers (:mod:`.layers`), the
Keras model (:mod:`.network`) and the zoo of trained weights (:mod:`.zoo`)."""
