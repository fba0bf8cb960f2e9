"""feedback release and accommodations: hidden tests and quiz keys shown when; date shifts

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 05:50:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

RELEASES = ("immediately", "after_due", "never")
CHECK = "ck_assignment_feedbackrelease"


def upgrade():
    # Not in batch mode: copying "assignment" on SQLite would drop it, cascading to its
    # extensions and overrides. A plain ADD COLUMN with a constant default keeps the rows;
    # the default makes every assignment of the demo data release at once, as before.
    op.add_column(
        "assignment",
        sa.Column("feedback_release", sa.String(16), server_default="immediately", nullable=False),
    )
    # The CHECK on PostgreSQL only: SQLite cannot add one to a table in place, and a
    # table-level one (a later batch copy makes it so) would stop the downgrade's DROP COLUMN.
    if op.get_bind().dialect.name != "sqlite":
        allowed = ", ".join(f"'{value}'" for value in RELEASES)
        op.create_check_constraint(CHECK, "assignment", f"feedback_release IN ({allowed})")
    op.create_table(
        "accommodation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("shift_seconds", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("granted_by", sa.String(length=254), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["course.id"],
            name=op.f("fk_accommodation_course_id_course"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
            name=op.f("fk_accommodation_user_id_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accommodation")),
        sa.UniqueConstraint(
            "course_id", "user_id", name=op.f("uq_accommodation_course_id_user_id")
        ),
    )
    with op.batch_alter_table("accommodation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_accommodation_user_id"), ["user_id"], unique=False)


def downgrade():
    with op.batch_alter_table("accommodation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accommodation_user_id"))
    op.drop_table("accommodation")
    # Not in batch mode (see upgrade); SQLite drops a column in place since 3.35.
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(CHECK, "assignment", type_="check")
    op.drop_column("assignment", "feedback_release")
