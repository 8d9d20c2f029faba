#include "engine/core/instrument_registry.hpp"
#include "engine/core/time.hpp"
#include "feeds/generic.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace seismo::feeds {
namespace {

class generic_parser_test : public ::testing::Test {
  protected:
    generic_parser_test() : syms_(reg_, reg_.venue("generic")), parser_(syms_) {
        core::instrument_info lvl;
        lvl.symbol = "LIQ";
        lvl.kind = core::value_kind::level;
        (void)reg_.add(lvl);
    }

    parse_result parse(const std::string& json, core::nanos recv = 42) {
        std::string padded = json;
        padded.append(k_padding, ' ');
        out_.clear();
        return parser_.parse(padded.data(), json.size(), padded.size(), recv, out_);
    }
    void expect_reject(const std::string& json, reject_reason why) {
        const parse_result r = parse(json);
        EXPECT_EQ(r.status, frame_status::rejected) << json;
        EXPECT_EQ(r.reason, why) << json << " -> " << to_string(r.reason) << ": " << r.detail;
        EXPECT_FALSE(r.detail.empty()) << json;
        EXPECT_TRUE(out_.empty()) << json;
    }
    std::string sym(const core::tick& t) const { return reg_.info(t.inst).symbol; }

    core::instrument_registry reg_;
    core::symbol_cache syms_;
    generic_parser parser_;
    std::vector<core::tick> out_;
};

TEST_F(generic_parser_test, the_design_example) {
    const auto r = parse(R"({"sym":"XAG/USD","px":76.51,"ts":1770257643512,"sz":0,"seq":18231})");
    ASSERT_EQ(r.status, frame_status::ticks);
    ASSERT_EQ(out_.size(), 1u);
    const core::tick& t = out_[0];
    EXPECT_EQ(sym(t), "XAG/USD");
    EXPECT_EQ(t.px, 76.51);
    EXPECT_EQ(t.exch_ts, 1770257643512LL * 1'000'000);
    EXPECT_EQ(t.recv_ts, 42);
    EXPECT_EQ(t.sz, 0.0);
    EXPECT_EQ(t.seq, 18231u);
    EXPECT_EQ(t.kind, core::tick_kind::value);
    EXPECT_EQ(reg_.venue_name(t.venue), "generic");
}

// A venue's number spaces survive a --ticks file: seq_space and seq_contiguous.
TEST_F(generic_parser_test, sequence_spaces) {
    ASSERT_EQ(parse(R"({"sym":"A","px":1,"seq":5})").status, frame_status::ticks);
    EXPECT_EQ(out_[0].flags, core::k_seq_contiguous) << "space 0, contiguous by default";
    ASSERT_EQ(parse(R"({"sym":"A","px":1,"seq":5,"seq_space":2,"seq_contiguous":false})").status,
              frame_status::ticks);
    EXPECT_EQ(out_[0].flags, 2);
    ASSERT_EQ(parse(R"({"sym":"A","px":1,"seq":5,"seq_space":3})").status, frame_status::ticks);
    EXPECT_EQ(out_[0].flags, 3 | core::k_seq_contiguous);
    expect_reject(R"({"sym":"A","px":1,"seq":5,"seq_space":4})", reject_reason::bad_field);
    expect_reject(R"({"sym":"A","px":1,"seq":5,"seq_contiguous":"no"})", reject_reason::bad_field);
}

TEST_F(generic_parser_test, numeric_strings_and_time_forms) {
    ASSERT_EQ(
        parse(R"({"sym":"A","px":"76.51","sz":"1.5E+2","ts":"2026-02-05T02:14:03.512Z"})").status,
        frame_status::ticks);
    EXPECT_EQ(out_[0].px, 76.51);
    EXPECT_EQ(out_[0].sz, 150.0);
    EXPECT_EQ(out_[0].exch_ts, 1770257643512LL * 1'000'000);
    ASSERT_EQ(parse(R"({"sym":"A","px":1,"ts":1770257643512000123})").status, frame_status::ticks);
    EXPECT_EQ(out_[0].exch_ts, 1770257643512000123LL); // nanoseconds
    ASSERT_EQ(parse(R"({"sym":"A","px":1,"ts":"1770257643512"})").status, frame_status::ticks);
    EXPECT_EQ(out_[0].exch_ts, 1770257643512LL * 1'000'000);
    ASSERT_EQ(parse(R"({"sym":"A","px":1})", 99).status, frame_status::ticks);
    EXPECT_EQ(out_[0].exch_ts, 0);
    EXPECT_EQ(out_[0].event_ts(), 99); // defaults to the receive time
    ASSERT_EQ(parse(R"({"sym":"A","px":"0E-8","kind":"trade"})").status,
              frame_status::rejected); // 0 price
    ASSERT_EQ(parse(R"({"sym":"A","px":"5E-8","kind":"trade"})").status, frame_status::ticks);
    EXPECT_EQ(out_[0].px, 5e-8);
    EXPECT_EQ(out_[0].kind, core::tick_kind::trade);
}

TEST_F(generic_parser_test, batches_are_all_or_nothing) {
    ASSERT_EQ(parse(R"([{"sym":"A","px":1},{"sym":"B","px":2},{"sym":"C","px":3}])").status,
              frame_status::ticks);
    ASSERT_EQ(out_.size(), 3u);
    EXPECT_EQ(sym(out_[2]), "C");
    expect_reject(R"([{"sym":"A","px":1},{"sym":"B","px":"x"}])", reject_reason::bad_field);
    expect_reject(R"([{"sym":"A","px":1},7])", reject_reason::malformed);
    EXPECT_EQ(parse("[]").status, frame_status::ignored);
}

TEST_F(generic_parser_test, previous_close_updates) {
    ASSERT_EQ(parse(R"({"sym":"600519.SH","prev_close":1500.5})").status, frame_status::ticks);
    ASSERT_EQ(out_.size(), 1u);
    EXPECT_EQ(out_[0].kind, core::tick_kind::reference);
    EXPECT_EQ(out_[0].px, 1500.5);
    ASSERT_EQ(parse(R"({"sym":"600519.SH","px":1490,"prev_close":1500.5})").status,
              frame_status::ticks);
    ASSERT_EQ(out_.size(), 2u);
    EXPECT_EQ(out_[0].kind, core::tick_kind::reference);
    EXPECT_EQ(out_[1].px, 1490.0);
    expect_reject(R"({"sym":"600519.SH","prev_close":-1})", reject_reason::non_positive);
}

TEST_F(generic_parser_test, unknown_fields_escapes_venue) {
    ASSERT_EQ(
        parse(R"({"x":{"y":[1,{"z":null}]},"sym":"A\u0042","px":2,"venue":"binance","note":"hi"})")
            .status,
        frame_status::ticks);
    EXPECT_EQ(sym(out_[0]), "AB");
    EXPECT_EQ(reg_.venue_name(out_[0].venue), "binance");
}

TEST_F(generic_parser_test, level_instruments_take_any_finite_value) {
    ASSERT_EQ(parse(R"({"sym":"LIQ","px":-61.5})").status, frame_status::ticks);
    EXPECT_EQ(out_[0].px, -61.5);
    ASSERT_EQ(parse(R"({"sym":"LIQ","px":0})").status, frame_status::ticks);
    expect_reject(R"({"sym":"LIQ","px":"-inf"})", reject_reason::non_finite);
}

TEST_F(generic_parser_test, every_bad_frame_has_its_reason) {
    expect_reject("not json", reject_reason::malformed);
    expect_reject(R"({"sym":"A","px":1)", reject_reason::malformed);
    expect_reject(R"({"sym":"A","px":1} trailing)", reject_reason::malformed);
    expect_reject(R"({"sym":"A","px":1}{"sym":"B","px":2})", reject_reason::malformed);
    expect_reject("42", reject_reason::malformed);
    expect_reject(R"("str")", reject_reason::malformed);
    expect_reject(R"({"px":1})", reject_reason::missing_field);
    expect_reject(R"({"sym":"A"})", reject_reason::missing_field);
    expect_reject(R"({"sym":"","px":1})", reject_reason::bad_field);
    expect_reject(R"({"sym":7,"px":1})", reject_reason::bad_field);
    expect_reject(R"({"sym":"A","px":true})", reject_reason::bad_field);
    expect_reject(R"({"sym":"A","px":"12abc"})", reject_reason::bad_field);
    expect_reject(R"({"sym":"A","px":null})", reject_reason::bad_field);
    expect_reject(R"({"sym":"A","px":"NaN"})", reject_reason::non_finite);
    expect_reject(R"({"sym":"A","px":"Infinity"})", reject_reason::non_finite);
    expect_reject(R"({"sym":"A","px":1e999})", reject_reason::non_finite);
    expect_reject(R"({"sym":"A","px":0})", reject_reason::non_positive);
    expect_reject(R"({"sym":"A","px":-3.5})", reject_reason::non_positive);
    expect_reject(R"({"sym":"A","px":1,"ts":1.5})", reject_reason::bad_timestamp);
    expect_reject(R"({"sym":"A","px":1,"ts":-5})", reject_reason::bad_timestamp);
    expect_reject(R"({"sym":"A","px":1,"ts":"yesterday"})", reject_reason::bad_timestamp);
    expect_reject(R"({"sym":"A","px":1,"sz":-1})", reject_reason::bad_field);
    expect_reject(R"({"sym":"A","px":1,"seq":-1})", reject_reason::bad_field);
    expect_reject(R"({"sym":"A","px":1,"kind":"book"})", reject_reason::bad_field);
    std::string big = R"({"sym":"A","px":1,"pad":")" + std::string(70000, 'x') + "\"}";
    expect_reject(big, reject_reason::oversize);
}

TEST_F(generic_parser_test, blank_lines_are_ignored) {
    EXPECT_EQ(parse("").status, frame_status::ignored);
    EXPECT_EQ(parse("  \t ").status, frame_status::ignored);
}

TEST(generic_parser, full_registry_is_a_reason) {
    core::instrument_registry reg(1);
    core::symbol_cache syms(reg, reg.venue("generic"));
    generic_parser p(syms);
    std::vector<core::tick> out;
    std::string a = R"({"sym":"A","px":1})" + std::string(k_padding, ' ');
    std::string b = R"({"sym":"B","px":1})" + std::string(k_padding, ' ');
    EXPECT_EQ(p.parse(a.data(), 18, a.size(), 0, out).status, frame_status::ticks);
    const auto r = p.parse(b.data(), 18, b.size(), 0, out);
    EXPECT_EQ(r.status, frame_status::rejected);
    EXPECT_EQ(r.reason, reject_reason::registry_full);
}

// A feed naming ever more venues (hardening finding 5): past the registry's 65,535 venue names
// each new one is refused as registry_full, the parser keeps going, and known ones still parse.
TEST(generic_parser, too_many_venue_names_are_refused_not_thrown) {
    core::instrument_registry reg(16);
    core::symbol_cache syms(reg, reg.venue("generic"));
    generic_parser p(syms);
    std::vector<core::tick> out;
    std::size_t ticks = 0, full = 0;
    for (std::size_t i = 0; i < core::instrument_registry::k_max_venues + 100; ++i) {
        std::string f = R"({"sym":"A","px":1,"venue":"v)" + std::to_string(i) + R"("})";
        const std::size_t n = f.size();
        f.append(k_padding, ' ');
        out.clear();
        const parse_result r = p.parse(f.data(), n, f.size(), 0, out);
        if (r.status == frame_status::ticks) ++ticks;
        if (r.status == frame_status::rejected && r.reason == reject_reason::registry_full) ++full;
    }
    EXPECT_EQ(ticks, core::instrument_registry::k_max_venues - 1); // "generic" is one of them
    EXPECT_EQ(full, 101u);
    std::string known = R"({"sym":"A","px":2,"venue":"v7"})";
    const std::size_t n = known.size();
    known.append(k_padding, ' ');
    EXPECT_EQ(p.parse(known.data(), n, known.size(), 0, out).status, frame_status::ticks);
}

} // namespace
} // namespace seismo::feeds
