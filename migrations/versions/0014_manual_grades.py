"""manual grades: points and a comment per graded notebook cell, given by a person

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 06:05:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    # A new table only: the demo data's rows are untouched.
    op.create_table(
        "manual_grade",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("notebook", sa.String(length=200), nullable=False),
        sa.Column("grade_id", sa.String(length=200), nullable=False),
        sa.Column("points", sa.Double(), nullable=False),
        sa.Column("max_points", sa.Double(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("grader_id", sa.Integer(), nullable=True),
        sa.Column("graded_by", sa.String(length=254), nullable=False),
        sa.Column("graded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submission.id"],
            name=op.f("fk_manual_grade_submission_id_submission"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["grader_id"],
            ["user.id"],
            name=op.f("fk_manual_grade_grader_id_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_manual_grade")),
        sa.UniqueConstraint(
            "submission_id",
            "notebook",
            "grade_id",
            name=op.f("uq_manual_grade_submission_id_notebook_grade_id"),
        ),
    )


def downgrade():
    op.drop_table("manual_grade")
