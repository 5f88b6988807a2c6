"""The driver's loop over an executor: keep up to ``parallel`` jobs in flight, retry a job whose
worker died, show one progress bar, and stop cleanly on Ctrl-C.

Only a lost worker is retried (up to ``retries`` more attempts): a point that fails for its own
reason (an error the worker reports) would fail again. A job that never finished wrote no runs
row (a run writes it last), so retrying it cannot duplicate a row and giving up leaves nothing
that counts as done.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from debiasbench.campaign.executors.base import Executor, Job, Outcome, Submitted, WorkerLost
from debiasbench.runtime.progress import progress

POLL_SECONDS = 1.0


@dataclass
class Dispatched:
    """What became of the jobs: finished (with their outcomes) or given up, and whether Ctrl-C stopped it."""

    finished: list[tuple[Job, Outcome]] = field(default_factory=list)
    lost: list[tuple[Job, str]] = field(default_factory=list)  # workers lost on every attempt
    retried: int = 0
    interrupted: bool = False


def dispatch(executor: Executor, jobs: list[Job], *, retries: int, description: str,
             log: Callable[[str], None] | None = None) -> Dispatched:
    """Run ``jobs`` on ``executor``; see the module docstring."""
    say = log or (lambda message: None)
    report = Dispatched()
    queue: deque[Job] = deque(jobs)
    pending_list: list[Submitted] = []
    with progress(description, total=len(jobs)) as bar:
        try:
            while queue or pending_list:
                while queue and len(pending_list) < max(1, executor.parallel):
                    pending_list.append(executor.submit(queue.popleft()))
                for submitted in executor.wait(list(pending_list), POLL_SECONDS):
                    pending_list.remove(submitted)
                    job = submitted.job
                    try:
                        outcome = executor.result(submitted)
                    except WorkerLost as exc:
                        if job.attempt <= retries:
                            report.retried += 1
                            say(f"{job.label}: worker lost ({exc}); retrying (attempt {job.attempt + 1} of {retries + 1})")
                            queue.appendleft(job.retry())
                            continue
                        report.lost.append((job, f"worker lost on all {job.attempt} attempts (last: {exc})"))
                        say(f"{job.label} failed: worker lost on all {job.attempt} attempts")
                    else:
                        report.finished.append((job, outcome))
                        say(f"{job.label} failed: {outcome.error}" if outcome.error else
                            f"{job.label} done in {outcome.seconds:.0f}s" + (f": run {outcome.run_id}" if outcome.run_id else ""))
                    bar.advance(1, done=sum(1 for _, o in report.finished if not o.error),
                                failed=len(report.lost) + sum(1 for _, o in report.finished if o.error))
        except KeyboardInterrupt:
            executor.cancel(pending_list)
            report.interrupted = True
    return report
