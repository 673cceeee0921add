"""uvicorn's server, with one change to how it stops: the embedded demo stops first, while the port
still accepts.

``tiermix up --demo`` runs its traffic as a child process that sends to this server, and on SIGTERM
the child's SDK flushes what it recorded (``demo/embedded.py``). uvicorn closes its listening socket
before the app's lifespan shuts down, so stopping the demo there made that flush meet "connection
refused", wait out the SDK's 10 s export timeout and drop the demo's last calls.
"""

from __future__ import annotations

import asyncio
import socket

import uvicorn


class CollectorServer(uvicorn.Server):
    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        demo = getattr(getattr(self.config.app, "state", None), "demo", None)
        if demo is not None:  # stopping it again in the lifespan is a no-op
            await asyncio.to_thread(demo.stop)
        await super().shutdown(sockets)
