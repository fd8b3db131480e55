"""`GET /metrics`: the platform's numbers in Prometheus's text format (DESIGN.md 14,
docs/OPERATIONS.md).

Off unless `METRICS_TOKEN` is set (then 404, like any unknown path: an unconfigured
platform shows nothing, and nobody has to remember to lock it), and with it set, only for
`Authorization: Bearer <METRICS_TOKEN>` (401 otherwise). Served by the `web` and the
`hooks` processes alike: whichever is scraped reports every process group on the machine.

What processes counted (loyalty/metrics.py) is read from their files under `METRICS_DIR`,
one folder per process group (`python -m loyalty.metrics_dir <group> …` in the Procfile),
and each sample carries its group as the `process` label: a group restarts on its own and
its counters start again from zero, which Prometheus's `rate()` handles per series, but
not in a sum already taken over groups. Without `METRICS_DIR` (`make run`) the process's
own values are the whole story. What is true of the platform rather than of a process —
the backlogs, the paused SMS accounts — is read when scraped.
"""

from __future__ import annotations

import glob
import hmac
import logging
import os
from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from loyalty.errors import error_body
from loyalty.services import backlogs, messages, sms_pause

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics_page():
    token = current_app.config["METRICS_TOKEN"]
    if not token:
        return jsonify(error_body(404, "The requested URL was not found on the server.")), 404
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                             token.encode()):
        response = jsonify(error_body(401, "Send Authorization: Bearer <METRICS_TOKEN>."))
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = CollectorRegistry(auto_describe=False)
    directory = current_app.config["METRICS_DIR"]
    registry.register(ProcessGroups(directory) if directory else _ThisProcess())
    registry.register(_Platform())
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


class ProcessGroups:
    """Every process group's files under `directory`, added up per group."""

    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)

    def collect(self):
        merged: dict[str, Metric] = {}
        groups = sorted(p for p in self.directory.iterdir() if p.is_dir()) \
            if self.directory.is_dir() else []
        for group in groups:
            files = glob.glob(os.path.join(group, "*.db"))
            for metric in MultiProcessCollector.merge(files, accumulate=True):
                into = merged.setdefault(metric.name, Metric(metric.name, metric.documentation,
                                                             metric.type))
                into.samples += [s._replace(labels={**s.labels, "process": group.name})
                                 for s in metric.samples]
        yield from merged.values()


class _ThisProcess:
    """Without METRICS_DIR: this process's own values (one process, `make run`)."""

    def collect(self):
        yield from REGISTRY.collect()


class _Platform:
    """Read at scrape time: what waits, and which SMS accounts are paused."""

    def collect(self):
        try:
            now = backlogs.backlogs()
        except Exception as exc:  # the scrape still reports what the processes counted
            log.warning("metrics: backlogs unavailable: %s", type(exc).__name__)
        else:
            yield GaugeMetricFamily("loyalty_crediting_backlog",
                                    "Payments stored and waiting for crediting",
                                    value=now.payments_waiting)
            yield GaugeMetricFamily("loyalty_crediting_oldest_waiting_seconds",
                                    "Age of the oldest payment waiting for crediting",
                                    value=now.oldest_payment_seconds)
            yield GaugeMetricFamily("loyalty_sms_backlog", "Texts queued and not yet sent",
                                    value=now.texts_waiting)
            yield GaugeMetricFamily("loyalty_sms_oldest_waiting_seconds",
                                    "Seconds since the longest-waiting queued text last moved",
                                    value=now.oldest_text_seconds)
        paused = GaugeMetricFamily("loyalty_sms_account_paused",
                                   "1 while an SMS account is paused for lack of credit",
                                   labels=["account"])
        try:
            accounts = {p.account for p in sms_pause.paused_accounts()}
            accounts.add(messages.sending_account())
            for account in sorted(accounts):
                paused.add_metric([account], 1 if sms_pause.current(account) else 0)
        except Exception as exc:
            log.warning("metrics: SMS pauses unavailable: %s", type(exc).__name__)
        yield paused
