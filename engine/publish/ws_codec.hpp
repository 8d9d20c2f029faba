#pragma once
// Server-side WebSocket framing (RFC 6455), written for the pub-sub server so that one
// serialised trigger frame (unmasked, as servers send) can be shared by every subscriber and
// many frames written with one gather write. Beast is used for HTTP; after the upgrade the
// server speaks frames through this codec. Pure functions and a byte-fed parser: no sockets.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace seismo::publish::ws {

enum class opcode : std::uint8_t {
    continuation = 0,
    text = 1,
    binary = 2,
    close = 8,
    ping = 9,
    pong = 10
};

/// Appends a complete unmasked frame (FIN set) with `payload` to `out`.
void append_frame(std::string& out, opcode op, std::string_view payload);

/// A close frame's payload: the 2-byte code then a reason (truncated to fit 125 bytes).
[[nodiscard]] std::string close_payload(std::uint16_t code, std::string_view reason);

/// `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key`.
[[nodiscard]] std::string accept_key(std::string_view client_key);

/// Parses client frames from a byte stream: masked (required of clients), fragmented messages
/// reassembled, control frames delivered between fragments, message size limited.
class frame_parser {
  public:
    enum class error : std::uint8_t {
        none,
        unmasked,         ///< client frames must be masked (1002)
        reserved_bits,    ///< RSV bits without an extension (1002)
        bad_opcode,       ///< (1002)
        bad_control,      ///< control frame fragmented or longer than 125 bytes (1002)
        bad_continuation, ///< continuation without a message, or a new message mid-message (1002)
        too_big,          ///< message above the limit (1009)
        bad_close,        ///< close payload of 1 byte, or a code RFC 6455 §7.4 forbids (1002)
        bad_utf8,         ///< a text message or close reason that is not UTF-8 (1007)
    };

    struct message {
        opcode op = opcode::text; ///< text, binary, close, ping or pong
        std::string_view payload; ///< valid until the next call to next()
    };

    explicit frame_parser(std::size_t max_message) : max_(max_message) {}

    /// Appends received bytes.
    void feed(const char* data, std::size_t n) { in_.append(data, n); }
    /// The next complete message, if any. Returns false when more bytes are needed or on error.
    bool next(message& out);
    [[nodiscard]] error failure() const noexcept { return err_; }
    /// The close code for the failure (1002, 1007 or 1009).
    [[nodiscard]] std::uint16_t close_code() const noexcept {
        return err_ == error::too_big ? 1009 : err_ == error::bad_utf8 ? 1007 : 1002;
    }

  private:
    bool close_ok(std::string_view payload) noexcept;

    std::string in_;      // unconsumed bytes
    std::size_t pos_ = 0; // read position in in_
    std::string msg_;     // message being reassembled
    std::string control_; // last control payload
    opcode msg_op_ = opcode::text;
    bool in_message_ = false;
    std::size_t max_;
    error err_ = error::none;
};

/// Whether a peer may send `code` in a close frame (RFC 6455 §7.4: 1000–1003, 1007–1014 as
/// registered with IANA, 3000–4999; never 1004–1006, 1015, or anything else).
[[nodiscard]] bool valid_close_code(std::uint16_t code) noexcept;

/// The HTTP status line text for a close-code failure, for messages.
[[nodiscard]] const char* to_string(frame_parser::error e) noexcept;

} // namespace seismo::publish::ws
