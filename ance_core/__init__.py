"""ance_core: the ANCE stages (data, encoder, mining, samplers, trainer, evaluation)."""

__version__ = "0.1.0"
