"""result history: the results a regrade replaced, of submissions and quiz attempts

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 06:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    # A new table only: existing submissions and attempts keep their current result,
    # and their history starts with the first regrade that replaces it.
    op.create_table(
        "result_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=True),
        sa.Column("attempt_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("score", sa.Double(), nullable=True),
        sa.Column("max_score", sa.Double(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("graded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "graded_because",
            sa.Enum(
                "first_grading",
                "regrade",
                name="gradedbecause",
                native_enum=False,
                length=16,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("graded_by", sa.String(length=254), nullable=False),
        sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replaced_by", sa.String(length=254), nullable=False),
        sa.CheckConstraint(
            "(submission_id IS NULL) <> (attempt_id IS NULL)",
            name=op.f("ck_result_history_one_piece_of_work"),
        ),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["quiz_attempt.id"],
            name=op.f("fk_result_history_attempt_id_quiz_attempt"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submission.id"],
            name=op.f("fk_result_history_submission_id_submission"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_result_history")),
    )
    with op.batch_alter_table("result_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_result_history_attempt_id"), ["attempt_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_result_history_submission_id"), ["submission_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("result_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_result_history_submission_id"))
        batch_op.drop_index(batch_op.f("ix_result_history_attempt_id"))
    op.drop_table("result_history")
