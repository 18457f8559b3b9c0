"""A finding's statuses are spelled once (checker.statuses); the views built on them must agree."""
from checker import findings, statuses


def test_every_status_has_a_name_and_the_subsets_are_statuses():
    assert set(statuses.STATUS_NAMES) == set(statuses.STATUSES)
    for subset in (statuses.ACTIVE_STATUSES, statuses.WITH_OFFICER, statuses.CLOSED_STATUSES):
        assert set(subset) <= set(statuses.STATUSES)
    assert set(statuses.ACTIVE_STATUSES) | set(statuses.CLOSED_STATUSES) == set(statuses.STATUSES)


def test_transitions_move_between_known_statuses():
    for sources, target in findings.TRANSITIONS.values():
        assert set(sources) | {target} <= set(statuses.STATUSES)

