"""Re-encryption of every stored secret under the current key (`flask keys rotate`)."""

from __future__ import annotations

import sqlalchemy as sa

from loyalty.crypto import EncryptedText, current_vault
from loyalty.extensions import db
from loyalty.tenancy import all_merchants
from loyalty.unit_of_work import transactional


def encrypted_columns() -> list[tuple[sa.Table, sa.Column]]:
    """Every (table, column) of the schema stored with EncryptedText."""
    return [
        (table, column)
        for table in db.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, EncryptedText)
    ]


@transactional
def rotate_secrets() -> int:
    """Re-encrypt each secret not yet under the first key; idempotent. Returns the count."""
    vault = current_vault()
    rotated = 0
    # Core on purpose: the raw ciphertext is needed, not the decrypted value. The whole
    # schema is rotated at once, so this is one of the few reviewed all_merchants() uses.
    with all_merchants():
        for table, column in encrypted_columns():
            raw = sa.column(column.name, sa.Text)
            pk = table.primary_key.columns.values()[0]
            rows = db.session.execute(
                sa.select(pk, raw).select_from(table).where(raw.is_not(None))
            ).all()
            for key, token in rows:
                if vault.is_current(token):
                    continue
                label = f"{table.name}.{column.name}"
                db.session.execute(
                    sa.update(table).where(pk == key)
                    .values({column.name: sa.literal(vault.rotate(token, label=label), sa.Text)})
                )
                rotated += 1
    return rotated
