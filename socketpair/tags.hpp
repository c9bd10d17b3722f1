// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// Socket type and domain tags, and the concepts that say which pairs socketpair(2) makes.
//
//   sockpair::socket_pair<sockpair::seqpacket>                        // AF_UNIX
//   sockpair::socket_pair<sockpair::rdm, sockpair::tipc_domain>       // AF_TIPC, Linux >= 4.12
//   sockpair::socket_pair<sockpair::raw>                              // does not compile
#pragma once

#include <socketpair/detail/config.hpp>

#include <sys/socket.h>

#include <concepts>

namespace sockpair {

// ---- Socket types -------------------------------------------------------------------------

/// SOCK_STREAM: a reliable, ordered byte stream; no message boundaries.
struct stream {
  static constexpr int value = SOCK_STREAM;
  static constexpr bool message_oriented = false;
};

/// SOCK_DGRAM: whole messages; on AF_UNIX reliable and ordered.
struct dgram {
  static constexpr int value = SOCK_DGRAM;
  static constexpr bool message_oriented = true;
};

/// SOCK_SEQPACKET: whole messages, reliable and ordered, connection-oriented (EOF exists).
struct seqpacket {
  static constexpr int value = SOCK_SEQPACKET;
  static constexpr bool message_oriented = true;
};

/// SOCK_RDM: reliably delivered messages, TIPC only.
struct rdm {
  static constexpr int value = SOCK_RDM;
  static constexpr bool message_oriented = true;
};

/// SOCK_RAW: never pairable. Present so that asking for it fails with a clear message.
struct raw {
  static constexpr int value = SOCK_RAW;
  static constexpr bool message_oriented = true;
};

/// One of the socket type tags above.
template <class T>
concept socket_type = std::same_as<T, stream> || std::same_as<T, dgram> ||
    std::same_as<T, seqpacket> || std::same_as<T, rdm> || std::same_as<T, raw>;

/// A socket type that keeps message boundaries (everything but `stream`).
template <class T>
concept message_socket_type = socket_type<T> && T::message_oriented;

// ---- Domains ------------------------------------------------------------------------------

/// AF_UNIX (AF_LOCAL): the default domain, on every POSIX system.
struct unix_domain {
  static constexpr int value = AF_UNIX;

  /// socketpair(2) on AF_UNIX makes stream, dgram and seqpacket pairs.
  template <socket_type T>
  static constexpr bool pairs_with =
      std::same_as<T, stream> || std::same_as<T, dgram> || std::same_as<T, seqpacket>;
};

/// AF_TIPC: Linux >= 4.12 makes stream, dgram, seqpacket and rdm pairs. Needs the kernel's
/// tipc module at run time; without it `create()` fails with EAFNOSUPPORT.
struct tipc_domain {
#if defined(AF_TIPC)
  static constexpr int value = AF_TIPC;
  template <socket_type T>
  static constexpr bool pairs_with = std::same_as<T, stream> || std::same_as<T, dgram> ||
                                     std::same_as<T, seqpacket> || std::same_as<T, rdm>;
#else
  static constexpr int value = -1;
  template <socket_type T>
  static constexpr bool pairs_with = false;
#endif
};

/// One of the domain tags above.
template <class D>
concept socket_domain = std::same_as<D, unix_domain> || std::same_as<D, tipc_domain>;

/// True when socketpair(2) can make a pair of `Type` sockets in `Domain`.
template <class Domain, class Type>
concept pairable = socket_domain<Domain> && socket_type<Type> && Domain::template pairs_with<Type>;

namespace detail {

// Instantiated by socket and socket_pair: turns an unsupported combination into a message
// that names the problem and the fix, instead of a bare constraint failure.
template <socket_domain Domain, socket_type Type>
consteval bool require_pairable() {
  static_assert(!std::same_as<Type, raw>,
                "sockpair: raw sockets cannot be paired: socketpair(2) has no SOCK_RAW pairs "
                "(Linux silently turns an AF_UNIX raw pair into SOCK_DGRAM). "
                "Use sockpair::dgram instead.");
  static_assert(!(std::same_as<Domain, unix_domain> && std::same_as<Type, rdm>),
                "sockpair: AF_UNIX has no SOCK_RDM (socketpair(2) fails with "
                "ESOCKTNOSUPPORT). rdm pairs exist only in sockpair::tipc_domain.");
  static_assert(pairable<Domain, Type>,
                "sockpair: socketpair(2) cannot pair this (domain, type): AF_UNIX pairs "
                "stream, dgram and seqpacket; AF_TIPC (Linux >= 4.12) pairs stream, dgram, "
                "seqpacket and rdm.");
  return true;
}

}  // namespace detail
}  // namespace sockpair
