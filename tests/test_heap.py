"""The heap trimmer: when it trims (injected clock), and that glibc really gives pages back."""

from __future__ import annotations

import ctypes

import pytest

from appliance.pipeline.events import Finished, Sentence, Silent
from appliance.pipeline.heap import HeapTrimmer, glibc_trim, process_status


def rss_anon_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no RssAnon in /proc/self/status")


def finished(last: bool) -> Finished:
    return Finished(id=1, answer=1, index=0, frames=160, last=last)


def test_trims_once_a_reply_has_finished_or_been_cut_and_at_most_once_per_interval() -> None:
    calls: list[float] = []
    now = [100.0]

    def trim() -> bool:
        calls.append(now[0])
        return True

    trimmer = HeapTrimmer(trim, min_interval_s=30.0, clock=lambda: now[0])
    trimmer.on_event(finished(last=False))  # more of the reply is still to play
    trimmer.on_event(Sentence(answer=1, index=0, text="Hola.", kind="answer", last=True))
    assert calls == []
    trimmer.on_event(finished(last=True))
    assert calls == [100.0]
    now[0] = 110.0
    trimmer.on_event(Silent(id=2, answer=2, reason="button", latency_s=0.01))
    assert calls == [100.0]  # a burst of replies costs one trim
    now[0] = 131.0
    trimmer.on_event(Silent(id=0, answer=0, reason="button", latency_s=0.0))
    assert calls == [100.0, 131.0] and trimmer.trims == 2


def test_without_glibc_nothing_is_trimmed() -> None:
    trimmer = HeapTrimmer(None)
    trimmer.on_event(finished(last=True))
    assert trimmer.trims == 0


def test_glibc_gives_back_the_pages_a_pinned_heap_keeps() -> None:
    trim = glibc_trim()
    if trim is None:
        pytest.skip("the C library is not glibc")
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
    # 64 MB in 4 KB blocks (below the mmap threshold: from the heap), touched so resident;
    # the last block stays, so freeing the rest leaves a hole glibc keeps, not a top it trims.
    blocks = [libc.malloc(4096) for _ in range(16384)]
    for b in blocks:
        libc.memset(b, 1, 4096)
    for b in blocks[:-1]:
        libc.free(b)
    held = rss_anon_mb()
    assert trim()
    assert rss_anon_mb() < held - 32, "malloc_trim gave back less than half of 64 MB"
    libc.free(blocks[-1])


def test_the_process_status_has_the_figures_the_demo_and_soak_report() -> None:
    st = process_status()
    assert set(st) >= {"VmRSS", "VmHWM", "RssAnon", "RssFile", "Threads"}
    assert 0 < st["VmRSS"] <= st["VmHWM"] and st["Threads"] >= 1
