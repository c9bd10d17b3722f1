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

namespace detail {

// The reasons a (domain, type) cannot be paired, one per line: a compiler that refuses a pair
// prints the line of the condition that failed, comment included, so each comment is the
// error message.
template <class Domain, class Type>
inline constexpr bool not_raw = !std::same_as<Type, raw>;
template <class Domain, class Type>
inline constexpr bool not_unix_rdm =
    !(std::same_as<Domain, unix_domain> && std::same_as<Type, rdm>);
template <class Domain, class Type>
inline constexpr bool domain_pairs_type = Domain::template pairs_with<Type>;

}  // namespace detail

/// True when socketpair(2) can make a pair of `Type` sockets in `Domain`. `socket` and
/// `socket_pair` are constrained by it, so generic code can ask (`requires {
/// socket_pair<T>::create(); }` is false for what cannot be paired), and a direct use is
/// refused with the reason: a compiler prints the line of the condition that failed, and the
/// comment on that line is the message (hence no clang-format here).
// clang-format off
template <class Domain, class Type>
concept pairable = socket_domain<Domain> && socket_type<Type> &&
    detail::not_raw<Domain, Type> &&  // sockpair: raw sockets cannot be paired: socketpair(2) has no SOCK_RAW pairs (Linux silently makes SOCK_DGRAM). Use sockpair::dgram
    detail::not_unix_rdm<Domain, Type> &&  // sockpair: AF_UNIX has no SOCK_RDM (ESOCKTNOSUPPORT): rdm pairs exist only in sockpair::tipc_domain
    detail::domain_pairs_type<Domain, Type>;  // sockpair: socketpair(2) cannot pair this: AF_UNIX pairs stream, dgram, seqpacket; AF_TIPC (Linux >= 4.12) also rdm
// clang-format on

}  // namespace sockpair
