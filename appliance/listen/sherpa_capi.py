"""Silero VAD through sherpa-onnx's C API (ctypes), for interpreters without its Python module.

sherpa-onnx's Python extension has no free-threaded (cp313t) build, but the `sherpa-onnx-core`
wheel (tagged py3-none) ships `libsherpa-onnx-c-api.so` and `c-api.h`, which load through
ctypes on any CPython with the GIL off; ctypes releases the GIL during each call on a GIL
build too. `CapiSileroDetector` offers the same `Detector` interface as
`appliance.listen.vad.SileroDetector`.

The C API has no "current segment" call, so the open segment's start and samples are
reconstructed here from the samples we fed, with the same arithmetic sherpa-onnx uses
(voice-activity-detector.cc): speech starts at max(tail - 2 * window - min_speech, head), where
`tail` counts the samples already pushed to its buffer in steps of the window shift, and
`head` is where the previous segment ended.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
from collections import deque
from pathlib import Path

import numpy as np

from appliance.config import VadSettings
from appliance.core.pcm import SPEECH_RATE

WINDOW_SHIFT = 512  # samples per Silero step at 16 kHz (the `window_size` in sherpa's config)
V5_CONTEXT = 64  # Silero v5 looks at 64 extra samples of context at 16 kHz
LIB_ENV = "SHERPA_ONNX_C_API_LIB"


class _SileroCfg(ctypes.Structure):
    _fields_ = [
        ("model", ctypes.c_char_p),
        ("threshold", ctypes.c_float),
        ("min_silence_duration", ctypes.c_float),
        ("min_speech_duration", ctypes.c_float),
        ("window_size", ctypes.c_int32),
        ("max_speech_duration", ctypes.c_float),
    ]


class _VadCfg(ctypes.Structure):
    _fields_ = [
        ("silero_vad", _SileroCfg),
        ("sample_rate", ctypes.c_int32),
        ("num_threads", ctypes.c_int32),
        ("provider", ctypes.c_char_p),
        ("debug", ctypes.c_int32),
        ("ten_vad", _SileroCfg),  # same layout as SherpaOnnxTenVadModelConfig; left empty
    ]


class _Segment(ctypes.Structure):
    _fields_ = [
        ("start", ctypes.c_int64),
        ("samples", ctypes.POINTER(ctypes.c_float)),
        ("n", ctypes.c_int32),
    ]


_FLOATS = np.ctypeslib.ndpointer(dtype=np.float32, ndim=1, flags="C_CONTIGUOUS")


def find_library() -> Path:
    """libsherpa-onnx-c-api.so from $SHERPA_ONNX_C_API_LIB or the sherpa-onnx-core wheel."""
    if os.environ.get(LIB_ENV):
        return Path(os.environ[LIB_ENV])
    spec = importlib.util.find_spec("sherpa_onnx")  # locates the package without importing it
    for base in (spec.submodule_search_locations or []) if spec else []:
        lib = Path(base) / "lib" / "libsherpa-onnx-c-api.so"
        if lib.exists():
            return lib
    raise FileNotFoundError(
        "libsherpa-onnx-c-api.so not found: pip install sherpa-onnx-core "
        f"(or point {LIB_ENV} at the library)"
    )


def load_library(path: Path | None = None) -> ctypes.CDLL:
    """The C API with the prototypes this module uses (CDLL: calls release the GIL)."""
    lib = ctypes.CDLL(str(path or find_library()))
    vp = ctypes.c_void_p
    protos: dict[str, tuple[list, object]] = {
        "SherpaOnnxCreateVoiceActivityDetector": ([ctypes.POINTER(_VadCfg), ctypes.c_float], vp),
        "SherpaOnnxDestroyVoiceActivityDetector": ([vp], None),
        "SherpaOnnxVoiceActivityDetectorAcceptWaveform": ([vp, _FLOATS, ctypes.c_int32], None),
        "SherpaOnnxVoiceActivityDetectorEmpty": ([vp], ctypes.c_int32),
        "SherpaOnnxVoiceActivityDetectorDetected": ([vp], ctypes.c_int32),
        "SherpaOnnxVoiceActivityDetectorPop": ([vp], None),
        "SherpaOnnxVoiceActivityDetectorFront": ([vp], ctypes.POINTER(_Segment)),
        "SherpaOnnxDestroySpeechSegment": ([ctypes.POINTER(_Segment)], None),
        "SherpaOnnxVoiceActivityDetectorReset": ([vp], None),
        "SherpaOnnxVoiceActivityDetectorFlush": ([vp], None),
        "SherpaOnnxGetVersionStr": ([], ctypes.c_char_p),
    }
    for name, (args, res) in protos.items():
        fn = getattr(lib, name)
        fn.argtypes = args
        fn.restype = res
    return lib


def silero_context(model: str | Path) -> int:
    """Extra context samples sherpa adds to each window: 64 for Silero v5, 0 for v4."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    names = {i.name for i in ort.InferenceSession(str(model), opts).get_inputs()}
    return V5_CONTEXT if "state" in names else 0


class CapiSileroDetector:
    """The `Detector` interface of appliance.listen.vad over the sherpa-onnx C API.

    Sample indices count from the last ``reset``. Not thread-safe: one owner (the worker).
    """

    def __init__(self, model: str | Path, settings: VadSettings, rate: int = SPEECH_RATE,
                 lib: ctypes.CDLL | None = None, context: int | None = None) -> None:
        self._h: int | None = None  # first: __del__ may run on a half-built object
        if rate != SPEECH_RATE:
            raise ValueError(f"the Silero VAD runs at {SPEECH_RATE} Hz, got {rate}")
        if not Path(model).is_file():
            raise FileNotFoundError(f"Silero VAD model not found: {model}")
        self._lib = lib or load_library()
        self._model = str(model).encode()  # kept alive: the config points at it
        cfg = _VadCfg()
        cfg.silero_vad.model = self._model
        cfg.silero_vad.threshold = settings.threshold
        cfg.silero_vad.min_speech_duration = settings.min_speech_ms / 1000
        cfg.silero_vad.min_silence_duration = settings.min_silence_ms / 1000
        cfg.silero_vad.window_size = WINDOW_SHIFT
        # Our Segmenter enforces the cap; sherpa's own limit sits beyond it.
        cfg.silero_vad.max_speech_duration = settings.max_utterance_s + 5
        cfg.sample_rate = rate
        cfg.num_threads = 1
        cfg.provider = b"cpu"
        handle = self._lib.SherpaOnnxCreateVoiceActivityDetector(
            ctypes.byref(cfg), ctypes.c_float(settings.max_utterance_s + 10)
        )
        if not handle:
            raise ValueError(f"invalid Silero VAD configuration (model {model})")
        self._h = handle
        ctx = silero_context(model) if context is None else context
        self._window = WINDOW_SHIFT + ctx  # sherpa's WindowSize()
        self._lead = 2 * self._window + int(settings.min_speech_ms / 1000 * rate)
        self._fed = 0  # samples accepted since reset
        self._head = 0  # where the last finished segment ended (sherpa's buffer head floor)
        self._start = -1  # start of the open segment, -1 when not in speech
        self._chunks: deque[np.ndarray] = deque()  # our copy of the recent samples
        self._mirror_base = 0  # index of the first sample of _chunks[0]
        self._done: deque[tuple[int, int]] = deque()

    def accept(self, samples: np.ndarray) -> None:
        x = np.ascontiguousarray(samples, dtype=np.float32)
        if x.ndim != 1:
            raise ValueError(f"expected mono samples, got shape {x.shape}")
        self._lib.SherpaOnnxVoiceActivityDetectorAcceptWaveform(self._h, x, len(x))
        self._fed += len(x)
        self._chunks.append(x)
        self._drain()
        if self._lib.SherpaOnnxVoiceActivityDetectorDetected(self._h):
            if self._start < 0:
                self._start = max(self._tail() - self._lead, self._head)
        else:
            self._start = -1
        self._trim()

    def is_speech(self) -> bool:
        return self._start >= 0

    def current_start(self) -> int:
        return self._start

    def current_samples(self) -> np.ndarray:
        if self._start < 0:
            return np.zeros(0, np.float32)
        a = self._start - self._mirror_base
        b = self._tail() - 1 - self._mirror_base  # sherpa: Get(start, tail - start - 1)
        mirror = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.float32)
        return mirror[max(a, 0):max(b, a, 0)].copy()

    def pop_segments(self) -> list[tuple[int, int]]:
        out = list(self._done)
        self._done.clear()
        return out

    def flush(self) -> None:
        self._lib.SherpaOnnxVoiceActivityDetectorFlush(self._h)
        self._drain()
        self._start = -1

    def reset(self) -> None:
        self._lib.SherpaOnnxVoiceActivityDetectorReset(self._h)
        self._fed = self._head = 0
        self._start = -1
        self._chunks.clear()
        self._mirror_base = 0
        self._done.clear()

    def close(self) -> None:
        """Free the native detector now (also done on garbage collection)."""
        if self._h:
            self._lib.SherpaOnnxDestroyVoiceActivityDetector(self._h)
            self._h = None

    def __del__(self) -> None:
        self.close()

    # --- internals --------------------------------------------------------------------------

    def _tail(self) -> int:
        """Samples sherpa has pushed into its buffer: whole shifts once a window is full."""
        ctx = self._window - WINDOW_SHIFT
        return WINDOW_SHIFT * max(0, (self._fed - ctx) // WINDOW_SHIFT)

    def _drain(self) -> None:
        lib = self._lib
        while not lib.SherpaOnnxVoiceActivityDetectorEmpty(self._h):
            seg = lib.SherpaOnnxVoiceActivityDetectorFront(self._h)
            start, n = int(seg.contents.start), int(seg.contents.n)
            lib.SherpaOnnxDestroySpeechSegment(seg)
            lib.SherpaOnnxVoiceActivityDetectorPop(self._h)
            self._done.append((start, n))
            self._head = max(self._head, start + n)

    def _trim(self) -> None:
        """Drop whole chunks that no current segment can need any more."""
        keep_from = self._start if self._start >= 0 else self._tail() - self._lead
        keep_from = max(keep_from, self._head)
        while self._chunks and self._mirror_base + len(self._chunks[0]) <= keep_from:
            self._mirror_base += len(self._chunks.popleft())


def version(lib: ctypes.CDLL | None = None) -> str:
    """sherpa-onnx version of the loaded C library."""
    return (lib or load_library()).SherpaOnnxGetVersionStr().decode()
