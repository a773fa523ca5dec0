"""User errors and the exit codes of every command line.

A user error is something the user gave that cannot be used: a missing or
unreadable file, a bad option or config value. It is a :class:`UserError`
(a ``ValueError``) whose message is one line naming the file or option:
:class:`bssmask.recipe_config.ConfigError`, :class:`bssmask.checkpoint.CheckpointError`,
:class:`bssmask.checkpoint.PretrainedError`, :class:`bssmask.audio.AudioError`,
:class:`bssmask.data.librimix.DataError` and
:class:`bssmask.data.corpus_options.CorpusError` are its kinds. A
:class:`RunError` is a run that started and failed (a non-finite training
loss, a failed job of the report).

Every entry point (``bssmask``, the recipes' scripts) runs through
:func:`run_cli` (or :func:`entry_point`): a ``ValueError`` or ``OSError``
prints ``<prog>: error: <message>`` on stderr and exits with
:data:`USER_ERROR` (2), a :class:`RunError` the same way with
:data:`RUN_FAILED` (1); anything else is a bug and keeps its traceback.

Example:
    >>> @entry_point("train.py")
    ... def main(argv=None):
    ...     raise UserError("conf.yml: no such file")
    >>> main()   # prints "train.py: error: conf.yml: no such file" on stderr
    2
"""

from __future__ import annotations

import functools
import sys

__all__ = ["USER_ERROR", "RUN_FAILED", "UserError", "RunError", "fail", "run_cli", "entry_point"]

#: Exit code of a user error (nothing was written), as argparse's.
USER_ERROR = 2
#: Exit code of a run that started and failed.
RUN_FAILED = 1


class UserError(ValueError):
    """Something the user gave cannot be used; the one-line message names the file or option."""


class RunError(RuntimeError):
    """A run that started and failed; the one-line message says where and what to do."""


def fail(prog: str, message, code: int = USER_ERROR) -> int:
    """Print ``<prog>: error: <message>`` on stderr; return ``code``."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    return code


def run_cli(prog: str, main, *args, **kwargs) -> int:
    """``main(*args, **kwargs)``'s exit code, errors reported by :func:`fail` as ``prog``.

    Returns:
        What ``main`` returns; :data:`USER_ERROR` for a ``ValueError`` (every
        :class:`UserError`) or ``OSError``; :data:`RUN_FAILED` for a :class:`RunError`.
    """
    try:
        return main(*args, **kwargs)
    except (ValueError, OSError) as err:
        return fail(prog, err)
    except RunError as err:
        return fail(prog, err, RUN_FAILED)


def entry_point(prog: str):
    """Decorator: the script's ``main`` run through :func:`run_cli` as ``prog``."""
    def decorate(main):
        @functools.wraps(main)
        def wrapped(*args, **kwargs):
            return run_cli(prog, main, *args, **kwargs)
        return wrapped
    return decorate
