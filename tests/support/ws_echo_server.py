#!/usr/bin/python3
"""A WebSocket echo server on python3-websockets (Debian's, asyncio), for the
end-to-end tests: a server written by others, to hold fourtuple's client to it.

  ws_echo_server.py --ready-file=PATH [--path=/echo] [--subprotocol=chat]...
                    [--require-header=NAME:VALUE]... [--origin=URL]
                    [--reject] [--server-ping=SECONDS]

Listens on 127.0.0.1, port 0, and writes {"listen": ["127.0.0.1:PORT"]} to the
ready file (atomically) once up. Echoes every message as it came (text as
text, binary as binary). Refuses the upgrade with 403 when --reject is given,
when the path or Origin differs, or when a required header is missing or
different. With --server-ping, pings every connection that often and closes
those whose pong does not come back in time.
"""
import argparse
import asyncio
import http
import json
import os

import websockets


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ready-file", required=True)
    parser.add_argument("--path")
    parser.add_argument("--origin")
    parser.add_argument("--subprotocol", action="append", default=[])
    parser.add_argument("--require-header", action="append", default=[])
    parser.add_argument("--reject", action="store_true")
    parser.add_argument("--server-ping", type=float)
    return parser.parse_args()


async def main(args):
    required = [item.split(":", 1) for item in args.require_header]

    def process_request(path, headers):
        if args.reject:
            return http.HTTPStatus.FORBIDDEN, [], b"no upgrades here\n"
        if args.path is not None and path != args.path:
            return http.HTTPStatus.NOT_FOUND, [], b"unknown path\n"
        if args.origin is not None and headers.get("Origin") != args.origin:
            return http.HTTPStatus.FORBIDDEN, [], b"origin refused\n"
        for name, value in required:
            if headers.get(name) != value:
                return http.HTTPStatus.FORBIDDEN, [], b"missing header\n"
        return None

    async def echo(websocket, path=None):
        async for message in websocket:
            await websocket.send(message)

    ping = args.server_ping
    server = await websockets.serve(
        echo, "127.0.0.1", 0,
        subprotocols=args.subprotocol or None,
        process_request=process_request,
        compression=None,
        ping_interval=ping, ping_timeout=ping,
        max_queue=4)
    port = server.sockets[0].getsockname()[1]
    temporary = args.ready_file + ".tmp"
    with open(temporary, "w") as out:
        json.dump({"listen": ["127.0.0.1:%d" % port]}, out)
    os.rename(temporary, args.ready_file)
    await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main(parse_args()))
    except KeyboardInterrupt:
        pass
