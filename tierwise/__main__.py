"""`python -m tierwise …` — and the file `spark-submit` runs: `spark-submit --master yarn
<site-packages>/tierwise/__main__.py weekly --engine spark …`."""

from tierwise.shell.cli import app

if __name__ == "__main__":
    app()
