"""How the suite shares the machine when run in parallel (``make test`` runs ``pytest -n 2``).

Tests of one folder below that start ``saga worker`` or relay processes run one after the
other (an ``xdist_group`` each): their workers join consumer groups and take relay lanes by
name, and two of them at once would rebalance each other. Every other test goes wherever a
pytest worker is free.
"""

from __future__ import annotations

from pathlib import Path

import pytest

_ONE_AT_A_TIME = ("integration/worker", "integration/outbox", "contract")
_HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        where = item.path.relative_to(_HERE).as_posix()
        for folder in _ONE_AT_A_TIME:
            if where.startswith(folder + "/"):
                item.add_marker(pytest.mark.xdist_group(folder))
                break
