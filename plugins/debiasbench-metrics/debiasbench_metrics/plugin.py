"""Entry point ``bias-metrics``: the evaluation data sets and the crows-pairs, stereoset, perplexity, redditbias,
bbq, honest, bold, winogender and seat metrics, and the utility metrics blimp and lambada."""

from __future__ import annotations

from debiasbench.api import Register, hookimpl

from debiasbench_metrics.bbq import BBQMetric
from debiasbench_metrics.blimp import BlimpMetric
from debiasbench_metrics.bold import BoldMetric
from debiasbench_metrics.crows_pairs import CrowsPairsMetric
from debiasbench_metrics.datasets_bbq import BBQDataset
from debiasbench_metrics.datasets_blimp import BlimpDataset
from debiasbench_metrics.datasets_lambada import LambadaDataset
from debiasbench_metrics.datasets_bold import BoldDataset
from debiasbench_metrics.datasets_honest import HonestDataset
from debiasbench_metrics.datasets_crows import CrowsPairsDataset
from debiasbench_metrics.datasets_stereoset import StereoSetDataset
from debiasbench_metrics.datasets_wikitext import WikiText2Dataset
from debiasbench_metrics.honest import HonestMetric
from debiasbench_metrics.lambada import LambadaMetric
from debiasbench_metrics.datasets_redditbias import RedditBiasTestDataset
from debiasbench_metrics.perplexity import PerplexityMetric
from debiasbench_metrics.redditbias import RedditBiasMetric
from debiasbench_metrics.stereoset import StereoSetMetric
from debiasbench_metrics.datasets_seat import SeatDataset
from debiasbench_metrics.datasets_winogender import WinogenderDataset
from debiasbench_metrics.seat import SeatMetric
from debiasbench_metrics.winogender import WinogenderMetric


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
