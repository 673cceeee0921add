"""The benchmarks' counts (senders, rows, rounds) refuse what would measure nothing."""

from __future__ import annotations

import argparse

import pytest

from bench import positive_int
from bench.view_costs import insert_arguments


def test_a_count_of_one_or_more_is_taken() -> None:
    assert positive_int("1") == 1
    assert positive_int("64") == 64


@pytest.mark.parametrize("text", ["0", "-3"])
def test_a_count_below_one_is_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="must be 1 or more"):
        positive_int(text)


def test_an_insert_benchmark_refuses_batches_of_no_rows() -> None:
    with pytest.raises(SystemExit):
        insert_arguments("bench.insert_anatomy", "doc", 1000, ["--batch", "0"])
