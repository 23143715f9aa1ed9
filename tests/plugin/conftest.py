import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tiny_mllms beside the tests


@pytest.fixture(scope="module")
def depth_model():
    from tiny_mllms import tiny_depth_model

    return tiny_depth_model()


class Counter:
    """Counts forwards of a module (here: Metric Anything) and the images each one saw."""

    def __init__(self, module):
        self.images = []
        self.handle = module.register_forward_hook(lambda _m, args, kwargs, _o: self.images.append(
            (kwargs.get("pixel_values") if "pixel_values" in kwargs else args[0]).shape[0]), with_kwargs=True)

    def close(self):
        self.handle.remove()


@pytest.fixture
def count_forwards():
    counters = []

    def make(module):
        counters.append(Counter(module))
        return counters[-1]

    yield make
    for counter in counters:
        counter.close()
