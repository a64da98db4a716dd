"""The README's Python code runs as written, on an empty store: the first run searches without
a prior and says so, the second learns from the first."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from meta_tune.store import Store
from tests.conftest import REPO_ROOT

#: What a user's Tune code has before the README's lines: a toy trainable and a small local Ray.
PRELUDE = textwrap.dedent(
    """
    import logging, math
    import ray
    from ray import tune

    logging.basicConfig(level=logging.INFO, format="LOG %(name)s: %(message)s")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)

    def train_fn(config):
        for step in range(1, 4):
            closeness = 1 - abs(math.log10(config["lr"]) + 2.5) / 3
            tune.report({"accuracy": closeness * step / 3 + config["width"] / 1280})
    """
)


def readme_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (REPO_ROOT / "README.md").read_text(), flags=re.S)


@pytest.mark.integration
@pytest.mark.slow
def test_every_python_block_of_the_readme_runs_as_written_on_an_empty_store(tmp_path: Path) -> None:
    blocks = readme_blocks()
    assert len(blocks) >= 2 and "PriorSearcher(history=Store().history" in blocks[0]
    # As written, with fewer trials (20 toy trials take a minute on two cores) and a mark between the runs.
    drop_in = blocks[0].replace("num_samples=20", "num_samples=5")
    drop_in = drop_in.replace("tuner.fit()", "tuner.fit()\nprint('RUN DONE', flush=True)")
    script = PRELUDE + drop_in + drop_in + "".join(blocks[1:]) + "\nprint('ALL BLOCKS RAN')\n"
    (tmp_path / "readme.py").write_text(script)
    env = {**os.environ, "HOME": str(tmp_path), "RAY_AIR_NEW_OUTPUT": "0", "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1"}
    env.pop("MT_STORE", None)
    done = subprocess.run(
        [sys.executable, "readme.py"], cwd=tmp_path, env=env, text=True, timeout=600,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    out = done.stdout
    assert done.returncode == 0 and "ALL BLOCKS RAN" in out, out[-6000:]
    first, second = out.split("RUN DONE")[:2]
    assert "the history has no trials yet" in first and "StoreCallback" in first, first[-4000:]
    assert "the history has no trials yet" not in second and "Fitting a prior on 1 tasks, 5 trials" in second
    store = Store(f"sqlite:///{tmp_path / '.meta_tune' / 'store.db'}")
    assert len(store.trials("my-model/cifar10")) == 10
