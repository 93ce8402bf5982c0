"""The server's model threads: results and errors, at most `threads` calls at a time, timeouts."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from openclarify.serving._app import ModelBusy, ModelThreads


def _threads_named(name: str) -> int:
    return sum(t.name == name for t in threading.enumerate())


def test_results_errors_and_the_thread_limit():
    running = 0
    most = 0
    lock = threading.Lock()

    def work(i: int) -> bytes:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.01)
        with lock:
            running -= 1
        if i == 3:
            raise RuntimeError("three")
        return str(i).encode()

    async def main() -> list[object]:
        pool = ModelThreads(2, name="test-limit")
        try:
            return await asyncio.gather(*(pool.run(lambda i=i: work(i), 10) for i in range(8)), return_exceptions=True)
        finally:
            pool.close()

    out = asyncio.run(main())
    assert out[:3] == [b"0", b"1", b"2"] and out[4:] == [b"4", b"5", b"6", b"7"]
    assert isinstance(out[3], RuntimeError) and str(out[3]) == "three"
    assert most == 2


def test_a_call_past_its_timeout_gives_its_thread_up_and_the_next_call_runs_at_once():
    release = threading.Event()
    started_after: list[float] = []

    def hang() -> bytes:
        release.wait(10)
        return b"late"

    def quick() -> bytes:
        started_after.append(time.monotonic())
        return b"quick"

    async def main() -> tuple[object, ...]:
        pool = ModelThreads(1, name="test-timeout")
        try:
            first = asyncio.ensure_future(pool.run(hang, 0.2))
            await asyncio.sleep(0.05)  # hang() is running on the only thread
            t0 = time.monotonic()
            waiting = asyncio.ensure_future(pool.run(quick, 5))  # queued behind it
            with pytest.raises(TimeoutError):
                await first
            second = await waiting
            assert _threads_named("test-timeout") == 2  # the stuck thread and its replacement
            release.set()
            return t0, second
        finally:
            pool.close()

    t0, second = asyncio.run(main())
    assert second == b"quick"
    assert started_after[0] - t0 < 1.0  # not held up until hang() returned
    deadline = time.monotonic() + 5
    while _threads_named("test-timeout") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _threads_named("test-timeout") == 0  # the abandoned thread ended after its call, the other on close


def test_a_call_that_times_out_while_waiting_never_runs():
    ran: list[str] = []
    release = threading.Event()

    def block() -> bytes:
        release.wait(10)
        return b"done"

    async def main() -> None:
        pool = ModelThreads(1, name="test-drop")
        try:
            busy = asyncio.ensure_future(pool.run(block, 10))
            await asyncio.sleep(0.05)
            with pytest.raises(TimeoutError):
                await pool.run(lambda: ran.append("late") or b"", 0.1)
            release.set()
            assert await busy == b"done"
            assert await pool.run(lambda: b"next", 5) == b"next"
        finally:
            pool.close()

    asyncio.run(main())
    assert ran == []


def test_a_hanging_model_never_grows_the_threads_past_threads_plus_spares():
    """Each timed-out call keeps its thread; a spare takes its place while there is one, then calls are refused."""
    release = threading.Event()
    counts: list[int] = []

    def hang() -> bytes:
        release.wait(30)
        return b"late"

    async def main() -> list[str]:
        pool = ModelThreads(2, spare=1, name="test-bound")
        outcomes = []
        try:
            for _ in range(10):
                try:
                    await pool.run(hang, 0.5)  # time enough for a free thread to take it, even on a busy machine
                except TimeoutError:
                    outcomes.append("timeout")
                except ModelBusy as exc:
                    outcomes.append(f"busy {exc.stuck}")
                counts.append(_threads_named("test-bound"))
            assert (pool.stuck, pool.available) == (3, 0)
            release.set()
            deadline = time.monotonic() + 10
            while pool.stuck and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            assert (pool.stuck, pool.available) == (0, 2)
            assert await pool.run(lambda: b"next", 5) == b"next"
            counts.append(_threads_named("test-bound"))
        finally:
            pool.close()
        return outcomes

    outcomes = asyncio.run(main())
    assert outcomes == ["timeout"] * 3 + ["busy 3"] * 7
    assert max(counts) == 3  # never more than threads + spare, however many calls time out
    assert counts[-1] == 2  # back to `threads` once the stuck calls returned
    deadline = time.monotonic() + 5
    while _threads_named("test-bound") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _threads_named("test-bound") == 0


def test_without_spares_a_stuck_call_holds_its_thread():
    release = threading.Event()

    async def main() -> None:
        pool = ModelThreads(1, spare=0, name="test-nospare")
        try:
            with pytest.raises(TimeoutError):
                await pool.run(lambda: release.wait(30) and b"late", 0.5)
            assert _threads_named("test-nospare") == 1
            with pytest.raises(ModelBusy):
                await pool.run(lambda: b"refused", 5)
            release.set()
            deadline = time.monotonic() + 10
            while pool.stuck and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            assert await pool.run(lambda: b"again", 5) == b"again"
        finally:
            pool.close()

    asyncio.run(main())
