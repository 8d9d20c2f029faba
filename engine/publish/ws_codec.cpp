#include "engine/publish/ws_codec.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <simdjson.h>

#include <cstring>

namespace seismo::publish::ws {

void append_frame(std::string& out, opcode op, std::string_view payload) {
    out += static_cast<char>(0x80 | static_cast<std::uint8_t>(op));
    const std::size_t n = payload.size();
    if (n < 126) {
        out += static_cast<char>(n);
    } else if (n <= 0xffff) {
        out += static_cast<char>(126);
        out += static_cast<char>((n >> 8) & 0xff);
        out += static_cast<char>(n & 0xff);
    } else {
        out += static_cast<char>(127);
        for (int s = 56; s >= 0; s -= 8)
            out += static_cast<char>((static_cast<std::uint64_t>(n) >> s) & 0xff);
    }
    out.append(payload);
}

std::string close_payload(std::uint16_t code, std::string_view reason) {
    std::string p;
    p += static_cast<char>(code >> 8);
    p += static_cast<char>(code & 0xff);
    p.append(reason.substr(0, 123));
    return p;
}

std::string accept_key(std::string_view client_key) {
    static constexpr std::string_view k_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    std::string s(client_key);
    s += k_guid;
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(s.data()), s.size(), digest);
    unsigned char b64[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
    const int n = EVP_EncodeBlock(b64, digest, SHA_DIGEST_LENGTH);
    return std::string(reinterpret_cast<const char*>(b64), static_cast<std::size_t>(n));
}

bool valid_close_code(std::uint16_t code) noexcept {
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

bool frame_parser::close_ok(std::string_view payload) noexcept {
    if (payload.empty()) return true; // no code at all is allowed
    if (payload.size() == 1) {
        err_ = error::bad_close;
        return false;
    }
    const auto code = static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                                 static_cast<unsigned char>(payload[1]));
    if (!valid_close_code(code)) {
        err_ = error::bad_close;
        return false;
    }
    if (!simdjson::validate_utf8(payload.data() + 2, payload.size() - 2)) {
        err_ = error::bad_utf8;
        return false;
    }
    return true;
}

bool frame_parser::next(message& out) {
    if (err_ != error::none) return false;
    for (;;) {
        if (pos_ == in_.size() && pos_ != 0) {
            in_.clear();
            pos_ = 0;
        }
        // Compact consumed bytes now and then (the views handed out point into msg_/control_).
        if (pos_ > 65536 && pos_ * 2 > in_.size()) {
            in_.erase(0, pos_);
            pos_ = 0;
        }
        const std::size_t avail = in_.size() - pos_;
        if (avail < 2) return false;
        const auto* p = reinterpret_cast<const unsigned char*>(in_.data() + pos_);
        const bool fin = (p[0] & 0x80) != 0;
        if ((p[0] & 0x70) != 0) {
            err_ = error::reserved_bits;
            return false;
        }
        const auto op = static_cast<opcode>(p[0] & 0x0f);
        const bool masked = (p[1] & 0x80) != 0;
        std::uint64_t len = p[1] & 0x7f;
        std::size_t header = 2;
        if (len == 126) {
            if (avail < 4) return false;
            len = (static_cast<std::uint64_t>(p[2]) << 8) | p[3];
            header = 4;
        } else if (len == 127) {
            if (avail < 10) return false;
            len = 0;
            for (int i = 0; i < 8; ++i)
                len = (len << 8) | p[2 + i];
            header = 10;
        }
        if (!masked) {
            err_ = error::unmasked;
            return false;
        }
        const bool control = (static_cast<std::uint8_t>(op) & 0x8) != 0;
        if (control && (!fin || len > 125)) {
            err_ = error::bad_control;
            return false;
        }
        if (!control && op != opcode::continuation && op != opcode::text && op != opcode::binary) {
            err_ = error::bad_opcode;
            return false;
        }
        if (control && op != opcode::close && op != opcode::ping && op != opcode::pong) {
            err_ = error::bad_opcode;
            return false;
        }
        // Without wrapping: a continuation's 64-bit length near 2^64 must not pass as small.
        const std::uint64_t have = op == opcode::continuation && in_message_ ? msg_.size() : 0;
        if (!control && (len > max_ || have > max_ - len)) {
            err_ = error::too_big;
            return false;
        }
        if (avail < header + 4 + len) return false; // wait for the whole frame
        const unsigned char* mask = p + header;
        const char* payload = in_.data() + pos_ + header + 4;
        std::string& dst = control ? control_ : msg_;
        if (control) dst.clear();
        if (!control) {
            if (op == opcode::continuation) {
                if (!in_message_) {
                    err_ = error::bad_continuation;
                    return false;
                }
            } else {
                if (in_message_) {
                    err_ = error::bad_continuation;
                    return false;
                }
                msg_.clear();
                msg_op_ = op;
                in_message_ = true;
            }
        }
        const std::size_t base = dst.size();
        dst.append(payload, static_cast<std::size_t>(len));
        for (std::size_t i = 0; i < len; ++i)
            dst[base + i] = static_cast<char>(dst[base + i] ^ mask[i % 4]);
        pos_ += header + 4 + static_cast<std::size_t>(len);
        if (op == opcode::close && !close_ok(control_)) return false;
        if (control) {
            out.op = op;
            out.payload = control_;
            return true;
        }
        if (fin) {
            if (msg_op_ == opcode::text && !simdjson::validate_utf8(msg_.data(), msg_.size())) {
                err_ = error::bad_utf8;
                return false;
            }
            in_message_ = false;
            out.op = msg_op_;
            out.payload = msg_;
            return true;
        }
    }
}

const char* to_string(frame_parser::error e) noexcept {
    switch (e) {
    case frame_parser::error::none:
        return "none";
    case frame_parser::error::unmasked:
        return "client frames must be masked";
    case frame_parser::error::reserved_bits:
        return "reserved bits set";
    case frame_parser::error::bad_opcode:
        return "unknown opcode";
    case frame_parser::error::bad_control:
        return "bad control frame";
    case frame_parser::error::bad_continuation:
        return "bad continuation frame";
    case frame_parser::error::too_big:
        return "message too big";
    case frame_parser::error::bad_close:
        return "invalid close code";
    case frame_parser::error::bad_utf8:
        return "text is not valid UTF-8";
    }
    return "?";
}

} // namespace seismo::publish::ws
