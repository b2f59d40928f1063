#!/usr/bin/env python3
"""Independent websocket peer for PolyTape's interoperability tests (Tests/WebSocketTests).

Uses the `websockets` package from PyPI (`pip install websockets`), loopback only, and every
mode is bounded in time (--max-seconds, default 20), so a broken peer can never hang a test.

  server: listens on 127.0.0.1 (port 0 = ephemeral), prints "PORT <n>" on stdout, echoes every
          text/binary message on --path, answers pings (the library does), and exits after the
          first client closes or --max-seconds pass. Exit 0 when the client closed cleanly.
  client: connects to --url, sends a text message, a binary message, a 70000-byte message, a
          fragmented text message and a ping, checks each echo byte for byte, then closes with
          1000. Prints "OK" and exits 0 on success; prints "FAIL <reason>" and exits 1 otherwise.
  market-client: a Polymarket market-channel client for `replay serve` (Tests/ReplayTests):
          connects to --url, subscribes to --assets (comma-separated) with initial_dump, sends
          one text PING and expects one PONG, receives --count data messages, prints each as
          "MSG <JSON string of the message>", then closes with 1000 and prints "OK".
"""
import json
import argparse
import asyncio
import sys

try:
    from websockets.asyncio.client import connect
    from websockets.asyncio.server import serve
except ImportError:  # websockets < 13
    print("FAIL the websockets package (>= 13) is required: pip install websockets", flush=True)
    sys.exit(2)


async def run_server(port: int, path: str, max_seconds: float) -> int:
    done = asyncio.get_running_loop().create_future()

    async def handler(websocket):
        request_path = websocket.request.path.split("?", 1)[0]
        if request_path != path:
            await websocket.close(code=1008, reason=f"unexpected path {request_path}")
            return
        try:
            async for message in websocket:
                await websocket.send(message)
        finally:
            code = websocket.close_code
            if not done.done():
                done.set_result(code)

    async with serve(handler, "127.0.0.1", port, compression=None, max_size=2**24) as server:
        bound = server.sockets[0].getsockname()[1]
        print(f"PORT {bound}", flush=True)
        try:
            code = await asyncio.wait_for(done, timeout=max_seconds)
        except asyncio.TimeoutError:
            print("FAIL timed out waiting for a client", flush=True)
            return 1
    print(f"CLOSED {code}", flush=True)
    return 0 if code == 1000 else 1


async def run_client(url: str, max_seconds: float) -> int:
    async def exchange():
        async with connect(url, compression=None, max_size=2**24, open_timeout=max_seconds) as websocket:
            cases = [
                "hello from python",
                b"\x00\x01\x02\xff binary",
                "x" * 70000,
                '{"event_type":"book","price":"0.48","note":"€ ünïcödé"}',
            ]
            for case in cases:
                await websocket.send(case)
                echo = await websocket.recv()
                if echo != case or type(echo) is not type(case):
                    return f"echo mismatch for a {type(case).__name__} of {len(case)}"
            # A fragmented text message: the server must reassemble it.
            await websocket.send(["frag", "mented ", "message"])
            echo = await websocket.recv()
            if echo != "fragmented message":
                return f"fragmented echo was {echo!r}"
            pong = await websocket.ping(b"py-ping")
            await asyncio.wait_for(pong, timeout=max_seconds)
            await websocket.close(code=1000, reason="python done")
            if websocket.close_code != 1000:
                return f"close code {websocket.close_code}"
        return None

    try:
        failure = await asyncio.wait_for(exchange(), timeout=max_seconds)
    except Exception as error:  # any failure is reported, not raised
        failure = f"{type(error).__name__}: {error}"
    if failure:
        print(f"FAIL {failure}", flush=True)
        return 1
    print("OK", flush=True)
    return 0


async def run_market_client(url: str, assets: list, count: int, max_seconds: float) -> int:
    async def session():
        async with connect(url, compression=None, max_size=2**24, open_timeout=max_seconds) as websocket:
            await websocket.send(json.dumps(
                {"assets_ids": assets, "type": "market", "custom_feature_enabled": True, "initial_dump": True}))
            await websocket.send("PING")
            received = 0
            pongs = 0
            while received < count:
                message = await websocket.recv()
                if message == "PONG":
                    pongs += 1
                    continue
                print("MSG " + json.dumps(message), flush=True)
                received += 1
            if pongs == 0:
                message = await websocket.recv()
                if message != "PONG":
                    return f"expected PONG, got {message[:80]!r}"
            await websocket.close(code=1000, reason="python done")
        return None

    try:
        failure = await asyncio.wait_for(session(), timeout=max_seconds)
    except Exception as error:
        failure = f"{type(error).__name__}: {error}"
    if failure:
        print(f"FAIL {failure}", flush=True)
        return 1
    print("OK", flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["server", "client", "market-client"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--path", default="/echo")
    parser.add_argument("--url")
    parser.add_argument("--max-seconds", type=float, default=20.0)
    parser.add_argument("--assets", default="")
    parser.add_argument("--count", type=int, default=1)
    args = parser.parse_args()
    if args.mode == "server":
        return asyncio.run(run_server(args.port, args.path, args.max_seconds))
    if not args.url or not (args.url.startswith("ws://127.0.0.1") or args.url.startswith("ws://[::1]")):
        print("FAIL --url must be a ws:// URL on loopback", flush=True)
        return 2
    if args.mode == "market-client":
        assets = [a for a in args.assets.split(",") if a]
        return asyncio.run(run_market_client(args.url, assets, args.count, args.max_seconds))
    return asyncio.run(run_client(args.url, args.max_seconds))


if __name__ == "__main__":
    sys.exit(main())
