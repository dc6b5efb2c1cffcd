"""The `tierwise` command. Each domain package registers its own thin subcommands."""

from __future__ import annotations

import sys
from typing import Any

import typer
from rich.console import Console

from tierwise import logs
from tierwise.errors import TierwiseError


class _Tierwise(typer.Typer):
    """The console script: a TierwiseError becomes its message on stderr and exit code 1."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except TierwiseError as exc:
            Console(stderr=True).print(f"[bold red]{exc.title}:[/] {exc}", highlight=False)
            sys.exit(1)


app = _Tierwise(
    name="tierwise",
    help="Rules engine and recommendation service for channel-partner programs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging"),
) -> None:
    logs.configure("DEBUG" if verbose else "INFO")


def _register() -> None:
    from features import cli as features_cli
    from rules import cli as rules_cli
    from serving import cli as serving_cli
    from simulation import cli as simulation_cli
    from training import cli as training_cli

    for module in (simulation_cli, features_cli, rules_cli, training_cli, serving_cli):
        module.register(app)
    features_cli.rulebook_expiry_days = rules_cli.registration_expiry_days  # KPI expiry


_register()
