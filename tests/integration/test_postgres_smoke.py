"""The real PostgreSQL through SQLAlchemy 2 + psycopg 3: a committed write is read back,
a rolled-back one is not, and logical decoding is available for CDC comparisons."""

from __future__ import annotations

import pytest
from sqlalchemy import Integer, String, create_engine, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

pytestmark = pytest.mark.integration


class Base(DeclarativeBase):
    pass


class Greeting(Base):
    __tablename__ = "greeting"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(String(50))


def test_write_and_read_back(fresh_database_url: str) -> None:
    engine = create_engine(fresh_database_url)
    Base.metadata.create_all(engine)
    with Session(engine) as session, session.begin():
        session.add(Greeting(id=1, text="hello"))
    with Session(engine) as session:
        session.begin()
        session.add(Greeting(id=2, text="never"))
        session.rollback()
    with Session(engine) as session:
        rows = session.scalars(select(Greeting).order_by(Greeting.id)).all()
        assert [(g.id, g.text) for g in rows] == [(1, "hello")]
    with engine.connect() as conn:
        assert conn.execute(text("select current_setting('wal_level')")).scalar() == "logical"
        assert (
            conn.execute(text("select current_setting('server_version_num')::int")).scalar_one()
            >= 150000
        )
    engine.dispose()
