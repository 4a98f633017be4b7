"""The WSGI entry point for gunicorn (``gunicorn dibao.wsgi:app``): the app, and this worker's notice sweep.

Each worker imports this module after the fork (gunicorn without ``--preload``), so each runs its own sweep
thread; the sweep is safe to run in several processes at once (dibao.sweep).
"""

from dibao import create_app, sweep

app = create_app()
sweep.start(app)
