"""``appliance demo --input-only``: real capture from a file-backed ALSA PCM -> VAD -> STT."""

from __future__ import annotations

import re
import subprocess
import sys


def test_demo_transcribes_every_utterance():
    proc = subprocess.run([sys.executable, "-m", "appliance", "demo", "--input-only"],
                          capture_output=True, text=True, timeout=600, check=False)
    out = proc.stdout
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3/3 utterances transcribed" in out
    assert len(re.findall(r"^\[\d\] ", out, re.M)) == 3
    wer = int(re.search(r"word error rate (\d+)%", out).group(1))
    assert wer <= 20, out
    # Each VAD boundary within 150 ms of where the speech really was.
    errors = [int(e) for pair in re.findall(r"error ([+-]\d+)/([+-]\d+) ms", out) for e in pair]
    assert len(errors) == 6 and all(abs(e) <= 150 for e in errors), out
