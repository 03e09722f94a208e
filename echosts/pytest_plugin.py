"""The pytest plugin: a fixture ``echosts`` that is a running echosts for the whole test session.

Registered through the ``pytest11`` entry point, so a project that installs echosts gets it
with nothing else to do. The server runs in a child process, so the test's event loop and
the service's never mix; it is stopped cleanly at the end, and a failing test's report shows
what the server logged during that test.

Options: ``--echosts-url URL`` (or ini ``echosts_url``) uses a running echosts instead;
``--echosts-arg=--flag=value`` (repeatable, or ini ``echosts_args``) passes flags to the
server it starts; ``--echosts-api-key`` (or ini ``echosts_api_key``) is the key the helpers
send to a server with keys.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from typing import Any

import pytest

from echosts.testing import EchostsProcess, EchostsServer

LOG_SECTION = "echosts log"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("echosts", "echosts, the Echo STS test double")
    group.addoption(
        "--echosts-url",
        default=None,
        help="use the echosts running at this URL instead of starting one",
    )
    group.addoption(
        "--echosts-api-key",
        default=None,
        help="the key the helpers send, for a server with API keys",
    )
    group.addoption(
        "--echosts-arg",
        action="append",
        default=[],
        help="a flag for the echosts the plugin starts, e.g. --echosts-arg=--queue-limit=5",
    )
    parser.addini("echosts_url", "use the echosts running at this URL", default=None)
    parser.addini("echosts_args", "flags for the echosts the plugin starts", default="")
    parser.addini("echosts_api_key", "the key the helpers send", default=None)


def _server_args(config: pytest.Config) -> list[str]:
    from_ini = shlex.split(str(config.getini("echosts_args") or ""))
    return [*from_ini, *config.getoption("--echosts-arg")]


@pytest.fixture(scope="session")
def echosts(request: pytest.FixtureRequest) -> Iterator[EchostsServer]:
    """A running echosts: ``url``, ``plan()``, ``sessions()``, ``events()``,
    ``wait_for_session()``, ``verify()``, ``reset()``; ``aio`` has them as coroutines."""
    config = request.config
    url = config.getoption("--echosts-url") or config.getini("echosts_url")
    api_key = config.getoption("--echosts-api-key") or config.getini("echosts_api_key") or None
    if url:
        yield EchostsServer(str(url), api_key)
        return
    server = EchostsProcess(*_server_args(config), api_key=api_key)
    config.stash[_RUNNING] = server
    try:
        yield server
    finally:
        del config.stash[_RUNNING]
        server.stop()


_RUNNING = pytest.StashKey[EchostsProcess]()
_LOG_START = pytest.StashKey[int]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    server = item.config.stash.get(_RUNNING, None)
    if server is not None:
        item.stash[_LOG_START] = server.log_size()
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    server = item.config.stash.get(_RUNNING, None)
    if server is None or not report.failed or call.when != "call":
        return
    start = item.stash.get(_LOG_START, 0)
    report.sections.append((LOG_SECTION, server.log_text(start) or "(nothing logged)"))
