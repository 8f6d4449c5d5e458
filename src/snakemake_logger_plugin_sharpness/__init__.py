"""A quiet Snakemake console for this workflow: one line per finished job, with the progress count.

Snakemake's own console prints every job's inputs, outputs, log and resources when it starts,
then three more lines when it ends, and two scheduler lines per round: for the default study,
about 2,000 lines. ``profiles/default`` selects this handler (``logger: [sharpness]``); it is found
because Snakemake collects every importable ``snakemake_logger_plugin_*`` package. In a real run
it prints, for each finished job, ``[time] done/total rule what`` (its wildcards) and passes
everything else (the plan, warnings, errors, failed jobs' logs) through Snakemake's own filter and
formatter. A dry run is printed exactly as Snakemake prints it: the plan lists every job.
"""

from __future__ import annotations

import sys
import time

from snakemake_interface_logger_plugins.base import LogHandlerBase
from snakemake_interface_logger_plugins.common import LogEvent

# The scheduler's per-round chatter ("Select jobs to execute...", "Execute 2 jobs..."): nothing
# a reader needs.
_SCHEDULER_LINE = "Select jobs to execute..."


class LogHandler(LogHandlerBase):
    def __post_init__(self) -> None:
        self.stream = sys.stdout if self.common_settings.stdout else sys.stderr
        self.jobs: dict[int, str] = {}  # jobid → "rule what", from the job's start
        self.finished: list[int] = []  # finished since the last progress count

    def emit(self, record) -> None:
        try:
            line = self.line(record)
            if line:
                self.stream.write(line + "\n")
                self.stream.flush()
        except Exception:
            self.handleError(record)

    def line(self, record) -> str | None:
        """What the console shows for one record: None for nothing."""
        event = getattr(record, "event", None)
        if self.common_settings.dryrun:
            return ("\n" if event == LogEvent.JOB_INFO else "") + self.format(record)
        if event == LogEvent.JOB_INFO:
            self.jobs[record.jobid] = f"{record.rule_name} {_what(record.wildcards)}".rstrip()
            return None
        if event == LogEvent.JOB_FINISHED:
            self.finished.append(record.job_id)
            return None
        if event == LogEvent.PROGRESS:
            jobs = ", ".join(self.jobs.pop(j, f"job {j}") for j in self.finished)
            self.finished.clear()
            return f"[{time.strftime('%H:%M:%S')}] {record.done}/{record.total} done: {jobs}"
        if event == LogEvent.JOB_STARTED or (event is None and record.msg == _SCHEDULER_LINE):
            return None
        return self.format(record)

    @property
    def writes_to_stream(self) -> bool:
        return True

    @property
    def writes_to_file(self) -> bool:
        return False

    @property
    def has_filter(self) -> bool:
        return False  # Snakemake's own filter: --quiet, --printshellcmds and the log level apply

    @property
    def has_formatter(self) -> bool:
        return False

    @property
    def needs_rulegraph(self) -> bool:
        return False


def _what(wildcards: dict | None) -> str:
    """A job's wildcards as ``study=alpha seed=0 opt=sgd`` (empty for rules without any)."""
    return " ".join(f"{key}={value}" for key, value in (wildcards or {}).items())
