"""Run the CLI with a tripwire on the network: any DNS lookup or connection attempt ends the
process with exit 99 and names the address. Used inside `unshare -n` (a network namespace with
no interfaces but a down loopback), so an attempt both fails and is seen."""

from __future__ import annotations

import os
import sys


def _tripwire(event: str, args: tuple[object, ...]) -> None:
    if event in ("socket.connect", "socket.getaddrinfo", "socket.sendto", "socket.gethostbyname"):
        os.write(2, f"NETWORK ATTEMPT: {event} {args[1:] if event == 'socket.connect' else args}\n".encode())
        os._exit(99)


if __name__ == "__main__":
    sys.addaudithook(_tripwire)
    from supplychain.cli import main

    sys.argv = ["sccheck", *sys.argv[1:]]
    main()
