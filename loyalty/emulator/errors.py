"""Daraja's synchronous error body, raised anywhere and rendered by the views (DARAJA.md 11)."""

from __future__ import annotations

from typing import Any

from loyalty.emulator.payloads import new_request_id


class DarajaError(Exception):
    """`{"requestId", "errorCode", "errorMessage"}` with the HTTP status Safaricom uses."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def body(self) -> dict[str, Any]:
        return {"requestId": new_request_id(), "errorCode": self.code, "errorMessage": self.message}


def invalid(field: str) -> DarajaError:
    """The generic field complaint: `400.002.02 Bad Request - Invalid <Field>`."""
    return DarajaError(400, "400.002.02", f"Bad Request - Invalid {field}")


def no_product() -> DarajaError:
    """The app (or the token, minted before the product was added) lacks this API."""
    return DarajaError(
        401, "401.003.01", "Invalid Access Token - Invalid API call as no apiproduct match found"
    )
