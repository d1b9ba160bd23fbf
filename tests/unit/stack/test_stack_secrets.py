"""Errors from the native stack's PostgreSQL set-up never carry the generated password."""

from __future__ import annotations

import socket
import traceback
from pathlib import Path

import pytest

from saga.errors import StackError
from saga.stack._postgres import PostgresNode


# A refused connection, and a password libpq cannot parse (it quotes it back).
@pytest.mark.parametrize("password", ["Zq3-generated_pw", "pw%with@odd/chars"])
def test_a_failed_database_creation_is_a_stack_error_without_the_password(
    tmp_path: Path, password: str
) -> None:
    node = PostgresNode(tmp_path)
    node.home.mkdir(parents=True)
    node.password_file.write_text(password)
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(StackError, match="cannot be created") as raised:
        node._ensure_database(port)
    shown = "".join(traceback.format_exception(raised.value))
    assert password not in shown
    assert password[:6] not in shown
    assert "see `saga stack logs postgres`" in str(raised.value)
