"""Background asyncio tasks owned by a component: the one way node and hub stop them."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


async def cancel_task(task: asyncio.Task[Any] | None) -> None:
    """Cancel a component's background task and wait until it has finished; None is a no-op."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
