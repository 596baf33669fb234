"""What was applied where: the base an upgrade merges against."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hazwatch.db import Base


class PackInstall(Base):
    """One pack on one enterprise: its version, the parameters it was given and the catalog items
    exactly as that version rendered them (an upgrade tells a local edit from the pack's own
    change by comparing against these)."""

    __tablename__ = "pack_installs"
    __table_args__ = (UniqueConstraint("org_id", "pack"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id"))
    pack: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(20))
    params: Mapped[dict] = mapped_column(JSON)
    rendered: Mapped[dict] = mapped_column(JSON)
    applied_at: Mapped[int] = mapped_column(BigInteger)
