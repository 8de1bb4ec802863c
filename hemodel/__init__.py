"""hemodel: discrete-event health-economic modelling of ctDNA-guided therapy switching."""

__version__ = "0.1.0"
