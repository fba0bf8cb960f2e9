"""Column types shared by the models."""

from datetime import UTC, datetime

import sqlalchemy as sa


class UTCDateTime(sa.TypeDecorator):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given; use datetime.now(UTC)")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    """Return the current time, timezone-aware."""
    return datetime.now(UTC)


def enum_column(enum_cls) -> sa.Enum:
    """Store a StrEnum by value as a short string with a CHECK constraint."""
    return sa.Enum(
        enum_cls,
        native_enum=False,
        length=16,
        values_callable=lambda cls: [member.value for member in cls],
        create_constraint=True,
        name=enum_cls.__name__.lower(),
    )
