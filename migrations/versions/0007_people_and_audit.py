"""people and audit: the TA course role, a course's term and time zone, the audit log, password links

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 02:30:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _role(*values):
    return sa.Enum(*values, name="role", native_enum=False, create_constraint=True, length=16)


OLD_ROLE = _role("student", "instructor", "admin")
NEW_ROLE = _role("student", "ta", "instructor", "admin")


def upgrade():
    # Enrollment's role CHECK gains "ta"; SQLite copies the table in batch mode, which is
    # safe as no table refers to enrollment. Not user's: a TA is a course role only, and
    # copying "user" on SQLite would drop the old table, and with it, through ON DELETE
    # CASCADE, every enrollment, token, session, attempt and submission.
    with op.batch_alter_table("enrollment", schema=None) as batch_op:
        batch_op.alter_column(
            "role", existing_type=OLD_ROLE, type_=NEW_ROLE, existing_nullable=False
        )
    with op.batch_alter_table("course", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("term", sa.String(length=64), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False)
        )
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=254), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["user.id"],
            name=op.f("fk_audit_entry_actor_id_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["course_id"], ["course.id"], name=op.f("fk_audit_entry_course_id_course")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entry")),
    )
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.create_index("ix_audit_entry_course_id_at", ["course_id", "at"], unique=False)
    op.create_table(
        "password_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "purpose",
            sa.Enum(
                "set",
                "reset",
                name="passwordpurpose",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
            name=op.f("fk_password_token_user_id_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_password_token_token_hash")),
    )
    with op.batch_alter_table("password_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_password_token_user_id"), ["user_id"], unique=False)


def downgrade():
    with op.batch_alter_table("password_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_password_token_user_id"))
    op.drop_table("password_token")
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_entry_course_id_at")
    op.drop_table("audit_entry")
    # Not in batch mode: copying "course" on SQLite would drop it, cascading to its
    # enrollments and assignments. SQLite drops a column in place since 3.35.
    op.drop_column("course", "timezone")
    op.drop_column("course", "term")
    # A TA goes back to being a student: the old constraint has no "ta".
    op.execute(sa.text("UPDATE enrollment SET role = 'student' WHERE role = 'ta'"))
    with op.batch_alter_table("enrollment", schema=None) as batch_op:
        batch_op.alter_column(
            "role", existing_type=NEW_ROLE, type_=OLD_ROLE, existing_nullable=False
        )
