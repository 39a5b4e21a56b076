"""Run a command with a pseudo-terminal as its standard input and output, as a person at a terminal
would, and collect everything it wrote."""
import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
import time


def run_in_terminal(command: list, env: dict, timeout: float, columns: int = 120) -> tuple[int, str]:
    """The command's exit code and its output (standard output and error, as the terminal got them)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', 40, columns, 0, 0))
    env = {k: v for k, v in env.items() if k not in ('COLUMNS', 'LINES')}
    process = subprocess.Popen(command, env=env, stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError(f'{command} still running after {timeout} s')
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                continue
            try:
                data = os.read(master, 1 << 16)
            except OSError:            # EIO: every holder of the terminal's other end has closed it
                break
            if not data:
                break
            chunks.append(data)
        return process.wait(timeout=max(1.0, deadline - time.monotonic())), b''.join(chunks).decode(errors='replace')
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
