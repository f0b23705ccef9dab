"""Fixtures shared by the test modules."""

import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module's training runs: these tiny batches gain nothing from two,
    and on a loaded two-core machine two threads made a smoke run 40x slower (16.6 s against
    0.4 s, measured)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
