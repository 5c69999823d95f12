"""The appliance: offline, Spanish-first kitchen smart speaker firmware."""

__version__ = "0.1.0"
