"""What the benches serve: the app, with a minimal Flask endpoint mounted beside it as the baseline."""

from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from dibao import create_app

minimal = Flask("minimal")


@minimal.get("/")
def hello():
    return "ok"


application = DispatcherMiddleware(create_app(), {"/_minimal": minimal})
