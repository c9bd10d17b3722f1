// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// The Boost.Asio headers the benchmarks use (header-only, from Debian's libboost1.81-dev).
#pragma once

// Under -fsanitize=thread, g++ 12 warns (-Wtsan) that Asio's io_context executor uses
// std::atomic_thread_fence, which ThreadSanitizer does not model. The benchmarks only make
// synchronous calls and never run that executor; the warning would only break -Werror.
#if defined(__SANITIZE_THREAD__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wtsan"
#endif

#include <boost/asio/buffer.hpp>
#include <boost/asio/generic/seq_packet_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/datagram_protocol.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/asio/write.hpp>
