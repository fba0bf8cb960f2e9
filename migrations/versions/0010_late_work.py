"""late work: an assignment's opening date and late policy, extensions, score overrides

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 03:15:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("assignment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("opens_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("late_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("late_penalty_per_day", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("late_penalty_per_hour", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("late_penalty_cap", sa.Double(), nullable=True))
    op.create_table(
        "extension",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("late_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["assignment.id"],
            name=op.f("fk_extension_assignment_id_assignment"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_extension_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_extension")),
        sa.UniqueConstraint(
            "assignment_id", "user_id", name=op.f("uq_extension_assignment_id_user_id")
        ),
    )
    with op.batch_alter_table("extension", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_extension_user_id"), ["user_id"], unique=False)
    op.create_table(
        "score_override",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Double(), nullable=True),
        sa.Column("max_score", sa.Double(), nullable=False),
        sa.Column("excused", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("set_by", sa.String(length=254), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["assignment.id"],
            name=op.f("fk_score_override_assignment_id_assignment"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
            name=op.f("fk_score_override_user_id_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_score_override")),
        sa.UniqueConstraint(
            "assignment_id", "user_id", name=op.f("uq_score_override_assignment_id_user_id")
        ),
    )
    with op.batch_alter_table("score_override", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_score_override_user_id"), ["user_id"], unique=False)


def downgrade():
    with op.batch_alter_table("score_override", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_score_override_user_id"))
    op.drop_table("score_override")
    with op.batch_alter_table("extension", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_extension_user_id"))
    op.drop_table("extension")
    with op.batch_alter_table("assignment", schema=None) as batch_op:
        batch_op.drop_column("late_penalty_cap")
        batch_op.drop_column("late_penalty_per_hour")
        batch_op.drop_column("late_penalty_per_day")
        batch_op.drop_column("late_until")
        batch_op.drop_column("opens_at")
