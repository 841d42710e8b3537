"""Keras layers of the codec: recurrent cells, binarizer, depth-to-space, GDN."""

from tfrnncomp.model.layers.binarizer import SignBinarizer
from tfrnncomp.model.layers.cells import (CELLS, AssociativeLSTMCell, ConvGRUCell, ConvLSTMCell,
                                    ConvRNNCell, ResidualGRUCell, make_cell)
from tfrnncomp.model.layers.depth_to_space import DepthToSpace, SpaceToDepth
from tfrnncomp.model.layers.gdn import GDN

__all__ = ["AssociativeLSTMCell", "CELLS", "ConvGRUCell", "ConvLSTMCell", "ConvRNNCell",
           "DepthToSpace", "GDN", "ResidualGRUCell", "SignBinarizer",
           "SpaceToDepth", "make_cell"]
