"""cw: reproduction of Cueva & Wei (ICLR 2018), grid-like units in path-integrating RNNs."""

import os as _os

# TensorFlow's C++ start-up chatter (oneDNN, CPU features) would drown the pipeline's own output.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
