"""syncview: a keyboard-driven console for MSP documentation sync."""

__version__ = "0.1.0"
