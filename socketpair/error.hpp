// Copyright the socketpair authors. SPDX-License-Identifier: MIT
//
// Errors this library detects itself, as opposed to errno values the kernel reports.
//
// Each is a `sockpair::errc` value in `sockpair::error_category()` and converts implicitly to
// `std::error_code`, so a caller writes `if (r.error() == sockpair::errc::unexpected_eof)`.
// Where one of them also has a natural generic meaning it compares equal to that
// `std::errc` too (see `equivalent()` below).
#pragma once

#include <socketpair/detail/config.hpp>

#include <string>
#include <system_error>

namespace sockpair {

/// Conditions the library reports that no single errno describes.
enum class errc {
  /// The peer closed the connection before the requested bytes arrived.
  unexpected_eof = 1,
  /// A message was longer than the buffer given to receive it; the excess was discarded.
  message_truncated,
  /// Ancillary data did not fit the control buffer (MSG_CTRUNC); every descriptor that did
  /// arrive has been closed.
  control_truncated,
  /// More descriptors were passed than one message can carry (SCM_MAX_FD, 253 on Linux).
  too_many_descriptors,
  /// A frame's length prefix exceeds the maximum frame size the reader accepts.
  frame_too_large,
  /// A descriptor handed to `adopt()` is not a socket of the expected domain and type.
  wrong_socket_kind,
  /// The peer broke a shared-memory protocol (<socketpair/shm_channel.hpp>): an index, a
  /// length, a size or a seal it controls was out of range, or its handshake was malformed.
  /// The channel is unusable from then on.
  peer_protocol_violation,
  /// The peer attached descriptors to data received by a call that takes none (`receive`,
  /// `receive_exact`, ...): they were closed. Receive them with `receive_with_fds`.
  descriptors_discarded,
  /// The running kernel lacks the feature asked for (an older Linux answered ENOPROTOOPT,
  /// EINVAL or EOPNOTSUPP where a newer one implements it): the function's comment names the
  /// release that added it. Equal to std::errc::not_supported, so a caller can fall back.
  not_supported_by_kernel,
};

namespace detail {

class error_category_impl final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "sockpair"; }

  [[nodiscard]] std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::unexpected_eof:
        return "peer closed the connection before all requested bytes arrived";
      case errc::message_truncated:
        return "message longer than the receive buffer; the excess was discarded";
      case errc::control_truncated:
        return "ancillary data truncated; received descriptors were closed";
      case errc::too_many_descriptors:
        return "too many descriptors for one message";
      case errc::frame_too_large:
        return "frame length exceeds the reader's maximum";
      case errc::wrong_socket_kind:
        return "descriptor is not a socket of the expected domain and type";
      case errc::peer_protocol_violation:
        return "the peer broke the shared-memory protocol (an index, length or seal out of "
               "range)";
      case errc::descriptors_discarded:
        return "the peer sent descriptors where none were expected; they were closed";
      case errc::not_supported_by_kernel:
        return "the running kernel does not support this feature";
    }
    return "unknown sockpair error";
  }

  [[nodiscard]] bool equivalent(int value,
                                const std::error_condition& cond) const noexcept override {
    switch (static_cast<errc>(value)) {
      case errc::message_truncated:
      case errc::frame_too_large:
        return cond == std::errc::message_size;
      case errc::too_many_descriptors:
        return cond == std::errc::argument_list_too_long;
      case errc::wrong_socket_kind:
        return cond == std::errc::not_a_socket || cond == std::errc::wrong_protocol_type;
      case errc::peer_protocol_violation:
        return cond == std::errc::protocol_error;
      case errc::not_supported_by_kernel:
        return cond == std::errc::not_supported;
      default:
        return default_error_condition(value) == cond;
    }
  }
};

}  // namespace detail

/// The category of `sockpair::errc` values. One instance per program.
[[nodiscard]] inline const std::error_category& error_category() noexcept {
  static const detail::error_category_impl category;
  return category;
}

/// Makes `std::error_code ec = sockpair::errc::unexpected_eof;` work.
[[nodiscard]] inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

}  // namespace sockpair

template <>
struct std::is_error_code_enum<sockpair::errc> : std::true_type {};
