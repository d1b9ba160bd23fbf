"""Fixtures every integration test folder may use."""

from tests.integration._private_stack import PrivateStack, private_stack

__all__ = ["PrivateStack", "private_stack"]
