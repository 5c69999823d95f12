"""The output half: sentence splitting, TTS, priorities, streaming to playback."""
