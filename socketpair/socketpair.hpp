// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// The whole library in one include. Each header below holds one idea:
//
//   result.hpp       sockpair::result<T>: a value or a std::error_code
//   error.hpp        sockpair::errc: errors the library detects itself
//   unique_fd.hpp    sockpair::unique_fd: owns one descriptor
//   borrowed_fd.hpp  sockpair::borrowed_fd: uses one descriptor that another owns
//   tags.hpp         stream, dgram, seqpacket, rdm, raw; unix_domain, tipc_domain; pairable
//   byte_range.hpp   byte_range, writable_byte_range: containers the I/O calls take in place
//   deadline.hpp     sockpair::deadline: when a call that may wait gives up
//   transfer.hpp     outgoing, incoming: bytes bound to how much of them has moved
//   socket.hpp       sockpair::socket<Type, Domain>: one end and its I/O
//   socket_pair.hpp  sockpair::socket_pair<Type, Domain>: create a connected pair
//   framing.hpp      frame_writer, frame_reader: length-prefixed frames over a stream
//   batch.hpp        send_batch, receive_batch: many messages per system call
//   ancillary.hpp    send_with_fds, receive_with_fds: passing descriptors; credentials
//   identity.hpp     peer_pidfd, set_receive_pidfd: processes as pidfds (Linux >= 6.5)
//   out_of_band.hpp  send_out_of_band, receive_out_of_band: the urgent byte (Linux >= 5.15)
//   version.hpp      sockpair::version, SOCKPAIR_VERSION_*: the version of these headers
#pragma once

#include <socketpair/ancillary.hpp>
#include <socketpair/batch.hpp>
#include <socketpair/borrowed_fd.hpp>
#include <socketpair/byte_range.hpp>
#include <socketpair/deadline.hpp>
#include <socketpair/error.hpp>
#include <socketpair/framing.hpp>
#include <socketpair/identity.hpp>
#include <socketpair/out_of_band.hpp>
#include <socketpair/result.hpp>
#include <socketpair/socket.hpp>
#include <socketpair/socket_pair.hpp>
#include <socketpair/tags.hpp>
#include <socketpair/transfer.hpp>
#include <socketpair/unique_fd.hpp>
#include <socketpair/version.hpp>
