"""Stage 2: the Keras model around the formula (``build``), compiled and reused (``compile``)."""
