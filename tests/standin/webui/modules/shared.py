"""Stand-in for modules/shared.py: cmd_opts (set by the host after parsing), opts, state, and
data_path (A1111: --data-dir, else the webui folder).

Options behaves like A1111's: a key that was never registered raises AttributeError, a registered
key that was never saved answers its default.
"""
import os

data_path = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class OptionInfo:
    def __init__(self, default=None, label="", component=None, component_args=None, onchange=None,
                 section=None, refresh=None, **_extra):
        self.default = default
        self.label = label
        self.component = component
        self.component_args = component_args
        self.refresh = refresh
        self.onchange = onchange
        self.section = section


class Options:
    def __init__(self):
        object.__setattr__(self, "data", {})
        object.__setattr__(self, "data_labels", {})

    def add_option(self, key, info):
        self.data_labels[key] = info

    def __getattr__(self, item):
        if item in self.data:
            return self.data[item]
        if item in self.data_labels:
            return self.data_labels[item].default
        raise AttributeError(item)

    def set(self, key, value):
        old = getattr(self, key, None)
        self.data[key] = value
        info = self.data_labels.get(key)
        if info is not None and info.onchange is not None and old != value:
            info.onchange()


class State:
    """A1111's shared.state as a generation drives it: begin() sets job_count to -1 (the count
    comes later), end() back to 0; `job` names the job while it runs."""

    def __init__(self):
        self.job = ""
        self.job_count = 0
        self.server_command = None  # "restart": the main loop rebuilds the UI (Reload UI)

    def begin(self, job="(unknown)"):
        self.job = job
        self.job_count = -1

    def end(self):
        self.job = ""
        self.job_count = 0

    def request_restart(self):
        self.server_command = "restart"


cmd_opts = None
opts = Options()
state = State()
