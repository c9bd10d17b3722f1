// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// `import sockpair;`: the C++20 named module of this library. It wraps the headers (the
// one source of the code) and exports the public names of namespace `sockpair`, as fmt and
// others do; `sockpair::detail` stays unexported. Macros do not cross a module boundary:
// `BOOST_OUTCOME_TRY` needs `#include <boost/outcome/try.hpp>` beside the import.
//
// Build (clang 16):
//   clang++-16 -std=c++20 -I<repo> --precompile socketpair/socketpair.cppm -o sockpair.pcm
//   clang++-16 -std=c++20 -fmodule-file=sockpair=sockpair.pcm -c main.cpp
// tools/module-test does this in CI (with and without exceptions); the README's "Using it as
// a C++20 module" shows it. g++ 12's -fmodules-ts compiles this unit, but an importer sees
// none of the names (GCC 12 does not export `export using` declarations of global-module
// entities): use clang >= 16.
//
// Every public name of namespace sockpair is listed below; a header that adds one adds it
// here too: tools/module-test fails, naming it, when one is missing.
module;

#include <socketpair/socketpair.hpp>

export module sockpair;

// clang 16 drops from the global module fragment what the module's own declarations do not
// name, and an importer cannot see the rest. The library's templates compare and add
// std::chrono durations and time points on dependent types (detail/deadline.hpp), so an
// importer that instantiates a wait or a timeout would fail with "invalid operands to binary
// expression" on two durations. Re-exporting these operators (std's own, unchanged) keeps
// them visible; a program that includes <chrono> sees the same declarations.
export namespace std::chrono {
using std::chrono::operator+;
using std::chrono::operator-;
using std::chrono::operator<;
using std::chrono::operator<=;
using std::chrono::operator>;
using std::chrono::operator>=;
using std::chrono::operator==;
}  // namespace std::chrono

export namespace sockpair {
// tags.hpp
using sockpair::dgram;
using sockpair::message_socket_type;
using sockpair::pairable;
using sockpair::raw;
using sockpair::rdm;
using sockpair::seqpacket;
using sockpair::socket_domain;
using sockpair::socket_type;
using sockpair::stream;
using sockpair::tipc_domain;
using sockpair::unix_domain;
// result.hpp, error.hpp
using sockpair::errc;
using sockpair::errno_code;
using sockpair::error_category;
using sockpair::last_errno_code;
using sockpair::make_error_code;
using sockpair::result;
using sockpair::success;
// unique_fd.hpp, byte_range.hpp
using sockpair::borrowed_fd;
using sockpair::byte_range;
using sockpair::bytes_of;
using sockpair::receive_buffer;
using sockpair::unique_fd;
using sockpair::writable_byte_range;
using sockpair::writable_bytes_of;
// socket.hpp, socket_pair.hpp
using sockpair::max_io_buffers;
using sockpair::message_info;
using sockpair::pair_options;
using sockpair::readiness;
using sockpair::shutdown_how;
using sockpair::socket;
using sockpair::socket_pair;
// ancillary.hpp
using sockpair::carries_ancillary_data;
using sockpair::credentials;
using sockpair::current_credentials;
using sockpair::fd_receive_options;
using sockpair::fd_send_options;
using sockpair::inplace_fd_vector;
using sockpair::max_fds_per_message;
using sockpair::peer_credentials;
#if defined(__linux__)
using sockpair::peer_pidfd;
using sockpair::set_receive_pidfd;
using sockpair::set_accept_descriptors;
using sockpair::at_out_of_band_mark;
using sockpair::out_of_band_inline;
using sockpair::receive_out_of_band;
using sockpair::send_out_of_band;
using sockpair::set_out_of_band_inline;
#endif
using sockpair::receive_with_fds;
using sockpair::received;
using sockpair::send_with_credentials;
using sockpair::send_with_fds;
using sockpair::set_receive_credentials;
// batch.hpp
using sockpair::max_batch_size;
using sockpair::receive_batch;
using sockpair::send_batch;
// framing.hpp
using sockpair::byte_stream;
using sockpair::default_max_frame_size;
using sockpair::fd_stream;
using sockpair::frame_header_size;
using sockpair::frame_reader;
using sockpair::frame_reader_options;
using sockpair::frame_writer;
using sockpair::frame_writer_options;
using sockpair::max_frame_size_limit;
using sockpair::timed_byte_stream;
// transfer.hpp, deadline.hpp
using sockpair::deadline;
using sockpair::incoming;
using sockpair::incoming_buffers;
using sockpair::outgoing;
using sockpair::outgoing_buffers;
using sockpair::transfer;
// version.hpp (its SOCKPAIR_VERSION_* macros do not cross a module boundary)
using sockpair::version;
using sockpair::version_info;
}  // namespace sockpair
