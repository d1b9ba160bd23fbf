"""The contract suite's shop under the dotted path that ``saga diagram`` and ``saga
choreography`` are given in tests/unit/cli/test_cli_exit_codes.py; it lives in
tests/sagas/shop.py."""

from tests.sagas.shop import *  # noqa: F403  (every name, so the module is the same shop)
