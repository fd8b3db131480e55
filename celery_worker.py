"""Worker and beat entry point: `celery -A celery_worker.celery_app worker` (shim; not covered)."""

from loyalty import create_app
from tasks.schedule import beat_schedule

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
celery_app.conf.beat_schedule = beat_schedule(flask_app.config)
