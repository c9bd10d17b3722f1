"""The far end of python_interop_test.cpp, written with CPython's own descriptor passing
(socket.send_fds / socket.recv_fds), so that the C++ library is checked against an
implementation nobody on this project wrote.

Usage: python_peer.py FD MODE
  FD    the inherited descriptor of this process's end of the pair
  MODE  send:        send two descriptors: the read end of a fresh pipe (then write a line
                     into the pipe and close it) and an unlinked temporary file holding a
                     line; the message names both lines
        receive:     receive one descriptor (a pipe's write end) and write into it the
                     message that came with it, prefixed with "python got: "
        credentials: send one message with SCM_CREDENTIALS holding this process's ids
Exits 0 on success, non-zero with a message on stderr otherwise.
"""

import os
import socket
import struct
import sys
import tempfile


def send(sock):
    read_end, write_end = os.pipe()
    with tempfile.TemporaryFile() as file:
        file.write(b"file from python\n")
        file.flush()
        message = b"pipe line|file from python\n"
        socket.send_fds(sock, [message], [read_end, file.fileno()])
    os.close(read_end)
    os.write(write_end, b"pipe line from python %d\n" % os.getpid())
    os.close(write_end)


def receive(sock):
    message, fds, flags, _ = socket.recv_fds(sock, 1024, 4)
    if flags & (socket.MSG_CTRUNC | socket.MSG_TRUNC):
        sys.exit("python: truncated (flags %#x)" % flags)
    if len(fds) != 1:
        sys.exit("python: expected 1 descriptor, got %d" % len(fds))
    os.write(fds[0], b"python got: " + message)
    os.close(fds[0])


def credentials(sock):
    ids = struct.pack("3i", os.getpid(), os.getuid(), os.getgid())
    sock.sendmsg([b"%d %d %d" % (os.getpid(), os.getuid(), os.getgid())],
                 [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS, ids)])


def main():
    fd, mode = int(sys.argv[1]), sys.argv[2]
    sock = socket.socket(fileno=fd)  # family and type come from the descriptor
    if sock.family != socket.AF_UNIX:
        sys.exit("python: descriptor %d is not an AF_UNIX socket" % fd)
    {"send": send, "receive": receive, "credentials": credentials}[mode](sock)
    sock.close()


if __name__ == "__main__":
    main()
