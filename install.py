"""Run by the webui (a separate process, with `launch` importable) at start and after installing."""
import launch

# Quoted: the host runs the pip command through a shell, where a bare > or < is a redirection.
WATCHDOG_REQUIREMENT = '"watchdog>=3.0,<8"'

if not launch.is_installed("watchdog"):
    launch.run_pip(f"install {WATCHDOG_REQUIREMENT}", "watchdog for sd-webui-hot-reload")
