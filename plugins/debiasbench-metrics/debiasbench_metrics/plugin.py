"""Entry point ``bias-metrics``: the evaluation data sets and the crows-pairs, stereoset, perplexity, redditbias,
bbq, honest, bold, winogender and seat metrics, and the utility metrics blimp and lambada, and the lm-eval:TASK family."""

from __future__ import annotations

from debiasbench.api import Register, hookimpl

from debiasbench_metrics.bbq.dataset import BBQDataset
from debiasbench_metrics.bbq.metric import BBQMetric
from debiasbench_metrics.blimp.dataset import BlimpDataset
from debiasbench_metrics.blimp.metric import BlimpMetric
from debiasbench_metrics.bold.dataset import BoldDataset
from debiasbench_metrics.bold.metric import BoldMetric
from debiasbench_metrics.crows_pairs.dataset import CrowsPairsDataset
from debiasbench_metrics.crows_pairs.metric import CrowsPairsMetric
from debiasbench_metrics.honest.dataset import HonestDataset
from debiasbench_metrics.honest.metric import HonestMetric
from debiasbench_metrics.lambada.dataset import LambadaDataset
from debiasbench_metrics.lambada.metric import LambadaMetric
from debiasbench_metrics.lm_eval_tasks.family import LmEvalFamily
from debiasbench_metrics.perplexity.dataset import WikiText2Dataset
from debiasbench_metrics.perplexity.metric import PerplexityMetric
from debiasbench_metrics.redditbias.dataset import RedditBiasTestDataset
from debiasbench_metrics.redditbias.metric import RedditBiasMetric
from debiasbench_metrics.seat.dataset import SeatDataset
from debiasbench_metrics.seat.metric import SeatMetric
from debiasbench_metrics.stereoset.dataset import StereoSetDataset
from debiasbench_metrics.stereoset.metric import StereoSetMetric
from debiasbench_metrics.winogender.dataset import WinogenderDataset
from debiasbench_metrics.winogender.metric import WinogenderMetric


@hookimpl
def register_datasets(register: Register) -> None:
    register(CrowsPairsDataset())
    register(StereoSetDataset())
    register(WikiText2Dataset())
    register(RedditBiasTestDataset())
    register(BBQDataset())
    register(HonestDataset())
    register(BoldDataset())
    register(WinogenderDataset())
    register(SeatDataset())
    register(BlimpDataset())
    register(LambadaDataset())


@hookimpl
def register_metrics(register: Register) -> None:
    register(CrowsPairsMetric())
    register(StereoSetMetric())
    register(PerplexityMetric())
    register(RedditBiasMetric())
    register(BBQMetric())
    register(HonestMetric())
    register(BoldMetric())
    register(WinogenderMetric())
    register(SeatMetric())
    register(BlimpMetric())
    register(LambadaMetric())
    register(LmEvalFamily())  # lm-eval:TASK, built when a run names a task
