"""Paper figures: one module per figure, each drawing from the Datasets that :mod:`spectral_physics.analysis.reproduce` computes."""
