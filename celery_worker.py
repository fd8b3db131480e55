"""Worker and beat entry point: `celery -A celery_worker worker` (shim; not covered)."""

from loyalty import create_app

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
