"""The demo conversation: a scripted person talking to the real pipeline through FIFO-backed
ALSA devices, so it runs anywhere, in real time, with no sound card."""
