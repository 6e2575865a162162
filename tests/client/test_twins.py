"""The blocking and async twins have the same members, written out (no attribute forwarding)."""
from __future__ import annotations

import inspect

import pytest

import eleven_nb
from eleven_nb import client as c

TWINS = [
    (c.Client, c.AsyncClient),
    (c.StreamInput, c.AsyncStreamInput),
    (c.Context, c.AsyncContext),
    (c.MultiStreamInput, c.AsyncMultiStreamInput),
    (c.Connection, c.AsyncConnection),
    (c.WebsocketTextToSpeech, c.AsyncWebsocketTextToSpeech),
]
ASYNC_ONLY = {"__aiter__", "__anext__"}
BLOCKING_ONLY = {"__iter__"}


def public(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


@pytest.mark.parametrize(("blocking", "aio"), TWINS, ids=lambda cls: cls.__name__)
def test_twins_have_the_same_public_members(blocking, aio):
    assert public(blocking) == public(aio)
    assert not hasattr(blocking, "__getattr__") and not hasattr(aio, "__getattr__")


@pytest.mark.parametrize(("blocking", "aio"), TWINS, ids=lambda cls: cls.__name__)
def test_the_async_twin_awaits_what_the_blocking_twin_blocks_on(blocking, aio):
    for name in public(aio):
        member, twin = inspect.getattr_static(aio, name), inspect.getattr_static(blocking, name)
        if inspect.iscoroutinefunction(member) and name != "wait_closed":  # Connection.wait_closed: for async code
            assert callable(twin) and not inspect.iscoroutinefunction(twin), f"{blocking.__name__}.{name}"


def test_iteration_is_blocking_or_async_by_twin():
    for blocking, aio in TWINS[1:4]:
        assert BLOCKING_ONLY <= set(dir(blocking)) and not ASYNC_ONLY & set(dir(blocking))
        assert ASYNC_ONLY <= set(dir(aio)) and not BLOCKING_ONLY & set(dir(aio))


def test_the_package_exports_both_clients():
    assert eleven_nb.Client is c.Client and eleven_nb.AsyncClient is c.AsyncClient
    assert not hasattr(c.Client, "stream_input_sync") and not hasattr(eleven_nb.Client(base_url="127.0.0.1:9"), "aio")
