#!/usr/bin/env python3
"""A server that speaks first, for end-to-end tests: on each connection it
sends BANNER, then echoes every byte it receives (as the seed experiment's
server and an SMTP or FTP greeting do: the client waits for the banner).

    banner_server.py READY_FILE BANNER

Listens on 127.0.0.1, port 0; writes {"port": N} to READY_FILE (atomically)
once listening. BANNER takes \\r and \\n escapes. Runs until SIGTERM.
"""
import asyncio
import json
import os
import signal
import sys


async def main(ready_file, banner):
    async def serve(reader, writer):
        try:
            writer.write(banner)
            await writer.drain()
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, backlog=4096)
    port = server.sockets[0].getsockname()[1]
    temporary = ready_file + ".tmp"
    with open(temporary, "w") as out:
        json.dump({"port": port}, out)
    os.rename(temporary, ready_file)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: banner_server.py READY_FILE BANNER")
    text = sys.argv[2].replace("\\r", "\r").replace("\\n", "\n")
    asyncio.run(main(sys.argv[1], text.encode()))
