"""Stand-in for modules/progress.py: the task queue that tells a running generation (HOST_CONTRACT.md §9)."""
from collections import OrderedDict

current_task = None
pending_tasks = OrderedDict()


def add_task_to_queue(id_job):
    pending_tasks[id_job] = 0.0


def start_task(id_task):
    global current_task
    current_task = id_task
    pending_tasks.pop(id_task, None)


def finish_task(id_task):
    global current_task
    if current_task == id_task:
        current_task = None
