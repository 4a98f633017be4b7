"""Sanity figure: the minimal endpoint and the portal home page, served by the same gunicorn."""

from common import MINIMAL_PATH, measure, prepared_sqlite, ratio_line, serve

if __name__ == "__main__":
    url = prepared_sqlite()
    with serve({"DIBAO_DATABASE_URL": url}) as base:
        baseline = measure(base + MINIMAL_PATH, seconds=4)
        home = measure(base + "/", seconds=4)
    print(ratio_line("minimal Flask endpoint (baseline)", baseline, baseline))
    print(ratio_line("portal home /", home, baseline))
