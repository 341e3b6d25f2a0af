"""Forward a TCP port on 127.0.0.1 to a unix socket (the isolated timestamp authority).

timestamp-server v2.1.3 always binds its metrics on :2112, so two stacks on one machine
collide. Where `unshare --net` works, the dev-stack runs the TSA in a network namespace of
its own, serving on a unix socket in the state directory, and this forwarder gives it its
usual HTTP URL. Run as `python -m supplychain.devstack.proxy --listen PORT --unix PATH`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

CHUNK = 64 * 1024


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def serve(host: str, port: int, unix_path: str) -> None:
    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_unix_connection(unix_path)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(_pipe(client_r, up_w), _pipe(up_r, client_w))

    server = await asyncio.start_server(handle, host, port, reuse_address=True)
    print(f"forwarding {host}:{port} -> unix:{unix_path}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="sccheck-dev-proxy")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--unix", required=True)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.host, args.listen, args.unix))


if __name__ == "__main__":
    main()
