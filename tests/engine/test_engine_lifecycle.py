import pytest

from engine.decide import lifecycle


def test_every_state_has_transitions_declared():
    states = {code for code, _label in lifecycle.INCIDENT_STATES}
    assert set(lifecycle.INCIDENT_TRANSITIONS) == states
    for targets in lifecycle.INCIDENT_TRANSITIONS.values():
        assert targets <= states
    attempt_states = {code for code, _label in lifecycle.ATTEMPT_STATES}
    assert set(lifecycle.ATTEMPT_TRANSITIONS) == attempt_states


def test_healed_incident_can_only_come_back_as_new_or_failed():
    lifecycle.check_incident_transition("healed", "new")
    with pytest.raises(lifecycle.TransitionError):
        lifecycle.check_incident_transition("healed", "fixing")


def test_unknown_target_is_refused():
    with pytest.raises(lifecycle.TransitionError):
        lifecycle.check_incident_transition("new", "exploded")


def test_terminal_attempt_states():
    for state in ("rejected", "rolled_back"):
        for target, _label in lifecycle.ATTEMPT_STATES:
            with pytest.raises(lifecycle.TransitionError):
                lifecycle.check_attempt_transition(state, target)
