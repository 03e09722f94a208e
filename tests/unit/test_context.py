"""Injected capabilities: a session's own generator."""

from __future__ import annotations

import random

from echosts.context import Capabilities, SessionRandom


def test_a_session_generator_draws_what_its_seed_gives() -> None:
    lazy = SessionRandom(1234)
    eager = random.Random(1234)
    assert [lazy.uniform(0, 10) for _ in range(5)] == [eager.uniform(0, 10) for _ in range(5)]


def test_a_session_generator_exists_only_once_a_number_is_drawn() -> None:
    lazy = SessionRandom(7)
    assert lazy._generator is None
    lazy.random()
    assert isinstance(lazy._generator, random.Random)


def test_sessions_draw_their_seeds_from_the_service_generator_in_order() -> None:
    first = Capabilities(rng=random.Random(42))
    second = Capabilities(rng=random.Random(42))
    draws = [first.session_rng().random() for _ in range(3)]
    assert draws == [second.session_rng().random() for _ in range(3)]
    assert len(set(draws)) == 3
