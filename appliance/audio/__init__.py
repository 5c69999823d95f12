"""ALSA devices and audio format helpers."""
