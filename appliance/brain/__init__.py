"""Deciding what to say: router, templates, timers, LLM, fillers, scheduler."""
