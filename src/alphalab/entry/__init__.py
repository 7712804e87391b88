"""Stage 6, the entry layer: where Hydra and the command line meet alphalab. The only layer
(with ``alphalab.config``) that sees a ``DictConfig``; it builds the specs and hands them down."""
