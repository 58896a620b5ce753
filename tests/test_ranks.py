"""Ranks under `torchrun --nproc_per_node 2` on the CPU (gloo), 2 DataLoader workers each (issue 34, part 4): for an
ImageFolder tree (DistributedSampler), WebDataset shards (split_by_node, then split_by_worker) and a Hugging Face
dataset (DistributedSampler), every sample is seen exactly once per epoch across ranks and workers (the ImageFolder's
index file written by one rank and reused by the other); a resampled
WebDataset epoch has the same batch count on every rank; one DDP step leaves both ranks with the same weights.
The ranks run tests/ranks_worker.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
from files import photo

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N, SHARDS = 24, 4

wds = pytest.importorskip("webdataset")
pytest.importorskip("datasets")


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    data, out = tmp_path_factory.mktemp("ranks_data"), tmp_path_factory.mktemp("ranks_out")
    rng = np.random.default_rng(5)
    (data / "shards").mkdir()
    with wds.ShardWriter(str(data / "shards" / "s-%04d.tar"), maxcount=N // SHARDS, verbose=0) as sink:
        for i in range(N):
            jpeg = cv2.imencode(".jpg", photo(rng, int(rng.integers(24, 48)), int(rng.integers(24, 48))))[1].tobytes()
            folder = data / "tree" / f"c{i % 2}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{i:03d}.jpg").write_bytes(jpeg)
            sink.write({"__key__": f"k{i:03d}", "jpg": jpeg, "cls": i % 2})
    past = time.time() - 60  # an unchanged tree (a folder changed in the last 2 s is rescanned: see folder_index)
    for folder in (data / "tree", *(data / "tree").iterdir()):
        os.utime(folder, (past, past))
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    args = [
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "tests/ranks_worker.py",
        str(data),
        str(out),
    ]
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]


@pytest.mark.parametrize("source", ["image_folder", "hugging_face"])
def test_map_style_sources_see_every_sample_once_per_epoch(ranks, source):
    for epoch in ("0", "1"):
        per_rank = [r[source][epoch] for r in ranks]
        assert all(per_rank) and len(per_rank[0]) == len(per_rank[1])  # DistributedSampler: equal shares
        assert sorted(per_rank[0] + per_rank[1]) == list(range(N)), (source, epoch)
    assert ranks[0][source]["0"] != ranks[0][source]["1"]  # set_epoch reshuffles


def test_one_rank_writes_the_image_folder_index_and_the_other_reuses_it(ranks):
    assert sorted(r["image_folder_index"] for r in ranks) == ["reused", "written"]


def test_webdataset_shards_are_split_by_node_then_by_worker(ranks):
    for epoch in ("0", "1"):
        per_rank = [r["webdataset"][epoch] for r in ranks]
        assert all(per_rank) and not set(per_rank[0]) & set(per_rank[1])
        assert sorted(per_rank[0] + per_rank[1]) == [f"k{i:03d}" for i in range(N)]
    assert [r["webdataset_resampled_batches"] for r in ranks] == [[6, 6], [6, 6]]  # with_epoch(3) x 2 workers


def test_a_ddp_step_leaves_the_ranks_with_the_same_weights(ranks):
    assert ranks[0]["world"] == ranks[1]["world"] == 2
    assert ranks[0]["ddp_parameters"] == ranks[1]["ddp_parameters"]
