"""lti: pending launches (an instructor's course link or deep-linking choice in the browser)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 02:20:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "lti_pending_launch",
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("session_digest", sa.String(length=64), nullable=False),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.String(length=255), nullable=False),
        sa.Column("message_type", sa.String(length=32), nullable=False),
        sa.Column("context_id", sa.String(length=255), nullable=False),
        sa.Column("context_title", sa.String(length=200), nullable=False),
        sa.Column("context_label", sa.String(length=200), nullable=False),
        sa.Column("lineitems_url", sa.String(length=1000), nullable=True),
        sa.Column("memberships_url", sa.String(length=1000), nullable=True),
        sa.Column("return_url", sa.String(length=1000), nullable=True),
        sa.Column("data", sa.Text(), nullable=True),
        sa.Column("accept_multiple", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["platform_id"],
            ["lti_platform.id"],
            name=op.f("fk_lti_pending_launch_platform_id_lti_platform"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
            name=op.f("fk_lti_pending_launch_user_id_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_lti_pending_launch")),
    )
    with op.batch_alter_table("lti_pending_launch", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lti_pending_launch_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_lti_pending_launch_platform_id"), ["platform_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_lti_pending_launch_user_id"), ["user_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("lti_pending_launch", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lti_pending_launch_user_id"))
        batch_op.drop_index(batch_op.f("ix_lti_pending_launch_platform_id"))
        batch_op.drop_index(batch_op.f("ix_lti_pending_launch_created_at"))

    op.drop_table("lti_pending_launch")
