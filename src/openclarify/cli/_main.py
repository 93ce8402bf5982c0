"""The ``openclarify`` command group and the mapping of errors to exit codes."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import traceback
import warnings

import click

from ..errors import (
    ConfigError,
    DataError,
    MissingDependencyError,
    ModelError,
    OpenClarifyError,
    OutputError,
    ReportError,
)
from ._analyze import analyze
from ._config import config_command
from ._monitor import monitor
from ._report import report
from ._serve import proxy, serve
from ._terminal import echo, safe
from ._train import prepare_dbpedia_command, train
from ._workflow import workflow

__all__ = ["EXIT_CONFIG", "EXIT_DATA", "EXIT_MODEL", "EXIT_OUTPUT", "EXIT_UNEXPECTED", "main"]

EXIT_UNEXPECTED = 1
EXIT_CONFIG = 2
EXIT_DATA = 3
EXIT_MODEL = 4
EXIT_OUTPUT = 5

_EXIT_CODES: tuple[tuple[type[BaseException], int, str], ...] = (
    (ConfigError, EXIT_CONFIG, "config error"),
    (DataError, EXIT_DATA, "data error"),
    (ModelError, EXIT_MODEL, "model error"),
    (OutputError, EXIT_OUTPUT, "output error"),
    (ReportError, EXIT_DATA, "report error"),
    (MissingDependencyError, EXIT_UNEXPECTED, "missing dependency"),
    (OpenClarifyError, EXIT_UNEXPECTED, "error"),
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="openclarify")
def cli() -> None:
    """Run SageMaker Clarify analysis configs on your own machine."""


cli.add_command(analyze)
cli.add_command(train)
cli.add_command(prepare_dbpedia_command)
cli.add_command(serve)
cli.add_command(proxy)
cli.add_command(report)
cli.add_command(config_command)
cli.add_command(monitor)
cli.add_command(workflow)


def _show_warning(message: Warning | str, category: type[Warning], *_: object, **__: object) -> None:
    echo(f"openclarify: warning: {message}")


class _SafeFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return safe(super().format(record))


def _setup_logging() -> None:
    warnings.showwarning = _show_warning  # one line per warning, no source excerpt
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_SafeFormatter("openclarify: %(message)s"))
    log = logging.getLogger("openclarify")
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False


class Terminated(KeyboardInterrupt):
    """SIGTERM (``docker stop``, Kubernetes) or SIGHUP: stop as Ctrl-C does, leaving no partial output."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _terminate(signum: int, frame: object) -> None:
    # once: a second signal while the job cleans up must not cut the clean-up short
    signal.signal(signum, signal.SIG_IGN)
    raise Terminated(signum)


def _handle_termination() -> None:
    """Turn SIGTERM and SIGHUP into :class:`Terminated` in the main thread (servers install their own)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for name in ("SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None and signal.getsignal(signum) in (signal.SIG_DFL, None):
            signal.signal(signum, _terminate)


def _interrupted(exc: KeyboardInterrupt) -> int:
    if isinstance(exc, Terminated):
        echo(f"openclarify: stopped by {exc}; no output was written.")
        return 128 + exc.signum
    echo("openclarify: interrupted; no output was written.")
    return 130


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``openclarify`` command; returns the exit code.

    User errors print one line (``openclarify: config error: ...``) and exit with 2 (config),
    3 (data), 4 (model) or 5 (output folder); ``--debug`` adds the traceback.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    _setup_logging()
    _handle_termination()
    try:
        code = cli.main(args=args, prog_name="openclarify", standalone_mode=False)
        if isinstance(code, int) and not isinstance(code, bool):  # a command's click.exceptions.Exit(code)
            return code
    except click.exceptions.Abort as exc:
        cause = exc.__cause__ or exc.__context__  # click wraps Ctrl-C (and our SIGTERM) in Abort
        return _interrupted(cause if isinstance(cause, KeyboardInterrupt) else KeyboardInterrupt())
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except OpenClarifyError as exc:
        for cls, code, label in _EXIT_CODES:
            if isinstance(exc, cls):
                _report(label, exc, debug)
                return code
    except KeyboardInterrupt as exc:
        return _interrupted(exc)
    except Exception as exc:  # noqa: BLE001 - last resort: one line, traceback on --debug
        _report(f"unexpected {type(exc).__name__}", exc, debug)
        if not debug:
            echo("openclarify: run again with --debug for the traceback, and please report it.")
        return EXIT_UNEXPECTED
    return 0


def _report(label: str, exc: BaseException, debug: bool) -> None:
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    echo(f"openclarify: {label}: {exc}")
