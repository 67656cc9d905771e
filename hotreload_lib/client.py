"""`python -m hotreload_lib apply`: ask a running webui (or `watch --port`) to apply what was saved,
and say what happened: one line per event, the traceback under an error. The standard library only
(urllib): it runs in any Python, without the webui's packages.

Exit status: 0 when everything applied, 1 when something failed or was refused, 2 when the server
cannot be reached, refuses the call (login, another site) or the wait timed out.
"""
from __future__ import annotations

import ipaddress
import json
import sys
from dataclasses import dataclass
from http.cookiejar import CookieJar
from typing import Any, TextIO
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode, urlsplit
from urllib.request import HTTPCookieProcessor, OpenerDirector, ProxyHandler, Request, build_opener

DEFAULT_URL = "http://127.0.0.1:7860"  # the webui's own default address
APPLY_PATH = "/hot-reload/apply"  # the route (apply.py answers it)
DEFAULT_TIMEOUT = 30.0  # s, here and on the server when the call names none
LOGIN_PATH = "/login"  # gradio's login form (what `--gradio-auth` asks for)
EXIT_APPLIED, EXIT_FAILED, EXIT_NOT_ANSWERED = 0, 1, 2
TIMED_OUT = 504
SLACK_SECONDS = 10.0  # the server answers at its timeout; the socket waits this much longer


class NotAnswered(Exception):
    """The server could not be reached, or refused the call: what to tell the user."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


def _opener(url: str) -> OpenerDirector:
    """An opener that keeps gradio's login cookie. A webui on this machine is asked directly,
    whatever proxy the environment names (a proxy cannot reach the caller's own 127.0.0.1)."""
    host = urlsplit(url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    handlers: list[Any] = [HTTPCookieProcessor(CookieJar())]
    if loopback:
        handlers.append(ProxyHandler({}))
    return build_opener(*handlers)


def _json(data: bytes) -> dict[str, Any]:
    try:
        body = json.loads(data.decode("utf-8", "replace"))
    except ValueError:
        return {"detail": data[:500].decode("utf-8", "replace")}
    return body if isinstance(body, dict) else {"detail": str(body)[:500]}


def login(opener: OpenerDirector, url: str, auth: str, timeout: float) -> None:
    """Log in as gradio's login page does (`--gradio-auth user:pass`): the cookie it sets goes with
    every later request of `opener`."""
    username, _, password = auth.partition(":")
    form = urlencode({"username": username, "password": password}).encode()
    try:
        with opener.open(Request(url + LOGIN_PATH, data=form, method="POST"), timeout=timeout):
            pass
    except HTTPError as error:
        detail = _json(error.read()).get("detail", "")
        raise NotAnswered(f"the login at {url}{LOGIN_PATH} was refused ({error.code} {detail})".rstrip()) from None
    except (URLError, OSError) as error:
        raise NotAnswered(f"cannot reach {url}: {getattr(error, 'reason', error)}") from None


def request_apply(url: str, *, timeout: float, now: bool = False, since: int | None = None,
                  auth: str = "") -> Answer:
    """POST the apply call and read its answer (any status); NotAnswered when there is none."""
    url = url.rstrip("/")
    opener = _opener(url)
    if auth:
        login(opener, url, auth, timeout + SLACK_SECONDS)
    query = {"timeout": f"{timeout:g}", **({"now": "1"} if now else {}),
             **({"since": str(since)} if since is not None else {})}
    request = Request(f"{url}{APPLY_PATH}?{urlencode(query)}", data=b"", method="POST")
    try:
        with opener.open(request, timeout=timeout + SLACK_SECONDS) as response:
            return Answer(response.status, _json(response.read()))
    except HTTPError as error:
        return Answer(error.code, _json(error.read()))
    except (URLError, OSError) as error:
        raise NotAnswered(f"cannot reach {url}: {getattr(error, 'reason', error)} (is the webui running, "
                          "started with this extension?)") from None


def event_lines(event: dict[str, Any]) -> list[str]:
    """An event as the command prints it: `file:line: message`, the traceback indented under an error."""
    error = event.get("error") or {}
    where = event.get("file") or "."
    line = error.get("line")
    if line and error.get("file") == event.get("path"):
        where = f"{where}:{line}"
    elif line:
        where = f"{where} ({error.get('file')}:{line})"
    lines = [f"{where}: {event.get('outcome', '?')}: {event.get('message', '')}"]
    lines += [f"    note: {note}" for note in event.get("notes") or []]
    if event.get("outcome") == "error" and error.get("traceback"):
        lines += ["    " + text for text in str(error["traceback"]).rstrip("\n").split("\n")]
    return lines


def exit_status(answer: Answer) -> int:
    if answer.status == 200:
        return EXIT_APPLIED if answer.body.get("ok") else EXIT_FAILED
    return EXIT_NOT_ANSWERED


def explain(answer: Answer, url: str) -> str:
    """Why the call did not apply everything, for stderr; "" when it did."""
    body = answer.body
    if answer.status == 200:
        failed = body.get("failed") or []
        earlier = [file for file in body.get("failing") or [] if file not in failed]
        lines = [f"hot reload: failing: {', '.join(failed)}"] if failed else []
        if earlier:
            lines.append(f"hot reload: still failing since an earlier save: {', '.join(earlier)} (fix it and save)")
        return "\n".join(lines)
    detail = str(body.get("detail", ""))
    if answer.status == 401:
        return f"hot reload: {url} wants a login: pass --auth user:password ({detail})"
    if answer.status == TIMED_OUT:
        pending = ", ".join(body.get("pending") or []) or "nothing"
        waiting = f"; waiting because {body['waiting']} (--now applies it anyway)" if body.get("waiting") else ""
        return f"hot reload: {detail}; still pending: {pending}{waiting}"
    if answer.status == 404 and "hot-reload" not in detail.lower() and "hot reload" not in detail.lower():
        return f"hot reload: {url} has no {APPLY_PATH} route (not a webui with this extension?)"
    return f"hot reload: {url} answered {answer.status}: {detail}"


def run(url: str, *, timeout: float, now: bool, since: int | None, auth: str, as_json: bool,
        out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    try:
        answer = request_apply(url, timeout=timeout, now=now, since=since, auth=auth)
    except NotAnswered as error:
        print(f"hot reload: {error}", file=err)
        return EXIT_NOT_ANSWERED
    if as_json:
        print(json.dumps(answer.body, ensure_ascii=False), file=out)
    else:
        for event in answer.body.get("events") or []:
            print("\n".join(event_lines(event)), file=out)
        for note in answer.body.get("notes") or []:
            print(f"hot reload: note: {note}", file=err)
    why = explain(answer, url.rstrip("/"))
    if why:
        print(why, file=err)
    return exit_status(answer)
