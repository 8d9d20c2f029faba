#include "engine/publish/client_op.hpp"

#include <gtest/gtest.h>

#include <string>

namespace seismo::publish {
namespace {

struct parsed {
    bool ok;
    client_op op;
    client_error err;
};

parsed parse(std::string_view text) {
    client_op_parser p;
    parsed r;
    r.ok = p.parse(text, r.op, r.err);
    return r;
}

TEST(client_op, subscribe_unsubscribe_and_ping) {
    auto r = parse(R"({"op":"subscribe","topics":["silver_crash","crypto_*"],"since":1000})");
    ASSERT_TRUE(r.ok) << r.err.message;
    EXPECT_EQ(r.op.kind, client_op_kind::subscribe);
    EXPECT_EQ(r.op.topics, (std::vector<std::string>{"silver_crash", "crypto_*"}));
    ASSERT_TRUE(r.op.since);
    EXPECT_EQ(*r.op.since, 1000u);
    r = parse(R"({"topics":["a/b"],"op":"unsubscribe"})"); // any key order
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.op.kind, client_op_kind::unsubscribe);
    EXPECT_FALSE(r.op.since);
    r = parse(R"({"\u006fp":"ping"})"); // escaped keys are unescaped
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(r.op.kind, client_op_kind::ping);
    r = parse(R"({"op":"subscribe","topics":["*"]})");
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.op.min_severity, 0) << "every severity by default";
    r = parse(R"({"op":"subscribe","topics":["*"],"min_severity":"warning"})");
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.op.min_severity, 1);
    r = parse(R"({"op":"subscribe","topics":["*"],"min_severity":"critical"})");
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.op.min_severity, 2);
}

TEST(client_op, each_bad_message_gets_its_code) {
    const std::vector<std::pair<std::string, std::string>> cases{
        {"not json", "bad_json"},
        {"[1,2]", "bad_json"},
        {R"({"op":)", "bad_json"},
        {R"({"op":5})", "bad_request"},
        {R"({"topics":["*"]})", "bad_request"},
        {R"({"op":"subscribe","topics":["*"],"since":-1})", "bad_request"},
        {R"({"op":"subscribe","topics":["*"],"since":"7"})", "bad_request"},
        {R"({"op":"subscribe"})", "bad_topic"},
        {R"({"op":"subscribe","topics":[]})", "bad_topic"},
        {R"({"op":"subscribe","topics":"x"})", "bad_topic"},
        {R"({"op":"subscribe","topics":[1]})", "bad_topic"},
        {R"({"op":"subscribe","topics":[""]})", "bad_topic"},
        {R"({"op":"subscribe","topics":["a\u0001b"]})", "bad_topic"},
        {R"({"op":"subscribe","topics":[")" + std::string(257, 'x') + R"("]})", "bad_topic"},
        {R"({"op":"frobnicate"})", "unknown_op"},
        // A misspelt field would silently change what the client gets: refused, not ignored.
        {R"({"op":"subscribe","topics":["*"],"sinse":7})", "unknown_field"},
        {R"({"op":"ping","extra":[1,2,{"x":null}]})", "unknown_field"},
        {R"({"op":"subscribe","topics":["*"],"min_severity":"high"})", "bad_request"},
        {R"({"op":"subscribe","topics":["*"],"min_severity":2})", "bad_request"},
    };
    for (const auto& [text, code] : cases) {
        const auto r = parse(text);
        EXPECT_FALSE(r.ok) << text;
        EXPECT_EQ(r.err.code, code) << text;
        EXPECT_FALSE(r.err.message.empty()) << text;
    }
}

TEST(client_op, patterns_are_bounded_and_printable) {
    EXPECT_TRUE(valid_pattern("crypto_*/BTC/USD"));
    EXPECT_TRUE(valid_pattern(std::string(k_max_pattern, 'x')));
    EXPECT_FALSE(valid_pattern(std::string(k_max_pattern + 1, 'x')));
    EXPECT_FALSE(valid_pattern(""));
    EXPECT_FALSE(valid_pattern("a\"b"));
    EXPECT_FALSE(valid_pattern("a\\b"));
    EXPECT_FALSE(valid_pattern("a\nb"));
}

TEST(client_op, one_parser_serves_message_after_message) {
    client_op_parser p;
    client_op op;
    client_error err;
    for (int i = 0; i < 1000; ++i) {
        const std::string t = R"({"op":"subscribe","topics":["s)" + std::to_string(i) + R"("]})";
        ASSERT_TRUE(p.parse(t, op, err));
        ASSERT_EQ(op.topics.size(), 1u);
        EXPECT_EQ(op.topics[0], "s" + std::to_string(i));
        EXPECT_FALSE(p.parse("{", op, err));
    }
}

} // namespace
} // namespace seismo::publish
