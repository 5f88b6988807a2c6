"""Data-parallel helpers (debiasbench.runtime.distributed) and the scorers that use them.

Launched processes are simulated by threads here (each thread a rank, accelerate's collectives
replaced by a barrier exchange), so every scorer's split can be checked in a second on the tiny
GPT-2: each rank runs only its share of the batches, and every rank ends with the very numbers one
process computes. tests/test_accelerate_launch.py runs the real ``accelerate launch``.
"""

from __future__ import annotations

import sys
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("accelerate")
pytest.importorskip("debiasbench_metrics")

import accelerate.utils  # noqa: E402

from debiasbench.runtime import distributed  # noqa: E402
from debiasbench.runtime.distributed import Ranks  # noqa: E402
from debiasbench.testing import tiny_model_handle  # noqa: E402

TEXTS = ["The woman worked as a nurse.", "The man worked as a nurse.", "He is smart.", "She is smart.", "Women are awful.",
         "The immigrants live in the city and the river was wide.", "Gay people deserve respect.", "They",
         "The doctor said the patient was fine.", "The history of the town is long."]


class ThreadRanks:
    """``world`` threads standing in for launched processes: the rank is the thread's, collectives meet at a barrier."""

    def __init__(self, world: int) -> None:
        self.world, self.local = world, threading.local()
        self.barrier = threading.Barrier(world)
        self.slots: list[Any] = [None] * world
        self.rows: Counter[int] = Counter()  # rows each rank sent through the model

    def ranks(self) -> Ranks:
        return Ranks(rank=self.local.rank, world_size=self.world)

    def _exchange(self, value: Any) -> list[Any]:
        self.slots[self.local.rank] = value
        self.barrier.wait()
        seen = list(self.slots)
        self.barrier.wait()  # everyone has read before the next exchange writes
        return seen

    def gather_object(self, objects: list[Any]) -> list[Any]:
        return [o for part in self._exchange(objects) for o in part]

    def broadcast_object_list(self, objects: list[Any], from_process: int = 0) -> list[Any]:
        return list(self._exchange(objects)[from_process])

    def count_rows(self, module: Any, args: tuple, kwargs: dict) -> None:
        ids = kwargs.get("input_ids", args[0] if args else None)
        self.rows[self.local.rank] += int(ids.shape[0])

    def run(self, fn: Callable[[], Any]) -> list[Any]:
        out: list[Any] = [None] * self.world
        errors: list[BaseException] = []

        def body(rank: int) -> None:
            self.local.rank = rank
            try:
                out[rank] = fn()
            except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
                errors.append(exc)
                self.barrier.abort()

        threads = [threading.Thread(target=body, args=(r,)) for r in range(self.world)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        if errors:
            raise errors[0]
        return out


def sim_fixture(monkeypatch: pytest.MonkeyPatch) -> ThreadRanks:
    """Two simulated ranks from here on (the test's own thread is not one of them)."""
    fake = ThreadRanks(2)
    monkeypatch.setattr(distributed, "ranks", fake.ranks)
    monkeypatch.setattr(accelerate.utils, "gather_object", fake.gather_object)
    monkeypatch.setattr(accelerate.utils, "broadcast_object_list", fake.broadcast_object_list)
    return fake


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> ThreadRanks:
    return sim_fixture(monkeypatch)


@pytest.fixture(scope="module")
def handle() -> Any:
    return tiny_model_handle(n_positions=256, texts=TEXTS)


def test_one_process_changes_nothing() -> None:
    assert distributed.ranks() == Ranks(0, 1) and distributed.ranks().is_main
    assert distributed.shard(range(5)) == [0, 1, 2, 3, 4]
    assert distributed.gather({2: "b", 1: "a"}) == {2: "b", 1: "a"}
    assert distributed.broadcast("run-1") == "run-1"
    assert distributed.sum_over_processes([1, 2.5]) == [1.0, 2.5]


def test_a_rank_takes_every_world_size_th_item(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(distributed, "ranks", lambda: Ranks(rank=1, world_size=3))
    assert distributed.shard(list("abcdefgh")) == ["b", "e", "h"]


def test_the_launcher_environment_is_read_without_starting_anything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    assert distributed.launched() == Ranks(3, 4) and not distributed.is_main_process()
    from debiasbench.runtime.progress import enabled

    monkeypatch.delenv("DEBIASBENCH_NO_PROGRESS", raising=False)
    assert not enabled()  # one bar, drawn by rank 0
    monkeypatch.setenv("RANK", "0")
    assert enabled()


def test_collectives_give_every_rank_the_same_answer(sim: ThreadRanks) -> None:
    def body() -> Any:
        mine = distributed.shard(list(range(7)))
        gathered = distributed.gather({i: i * i for i in mine})
        return mine, gathered, distributed.broadcast(f"id-{sim.local.rank}"), distributed.sum_over_processes([sim.local.rank + 0.5])

    (mine0, all0, id0, sum0), (mine1, all1, id1, sum1) = sim.run(body)
    assert mine0 == [0, 2, 4, 6] and mine1 == [1, 3, 5]
    assert all0 == all1 == {i: i * i for i in range(7)}
    assert id0 == id1 == "id-0"  # the main process's value
    assert sum0 == sum1 == [2.0]


def _scorers(handle: Any) -> dict[str, Callable[[], Any]]:
    from debiasbench_metrics.perplexity.metric import window_nll
    from debiasbench_metrics.scoring.scorer import encode, sentence_logprobs
    from debiasbench_metrics.scoring.sentences import score_sentences
    from debiasbench_metrics.perplexity.windows import plan_windows

    from debiasbench.lm.generation import DecodingSettings, generate
    from debiasbench.lm.logprobs import mean_nll, token_logprobs

    ids = encode(handle, TEXTS)
    tokens = np.asarray(encode(handle, [" ".join(TEXTS * 3)])[0], dtype=np.int64)
    return {
        "packed": lambda: score_sentences(handle, TEXTS, scoring="sum", batch_size=8, row_size=2),
        "plain": lambda: sentence_logprobs(handle, ids, batch_size=2),
        "windows": lambda: window_nll(handle, tokens, plan_windows(len(tokens), 16, 8), 2, None),
        "token_logprobs": lambda: token_logprobs(handle.model, ids, handle.prefix_token_id, batch_size=3),
        "mean_nll": lambda: mean_nll(handle.model, ids, [[True] * len(s) for s in ids], handle.prefix_token_id, batch_size=3),
        "generate": lambda: [g.token_ids for g in generate(handle, TEXTS, DecodingSettings(max_new_tokens=3, sampling=True, seed=1),
                                                           batch_size=3, samples=2)],
    }


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    return a == b


@pytest.mark.parametrize("scorer", ["packed", "plain", "windows", "token_logprobs", "mean_nll", "generate"])
def test_each_rank_runs_its_share_and_all_get_one_process_numbers(handle: Any, monkeypatch: pytest.MonkeyPatch, scorer: str) -> None:
    score = _scorers(handle)[scorer]
    network = handle.model.base_model  # every scorer's forward passes go through it
    score()  # once first: per-model checks (the packing probe) are made once and cached
    alone = ThreadRanks(1)
    alone.local.rank = 0
    hook = network.register_forward_pre_hook(alone.count_rows, with_kwargs=True)
    try:
        expected = score()
    finally:
        hook.remove()
    sim = sim_fixture(monkeypatch)
    hook = network.register_forward_pre_hook(sim.count_rows, with_kwargs=True)
    try:
        first, second = sim.run(score)
    finally:
        hook.remove()
    assert _same(first, expected) and _same(second, expected)  # identical batches: identical numbers, on every rank
    assert sim.rows[0] > 0 and sim.rows[1] > 0  # both ranks worked ...
    assert sim.rows[0] + sim.rows[1] == alone.rows[0]  # ... and split one process's forward passes between them


def test_a_single_process_left_by_accelerate_launch_cpu_is_warned_about(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCELERATE_USE_CPU", "True")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert distributed.lone_cpu_launch()
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert not distributed.lone_cpu_launch()  # torchrun underneath: the processes are there


def test_launched_without_accelerate_is_one_line_before_any_model_loads(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from debiasbench.cli import app

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setitem(sys.modules, "accelerate", None)  # not installed
    distributed.ranks.cache_clear()
    try:
        result = CliRunner().invoke(app, ["eval", "--model", "tiny-model-that-must-not-load", "--results-dir", str(tmp_path / "r")])
    finally:
        distributed.ranks.cache_clear()
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "accelerate is not installed" in result.output and "pip install" in result.output
    assert not (tmp_path / "r").exists()
