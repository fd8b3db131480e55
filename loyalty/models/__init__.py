"""Every model, imported here so Alembic and the app see the whole schema."""

from loyalty.models.merchants import ApiKey, BusinessType, Merchant
from loyalty.models.programs import DEFAULT_PROGRAM_CODE, LoyaltyProgram

__all__ = ["ApiKey", "BusinessType", "DEFAULT_PROGRAM_CODE", "LoyaltyProgram", "Merchant"]
