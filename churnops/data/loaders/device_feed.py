"""Overlap batch preparation with training: a producer thread, pinned staging, async copies.

`prefetch_to_device` runs a batch iterator on a background thread, `depth` batches ahead. On CUDA
each batch is staged into a ring of page-locked (pinned) host buffers and copied to the GPU on a
side stream, so reading, decoding, the host-to-device copy and the training step all overlap;
on CPU the thread alone overlaps reading and decoding with the step.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator

import torch

from churnops.data.loaders.base import Batch

_DONE = object()


class _Failed:
    """An exception raised on the producer thread, carried to the consumer."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetch_to_device(batches: Iterable[Batch], device: str, depth: int = 2) -> Iterator[Batch]:
    """Yield `batches` on `device`, prepared up to `depth` batches ahead on a producer thread.

    Args:
        batches: CPU `(x, y)` tensors (any iterable; it is consumed on the producer thread).
        device: `cpu`, `cuda` or `cuda:N`; on CUDA the copies are pinned and asynchronous.
        depth: batches ready ahead of the consumer (at least 1).

    Each yielded CUDA tensor is ready to use on the consumer's current stream (the copy's event
    is waited on there, on the GPU, not on the host). Stopping early (a `break`) stops the
    producer; an error on the producer is raised on the consumer.
    """
    if not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth={depth!r}: expected an integer >= 1")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r}: CUDA is not available on this machine")
    if dev.type == "cuda" and dev.index is None:
        # The producer thread must select the consumer's GPU: `set_device` needs an index.
        dev = torch.device("cuda", torch.cuda.current_device())
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    stage = _PinnedStage(dev, slots=depth + 2) if dev.type == "cuda" else None

    def produce() -> None:
        try:
            if stage is not None:
                torch.cuda.set_device(dev)
            for x, y in batches:
                item = stage.copy(x, y) if stage is not None else (x, y, None)
                while not stop.is_set():
                    try:
                        ready.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ready.put(_DONE)
        except BaseException as err:  # carried to the consumer, raised there
            ready.put(_Failed(err))

    thread = threading.Thread(target=produce, name="churnops-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = ready.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            x, y, event = item
            if event is not None:
                stream = torch.cuda.current_stream(dev)
                stream.wait_event(event)
                # The copy stream allocated them: keep the memory until this stream is done.
                x.record_stream(stream)
                y.record_stream(stream)
            yield x, y
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                ready.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)


class _PinnedStage:
    """A ring of pinned host buffers and a copy stream: host batch -> GPU, asynchronously.

    A slot is written again only after its previous copy has finished (its event), so a copy
    never reads a buffer that is being refilled.
    """

    def __init__(self, device: torch.device, slots: int) -> None:
        self.device = device
        self.stream = torch.cuda.Stream(device)
        self.slots: list[tuple[torch.Tensor, torch.Tensor, torch.cuda.Event] | None] = [
            None
        ] * slots
        self.next = 0

    def copy(
        self, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.cuda.Event]:
        i = self.next
        self.next = (i + 1) % len(self.slots)
        slot = self.slots[i]
        if slot is None or slot[0].shape[0] < len(x) or slot[0].shape[1:] != x.shape[1:]:
            px = torch.empty((len(x), *x.shape[1:]), dtype=x.dtype, pin_memory=True)
            py = torch.empty((len(y), *y.shape[1:]), dtype=y.dtype, pin_memory=True)
            if slot is not None:
                slot[2].synchronize()
            event = torch.cuda.Event()
        else:
            px, py, event = slot
            event.synchronize()  # its last copy is done: the buffer may be refilled
        n = len(x)
        px[:n].copy_(x)
        py[:n].copy_(y)
        with torch.cuda.stream(self.stream):
            gx = px[:n].to(self.device, non_blocking=True)
            gy = py[:n].to(self.device, non_blocking=True)
            event.record(self.stream)
        self.slots[i] = (px, py, event)
        return gx, gy, event
