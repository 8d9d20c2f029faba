#include "engine/publish/ws_codec.hpp"

#include <gtest/gtest.h>

#include <string>

namespace seismo::publish::ws {
namespace {

/// A client frame: masked with `mask`, FIN as given.
std::string client_frame(opcode op, std::string_view payload, bool fin = true,
                         std::uint8_t extra_bits = 0) {
    std::string f;
    f += static_cast<char>((fin ? 0x80 : 0) | extra_bits | static_cast<std::uint8_t>(op));
    const std::size_t n = payload.size();
    if (n < 126) {
        f += static_cast<char>(0x80 | n);
    } else if (n <= 0xffff) {
        f += static_cast<char>(0x80 | 126);
        f += static_cast<char>(n >> 8);
        f += static_cast<char>(n & 0xff);
    } else {
        f += static_cast<char>(0x80 | 127);
        for (int s = 56; s >= 0; s -= 8)
            f += static_cast<char>((static_cast<std::uint64_t>(n) >> s) & 0xff);
    }
    const char mask[4] = {0x11, 0x22, 0x33, 0x44};
    f.append(mask, 4);
    for (std::size_t i = 0; i < n; ++i)
        f += static_cast<char>(payload[i] ^ mask[i % 4]);
    return f;
}

TEST(ws_codec, server_frames_use_the_shortest_length_form) {
    for (std::size_t n : {0u, 125u, 126u, 65535u, 65536u}) {
        std::string f;
        append_frame(f, opcode::text, std::string(n, 'x'));
        const std::size_t header = n < 126 ? 2 : n <= 0xffff ? 4 : 10;
        ASSERT_EQ(f.size(), header + n) << n;
        EXPECT_EQ(static_cast<unsigned char>(f[0]), 0x81);
        EXPECT_EQ(static_cast<unsigned char>(f[1]) & 0x80, 0) << "server frames are unmasked";
        // and our own parser reads them back once masked the way a client would
        frame_parser p(1 << 20);
        const std::string c = client_frame(opcode::text, std::string(n, 'x'));
        p.feed(c.data(), c.size());
        frame_parser::message m;
        ASSERT_TRUE(p.next(m)) << n;
        EXPECT_EQ(m.payload.size(), n);
    }
}

TEST(ws_codec, accept_key_is_rfc_6455s_example) {
    EXPECT_EQ(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(ws_codec, close_payload_is_code_then_reason_within_125_bytes) {
    const std::string p = close_payload(1008, std::string(300, 'r'));
    ASSERT_EQ(p.size(), 125u);
    EXPECT_EQ(static_cast<unsigned char>(p[0]), 1008 >> 8);
    EXPECT_EQ(static_cast<unsigned char>(p[1]), 1008 & 0xff);
}

TEST(ws_codec, reassembles_fragments_with_control_frames_between_and_bytes_fed_one_at_a_time) {
    const std::string in = client_frame(opcode::text, "hel", false) +
                           client_frame(opcode::ping, "p") +
                           client_frame(opcode::continuation, "lo", true);
    frame_parser p(64);
    std::vector<std::pair<opcode, std::string>> got;
    for (char c : in) {
        p.feed(&c, 1);
        frame_parser::message m;
        while (p.next(m))
            got.emplace_back(m.op, std::string(m.payload));
    }
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0], (std::pair<opcode, std::string>{opcode::ping, "p"}));
    EXPECT_EQ(got[1], (std::pair<opcode, std::string>{opcode::text, "hello"}));
    EXPECT_EQ(p.failure(), frame_parser::error::none);
}

struct bad_case {
    std::string bytes;
    frame_parser::error err;
    std::uint16_t close;
};

TEST(ws_codec, protocol_violations_fail_with_their_close_codes) {
    std::string unmasked;
    append_frame(unmasked, opcode::text, "x");
    const std::vector<bad_case> cases{
        {unmasked, frame_parser::error::unmasked, 1002},
        {client_frame(opcode::text, "x", true, 0x40), frame_parser::error::reserved_bits, 1002},
        {client_frame(static_cast<opcode>(3), "x"), frame_parser::error::bad_opcode, 1002},
        {client_frame(static_cast<opcode>(11), "x"), frame_parser::error::bad_opcode, 1002},
        {client_frame(opcode::ping, "x", false), frame_parser::error::bad_control, 1002},
        {client_frame(opcode::ping, std::string(126, 'x')), frame_parser::error::bad_control, 1002},
        {client_frame(opcode::continuation, "x"), frame_parser::error::bad_continuation, 1002},
        {client_frame(opcode::text, "a", false) + client_frame(opcode::text, "b"),
         frame_parser::error::bad_continuation, 1002},
        {client_frame(opcode::text, std::string(65, 'x')), frame_parser::error::too_big, 1009},
        {client_frame(opcode::text, std::string(40, 'x'), false) +
             client_frame(opcode::continuation, std::string(40, 'x')),
         frame_parser::error::too_big, 1009},
        // RFC 6455 §7.4 and §8.1: close codes and UTF-8
        {client_frame(opcode::close, "\x03"), frame_parser::error::bad_close, 1002},
        {client_frame(opcode::close, "\x03\xe7"), frame_parser::error::bad_close, 1002}, // 999
        {client_frame(opcode::close, "\x03\xec"), frame_parser::error::bad_close, 1002}, // 1004
        {client_frame(opcode::close, "\x03\xed"), frame_parser::error::bad_close, 1002}, // 1005
        {client_frame(opcode::close, "\x03\xee"), frame_parser::error::bad_close, 1002}, // 1006
        {client_frame(opcode::close, "\x03\xf7"), frame_parser::error::bad_close, 1002}, // 1015
        {client_frame(opcode::close, "\x0b\xb7"), frame_parser::error::bad_close, 1002}, // 2999
        {client_frame(opcode::close, "\x13\x88"), frame_parser::error::bad_close, 1002}, // 5000
        {client_frame(opcode::close, "\x03\xe8\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce"),
         frame_parser::error::bad_utf8, 1007},
        {client_frame(opcode::text, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"),
         frame_parser::error::bad_utf8, 1007}, // a UTF-16 surrogate
        {client_frame(opcode::text, "\xce", false) + client_frame(opcode::continuation, "\xba\xff"),
         frame_parser::error::bad_utf8, 1007},
    };
    for (std::size_t i = 0; i < cases.size(); ++i) {
        frame_parser p(64);
        p.feed(cases[i].bytes.data(), cases[i].bytes.size());
        frame_parser::message m;
        while (p.next(m)) {
        }
        EXPECT_EQ(p.failure(), cases[i].err) << "case " << i;
        EXPECT_EQ(p.close_code(), cases[i].close) << "case " << i;
        EXPECT_FALSE(p.next(m)) << "a failed parser stays failed";
    }
}

// A continuation whose 64-bit length is near 2^64 must not wrap the size check (it made append
// throw inside the session, and the slot was never released: ~1,020 such connections locked
// everyone out).
TEST(ws_codec, a_huge_continuation_length_does_not_wrap_the_limit) {
    for (const std::uint64_t len :
         {~std::uint64_t{0} - 2, ~std::uint64_t{0}, std::uint64_t{1} << 63, std::uint64_t{59}}) {
        std::string in = client_frame(opcode::text, "hello", false);
        std::string cont;
        cont += static_cast<char>(0x80); // fin, continuation
        cont += static_cast<char>(0x80 | 127);
        for (int i = 7; i >= 0; --i)
            cont += static_cast<char>((len >> (8 * i)) & 0xff);
        cont += std::string("\x01\x02\x03\x04", 4); // mask
        in += cont;
        frame_parser p(64);
        p.feed(in.data(), in.size());
        frame_parser::message m;
        EXPECT_NO_THROW(while (p.next(m)){}) << len;
        EXPECT_EQ(p.failure(), len == 59 ? frame_parser::error::none : frame_parser::error::too_big)
            << len;
    }
}

TEST(ws_codec, valid_close_codes_and_utf8_split_across_fragments_pass) {
    for (const int c :
         {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999}) {
        const auto code = static_cast<std::uint16_t>(c);
        EXPECT_TRUE(valid_close_code(code)) << code;
        std::string payload{static_cast<char>(code >> 8), static_cast<char>(code & 0xff)};
        payload += "\xce\xba\xe1\xbd\xb9"; // a UTF-8 reason
        const std::string in = client_frame(opcode::close, payload);
        frame_parser p(64);
        p.feed(in.data(), in.size());
        frame_parser::message m;
        ASSERT_TRUE(p.next(m)) << code;
        EXPECT_EQ(m.op, opcode::close);
    }
    // A code point split between two fragments is valid once the message is whole.
    const std::string in = client_frame(opcode::text, "\xce", false) +
                           client_frame(opcode::continuation, "\xba") +
                           client_frame(opcode::close, "");
    frame_parser p(64);
    p.feed(in.data(), in.size());
    frame_parser::message m;
    ASSERT_TRUE(p.next(m));
    EXPECT_EQ(m.payload, "\xce\xba");
    ASSERT_TRUE(p.next(m)) << "an empty close is allowed";
    EXPECT_EQ(m.op, opcode::close);
}

} // namespace
} // namespace seismo::publish::ws
