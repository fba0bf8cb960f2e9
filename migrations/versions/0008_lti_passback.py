"""lti: the grade passback outbox (one row per resource link and student)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 02:40:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "lti_passback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resource_link_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("score_given", sa.Double(), nullable=False),
        sa.Column("score_maximum", sa.Double(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "sent",
                "failed",
                name="passbackstatus",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("next_try_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["assignment.id"],
            name=op.f("fk_lti_passback_assignment_id_assignment"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resource_link_id"],
            ["lti_resource_link.id"],
            name=op.f("fk_lti_passback_resource_link_id_lti_resource_link"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
            name=op.f("fk_lti_passback_user_id_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_passback")),
        sa.UniqueConstraint(
            "resource_link_id", "user_id", name=op.f("uq_lti_passback_resource_link_id_user_id")
        ),
    )
    with op.batch_alter_table("lti_passback", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lti_passback_assignment_id"), ["assignment_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_lti_passback_next_try_at"), ["next_try_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_lti_passback_user_id"), ["user_id"], unique=False)


def downgrade():
    with op.batch_alter_table("lti_passback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lti_passback_user_id"))
        batch_op.drop_index(batch_op.f("ix_lti_passback_next_try_at"))
        batch_op.drop_index(batch_op.f("ix_lti_passback_assignment_id"))
    op.drop_table("lti_passback")
