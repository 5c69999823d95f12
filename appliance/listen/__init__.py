"""The input half after capture: wake word, VAD, STT."""
