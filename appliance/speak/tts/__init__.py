"""Text-to-speech engines behind one interface (base.TtsEngine)."""
