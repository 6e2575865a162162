"""Generated frames fed straight to the protocol state machine: every answer is a documented one,
and the limits hold after every frame. (tests/server/test_fuzz.py sends such frames over sockets.)"""
from hypothesis import HealthCheck, given, settings

from bench.fuzzing import cases, check_outcome, run_case_direct


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(case=cases)
def test_generated_frames_get_documented_answers(case):
    multi, frames = case
    check_outcome(run_case_direct(multi, frames), multi)
