"""`LogHandover`: which inference-log writer each endpoint state journals to.

A reload that switches the log off must not close the writer under the requests still running
on the old state (they would answer 500); the writer is closed after the last state that uses
it, off the event loop. Switched back on before that, the same writer carries on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from churnops.config import mask_secrets
from churnops.serving.inference_log import InferenceLogWriter

_log = logging.getLogger(__name__)


class LogHandover:
    """Counts the endpoint states that use each writer; closes a writer no state uses any more.

    Args:
        writer: the log the first state journals to (None: no log).
    """

    def __init__(self, writer: InferenceLogWriter | None):
        self.current = writer  # what a new state gets, what /health and /metrics show
        self._users: dict[int, tuple[InferenceLogWriter, int]] = {}
        self._closing: list[threading.Thread] = []
        self._lock = threading.Lock()

    def next_writer(
        self, enabled: bool, open_writer: Callable[[], InferenceLogWriter | None]
    ) -> InferenceLogWriter | None:
        """The writer for a new state: None when `enabled` is false; else the current one, one
        still draining (switched off and on again), or a new one from `open_writer` (after
        any closing writer has let go of the journal)."""
        if not enabled:
            return None
        with self._lock:
            live = [w for w, n in self._users.values() if n > 0]
            closing = list(self._closing)
        if self.current is not None:
            return self.current
        if live:
            return live[-1]
        for thread in closing:  # the journal is one writer's at a time
            thread.join()
        return open_writer()

    def switch(self, writer: InferenceLogWriter | None) -> None:
        """Make `writer` the current one (before the new state serves)."""
        with self._lock:
            self.current = writer

    def hold(self, writer: InferenceLogWriter | None) -> None:
        """A state that journals to `writer` starts serving."""
        if writer is None:
            return
        with self._lock:
            _, n = self._users.get(id(writer), (writer, 0))
            self._users[id(writer)] = (writer, n + 1)

    def release(self, writer: InferenceLogWriter | None) -> None:
        """A state that journalled to `writer` is closed: the writer too, if no state uses it
        and it is not the current one (in a thread: this runs on the event loop)."""
        if writer is None:
            return
        with self._lock:
            if id(writer) not in self._users:  # `close` closed it already
                return
            _, n = self._users[id(writer)]
            if n > 1 or writer is self.current:
                self._users[id(writer)] = (writer, n - 1)
                return
            del self._users[id(writer)]
            thread = threading.Thread(target=_close, args=(writer,), name="inference-log-close")
            self._closing = [t for t in self._closing if t.is_alive()] + [thread]
            thread.start()

    def close(self) -> None:
        """Close every writer (the current one and any still draining) and wait for them."""
        with self._lock:
            writers = [w for w, _ in self._users.values()]
            if self.current is not None and all(w is not self.current for w in writers):
                writers.append(self.current)
            self._users.clear()
            self.current = None
            closing = list(self._closing)
        for thread in closing:
            thread.join()
        for writer in writers:
            writer.close()


def _close(writer: InferenceLogWriter) -> None:
    try:
        writer.close()
    except RuntimeError as exc:  # rows left in the journal: the next start commits them
        _log.warning("churnops serve: %s", mask_secrets(str(exc)))
