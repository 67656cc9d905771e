"""How often and how long the reloader's parts wait. The defaults are for people; tests shorten them."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Timings:
    health_interval: float = 1.0  # check the observer and the folder this often
    busy_poll: float = 0.02  # while files wait for a generation to end, ask whether it has this often
    running_notice_after: float = 3.0  # first "still running" notice; then after 2x, 4x ... as long
    interrupt_retry: float = 1.0  # ask a superseded run to stop again this often while it goes on
    backoff_first: float = 1.0  # wait before restarting a dead observer; doubles each time ...
    backoff_max: float = 60.0  # ... up to this
    backoff_reset_after: float = 30.0  # watching this long without a fault starts the doubling over
