"""Liveness and readiness probes (outside /api/v1, no authentication)."""

from flask import Blueprint, jsonify

from loyalty.services.health import readiness

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    checks = readiness()
    failing = sorted(name for name, state in checks.items() if state != "ok")
    if failing:
        body = {"error": {"code": "service_unavailable",
                          "message": "Unreachable: " + ", ".join(failing) + "."},
                "checks": checks}
        return jsonify(body), 503
    return jsonify({"status": "ready", "checks": checks})
