#!/usr/bin/python3
"""A deliberately odd WebSocket server for the end-to-end tests (plain
asyncio streams, no WebSocket library): it answers the upgrade, then
misbehaves in one chosen way.

  ws_odd_server.py --ready-file=PATH --mode=mute|bad-accept|masked

mute:       a correct 101, then reads and ignores everything (pings go
            unanswered).
bad-accept: a 101 whose Sec-WebSocket-Accept is not the key's.
masked:     a correct 101, then echoes each frame's payload in a masked frame
            (servers must not mask).
Writes {"listen": ["127.0.0.1:PORT"]} to the ready file once up.
"""
import argparse
import asyncio
import base64
import hashlib
import json
import os

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_for(key):
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


async def handle(reader, writer, mode):
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        key = ""
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.strip().lower() == "sec-websocket-key":
                key = value.strip()
        accept = accept_for(key) if mode != "bad-accept" else accept_for(key + "x")
        writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n" % accept).encode())
        await writer.drain()
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if mode == "masked":
                # One small frame per read is enough for the test's payloads.
                length = data[1] & 0x7F
                mask, payload = data[2:6], bytearray(data[6:6 + length])
                writer.write(bytes([0x82, 0x80 | length]) + mask + bytes(payload))
                await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ready-file", required=True)
    parser.add_argument("--mode", choices=["mute", "bad-accept", "masked"], required=True)
    args = parser.parse_args()
    server = await asyncio.start_server(lambda r, w: handle(r, w, args.mode), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    temporary = args.ready_file + ".tmp"
    with open(temporary, "w") as out:
        json.dump({"listen": ["127.0.0.1:%d" % port]}, out)
    os.rename(temporary, args.ready_file)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
