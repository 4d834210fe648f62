"""The one lazy client holder: made on first use, once, even when threads ask together."""

from __future__ import annotations

import threading
import time

from tiergate.lazy import Lazy


def test_made_on_first_use_and_kept() -> None:
    made: list[object] = []

    def make() -> object:
        made.append(object())
        return made[-1]

    lazy = Lazy(make)
    assert not lazy.made
    assert made == []
    first = lazy.get()
    assert lazy.get() is first
    assert made == [first]
    assert lazy.made


def test_threads_asking_at_once_make_one_client() -> None:
    calls: list[int] = []

    def slow() -> int:
        calls.append(1)
        time.sleep(0.05)  # long enough that every thread arrives while the first makes it
        return len(calls)

    lazy = Lazy(slow)
    got: list[int] = []
    threads = [threading.Thread(target=lambda: got.append(lazy.get())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1]
    assert got == [1] * 8


def test_of_takes_a_value_or_a_maker() -> None:
    value = [1]
    assert Lazy.of(value).get() is value
    assert Lazy[list[int]].of(lambda: value).get() is value
