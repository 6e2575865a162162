"""Generated frames against the real local server: every one answered as docs/protocol.md says."""
import asyncio

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings

from bench.fuzzing import cases, check_outcome, run_case

@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=cases)
def test_generated_frames_get_documented_answers(espeak_server, case):
    multi, frames = case

    async def go():
        async with aiohttp.ClientSession() as http:
            return await run_case(http, espeak_server, multi, frames)

    check_outcome(asyncio.run(go()), multi)


@pytest.mark.asyncio
async def test_server_is_healthy_and_clean_after_fuzzing(espeak_server):
    async with aiohttp.ClientSession() as http:
        health = await (await http.get(espeak_server.url + "/healthz")).json()
    assert health["status"] == "ok"
    async with asyncio.timeout(10):
        while espeak_server.server_tasks():  # every context task of every fuzz case has ended
            await asyncio.sleep(0.05)
