"""assignment weight: how much an assignment counts in a student's weighted percentage

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 05:50:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    # server_default: assignments published before weights existed count once each.
    with op.batch_alter_table("assignment", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("weight", sa.Double(), nullable=False, server_default=sa.text("1"))
        )


def downgrade():
    with op.batch_alter_table("assignment", schema=None) as batch_op:
        batch_op.drop_column("weight")
