"""Leaf helpers every layer may use: the audio format, text folding, atomic files.

Nothing here imports the rest of the package, so stages, the control plane and the system
tools can share one definition of each fact without importing one another.
"""
