#!/usr/bin/env python3
"""Start-up time of each function binary, as Lambda sees a cold start.

For every command: start it with AWS_LAMBDA_RUNTIME_API pointing at a tiny
local stand-in of the Lambda Runtime API, and time from process start until
its first `GET /2018-06-01/runtime/invocation/next` (init done, ready for an
event). The stand-in never hands out an event; the process is then killed.
Node's `require('twilio')` (the work a Twilio Functions/Node handler does
before it can answer) is timed to exit, as a reference. Prints the median of
RUNS starts and the ratio to the minimal lambda_http binary.

usage: startup.py RUNS NAME=COMMAND [NAME=COMMAND ...]
"""
import http.server
import os
import statistics
import subprocess
import sys
import threading
import time

first_request = threading.Event()


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.endswith("/runtime/invocation/next"):
            first_request.set()
            # Hold the request open: the function waits for an event.
            time.sleep(5)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args):
        pass


def start_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def time_lambda(command, env, server):
    first_request.clear()
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not first_request.wait(timeout=30):
        process.kill()
        process.wait()
        raise SystemExit(f"{command[0]} never asked the Runtime API for an event")
    elapsed = time.perf_counter() - started
    process.kill()
    process.wait()
    return elapsed


def time_exit(command, env):
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main():
    runs = int(sys.argv[1])
    server = start_server()
    env = dict(os.environ)
    env["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{server.server_address[1]}"
    env.setdefault("AWS_LAMBDA_FUNCTION_NAME", "bench")
    env.setdefault("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
    env.setdefault("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
    results = []
    for spec in sys.argv[2:]:
        name, command = spec.split("=", 1)
        argv = command.split()
        if name.startswith("node"):
            samples = [time_exit(argv, env) for _ in range(runs)]
        else:
            samples = [time_lambda(argv, env, server) for _ in range(runs)]
        results.append((name, statistics.median(samples)))
    baseline = dict(results).get("lambda_hello")
    print(f"{'start-up (median of ' + str(runs) + ')':<28} {'ms':>8} {'x hello':>8}")
    for name, seconds in results:
        ratio = f"{seconds / baseline:8.2f}" if baseline else "       -"
        print(f"{name:<28} {seconds * 1000:8.1f} {ratio}")


if __name__ == "__main__":
    main()
