"""`tierwise serve` and `tierwise keys new` (registered from serving/cli.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from tierwise.settings import Settings, session_secret_problem

console = Console()
keys_app = typer.Typer(help="API keys for the scoring service.", no_args_is_help=True)


def run_server(
    settings: Settings | None = None,
    *,
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
    log_level: str = "info",
) -> None:
    """Run the API under uvicorn (uvloop + httptools; one OpenMP thread per process).

    Worker processes build their app from the environment, so `settings.data_dir` is passed
    on as TIERWISE_DATA_DIR.
    """
    import uvicorn

    from tierwise.settings import get_settings

    os.environ["OMP_NUM_THREADS"] = "1"  # LightGBM's idle OpenMP threads cost ~250 µs/request
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # an unreachable tracking server fails a load in ~1 min, not MLflow's default ~4 min
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
    if settings is not None:
        os.environ["TIERWISE_DATA_DIR"] = str(settings.data_dir)
        get_settings.cache_clear()
    settings = get_settings()
    problem = session_secret_problem(settings.session_secret)
    if problem is not None:
        console.print(
            f"[red]{problem}.[/] Set a long random value, e.g. export TIERWISE_SESSION_SECRET="
            "$(python -c 'import secrets; print(secrets.token_urlsafe(32))')",
            soft_wrap=True,
        )
        raise typer.Exit(code=2)
    host = host or settings.host
    port = port or settings.port
    workers = workers or settings.workers
    console.print(
        f"serving Tierwise on [bold]http://{host}:{port}[/] ({workers} worker(s), "
        f"data {settings.data_dir}, models from {settings.mlflow_tracking_uri})"
    )
    uvicorn.run(
        "serving.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        log_level=log_level,
        access_log=False,  # uvicorn's own; Tierwise writes a JSON one (tierwise.access)
        log_config=log_config(settings.access_log),
    )


def log_config(access: bool) -> dict[str, object]:
    """uvicorn's logging set-up plus the JSON access log on stdout (when enabled)."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["json_line"] = {"format": "%(message)s"}
    config["handlers"]["json_access"] = {
        "formatter": "json_line",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stdout",
    }
    config["loggers"]["tierwise.access"] = {
        "handlers": ["json_access"],
        "level": "INFO" if access else "WARNING",
        "propagate": False,
    }
    return config


def serve(
    host: str = typer.Option(None, "--host", help="Bind address [TIERWISE_HOST]"),
    port: int = typer.Option(None, "--port", help="Port [TIERWISE_PORT]"),
    workers: int = typer.Option(None, "--workers", min=1, help="Processes [TIERWISE_WORKERS]"),
    data: Path = typer.Option(None, "--data", help="Data directory [TIERWISE_DATA_DIR]"),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level"),
) -> None:
    """Serve the scoring API (uvicorn with uvloop + httptools, one OpenMP thread per process)."""
    from tierwise.settings import Settings

    run_server(
        Settings(data_dir=data) if data is not None else None,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
    )


@keys_app.command("new")
def new_key_command(
    role: str = typer.Option(..., "--role", help="scorer | integration | manager | admin"),
    manager_id: str = typer.Option(None, "--manager-id", help="Manager the key is bound to"),
    name: str = typer.Option("", "--name", help="Who holds the key"),
) -> None:
    """Print a new API key and the TIERWISE_API_KEYS entry (hash only) that enables it."""
    from serving.auth import new_key
    from tierwise.errors import InvalidInput

    try:
        key, entry = new_key(role, manager_id, name)
    except InvalidInput as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(code=2) from exc
    typer.echo(f"key: {key}")
    typer.echo(f"settings entry: {json.dumps(entry)}")
    typer.echo("add the entry to the JSON list in TIERWISE_API_KEYS; the key is not stored")


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.add_typer(keys_app, name="keys")
