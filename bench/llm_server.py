"""The LLM on a home server vs on the board, in one run: first token and tokens/s of the local
model (llama.cpp in this process) and of a chat-completions server, then what a failing
server costs a turn - refused (killed) and silent (accepts, never answers) - before the local
model's first token.

Without --url the server is llama-cpp-python's own (``python -m llama_cpp.server``) on a
loopback port, serving the same packaged Gemma: the figures then compare the in-process engine
with the HTTP/SSE path, not two models. With --url (and --model, --api-key-env) it measures a
real home server (Ollama, llama.cpp's server, vLLM...). Both go through the appliance's own
backends (``LlmEngine``, ``ServerLlm``, ``FallbackLlm``) with the brain's prompt.

    .venv/bin/python bench/llm_server.py [--url http://HOST:11434/v1 --model NAME]
                                         [--runs 5] [--max-tokens 48] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from appliance import config  # noqa: E402
from appliance.brain.backends import FallbackLlm  # noqa: E402
from appliance.brain.llm import GenerationStats, LanguageModel, LlmEngine  # noqa: E402
from appliance.brain.llm_server import ServerLlm  # noqa: E402
from appliance.core.remote import CircuitBreaker  # noqa: E402
from appliance.system.modelstore import ModelStore  # noqa: E402
from tests.support.broker import free_port  # noqa: E402
from tests.support.llm_server import API_KEY, MODEL, llama_server  # noqa: E402

QUESTIONS = ["¿Por qué sube la masa del pan?", "¿Qué puedo hacer con calabacín?",
             "Cuéntame algo sobre el aceite de oliva.", "¿Cómo se hace una tortilla?",
             "¿Qué es un sofrito?"]


def one(model: LanguageModel, i: int, max_tokens: int) -> GenerationStats:
    text = "".join(model.stream(QUESTIONS[i % len(QUESTIONS)], max_tokens=max_tokens))
    assert model.last is not None, "no figures"
    last = model.last
    print(f"    {last.first_token_s * 1000:7.0f} ms first token, {last.tokens:3d} tokens, "
          f"{last.tokens_per_s:5.1f} tok/s  ({last.source}) {text.strip()[:50]!r}", flush=True)
    return last


def summary(name: str, stats: list[GenerationStats]) -> str:
    first = [s.first_token_s * 1000 for s in stats]
    rate = [s.tokens_per_s for s in stats if s.tokens > 1]
    return (f"{name:<34} first token p50 {statistics.median(first):6.0f} ms "
            f"(max {max(first):6.0f}), {statistics.median(rate) if rate else 0:5.1f} tokens/s")


def server_settings(url: str, model: str, key_env: str, timeout: float) -> config.Settings:
    return config.from_dict({"brain": {"llm_server": {
        "url": url, "model": model, "api_key_env": key_env, "first_token_timeout_s": timeout,
        "timeout_s": 30.0}}})


def server_llm(s: config.Settings, max_tokens: int) -> ServerLlm:
    b = s.brain.llm_server
    return ServerLlm(b, CircuitBreaker("bench", b.url, skip_after=1000, skip_s=1.0),
                     max_tokens=max_tokens)


@contextmanager
def silent_server() -> Iterator[str]:
    """A loopback port that accepts connections (the kernel's backlog) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    finally:
        sock.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", help="a chat-completions server (default: llama.cpp's, started "
                                  "here on loopback with the packaged Gemma)")
    ap.add_argument("--model", default=MODEL)
    ap.add_argument("--api-key-env", default="", help="variable holding the server's API key")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--threads", type=int, default=2, help="local model threads")
    ap.add_argument("--first-token-timeout", type=float, default=2.5)
    args = ap.parse_args()

    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"({os.cpu_count()} CPUs)")
    cache = config.load(None).cache_path
    local = LlmEngine(ModelStore(cache).resolve(MODEL), n_threads=args.threads,
                      max_tokens=args.max_tokens)
    local.warm()
    print(f"local: {local.model_path.name}, {args.threads} threads ({local.mode} prompt)")
    one(local, 0, 4)  # the first answer after warm() pays for what warm() did not touch

    with tempfile.TemporaryDirectory() as tmp, (
            nullcontext() if args.url else llama_server(Path(tmp), cache, args.threads)) as srv:
        url = args.url or srv.url
        key_env = args.api_key_env
        if not args.url:
            os.environ["APPLIANCE_BENCH_LLM_KEY"] = API_KEY
            key_env = "APPLIANCE_BENCH_LLM_KEY"
        server = server_llm(server_settings(url, args.model, key_env, 60.0), args.max_tokens)
        print(f"server: {url} model {args.model}")
        one(server, 0, 4)  # the first request checks the model list and warms the server
        # Alternating, so a load spike from elsewhere on the machine hits both alike.
        local_runs, server_runs = [], []
        for i in range(args.runs):
            local_runs.append(one(local, i, args.max_tokens))
            server_runs.append(one(server, i, args.max_tokens))
    results = [summary("local (in process)", local_runs),
               summary("server (HTTP + SSE)", server_runs)]

    timeout = args.first_token_timeout
    refused = server_settings(f"http://127.0.0.1:{free_port()}/v1", args.model, "", timeout)
    print("server killed (connection refused) -> local")
    fallback = FallbackLlm(server_llm(refused, args.max_tokens), local)
    results.append(summary("killed server -> local", [
        one(fallback, i, args.max_tokens) for i in range(args.runs)]))
    with silent_server() as url:
        print(f"server silent (accepts, never answers; first token timeout {timeout:g} s) "
              "-> local")
        fallback = FallbackLlm(server_llm(server_settings(url, args.model, "", timeout),
                                          args.max_tokens), local)
        results.append(summary("silent server -> local", [
            one(fallback, i, args.max_tokens) for i in range(min(args.runs, 3))]))

    print()
    print("\n".join(results))
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
