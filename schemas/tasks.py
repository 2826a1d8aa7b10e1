"""Background asyncio tasks owned by a component: the one way node and hub stop them."""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from typing import Any, ClassVar


async def cancel_task(task: asyncio.Task[Any] | None) -> None:
    """Cancel a component's background task and wait until it has finished; None is a no-op."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


class BackgroundTask(ABC):
    """A component whose work is one background task: start() runs `run()`, stop() ends it.

    Both are idempotent. A subclass names its task (`task_name`), implements `run()`, and
    extends start()/stop() (calling super) only for work of its own, e.g. closing a producer.
    """

    task_name: ClassVar[str] = "background"

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """Whether the task was started and not stopped."""
        return self._task is not None

    async def start(self) -> None:
        """Start the task; a no-op if it runs."""
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name=self.task_name)

    async def stop(self) -> None:
        """Cancel the task and wait for it; safe to call twice."""
        task, self._task = self._task, None
        await cancel_task(task)

    @abstractmethod
    async def run(self) -> None:
        """The task's body; runs until cancelled."""
