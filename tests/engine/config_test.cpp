#include "engine/config.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace seismo::engine {
namespace {

const char* k_base = R"([[instrument]]
symbol = "XAG/USD"
tags = ["metal"]

[[instrument]]
symbol = "BTC/USD"
aliases = ["binance:BTCUSDT"]
tags = ["crypto"]
)";

/// Loads k_base + extra and expects an error on `line` whose text contains `needle`.
void expect_error(const std::string& extra, std::uint32_t line, const std::string& needle) {
    const std::string text = std::string(k_base) + extra;
    try {
        (void)load_config_string(text, "test.toml");
        ADD_FAILURE() << "no error for:\n" << extra;
    } catch (const config_error& e) {
        EXPECT_EQ(e.file(), "test.toml");
        EXPECT_EQ(e.line(), line) << e.what();
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
        EXPECT_EQ(std::string(e.what()).rfind("test.toml:" + std::to_string(line) + ":", 0), 0u)
            << e.what();
    }
}

TEST(config, playbook_is_valid_and_complete) {
    const config c = load_playbook();
    EXPECT_EQ(c.file, "<playbook>");
    std::set<signals::signal_kind> kinds;
    for (const auto& s : c.signals)
        kinds.insert(s.kind);
    EXPECT_EQ(kinds.size(), 6u); // every kind of DESIGN §5 is in the playbook
    EXPECT_EQ(c.order.size(), c.signals.size());
    EXPECT_FALSE(c.templates.empty());
    EXPECT_NE(describe(c).find("crash_day"), std::string::npos);
}

TEST(config, full_schema_parses) {
    const config c = load_config_string(std::string(k_base) + R"(
[engine]
deterministic = true
lateness = "250ms"

[server]
listen = "127.0.0.1:9090"
tokens = [{ token = "t1", topics = ["crypto_*"] }, { token = "t2", roles = ["metrics", "admin"] }]
io_threads = 2
coalesce = "2ms"

[[feed]]
name = "binance"
venue = "binance"
url = "wss://stream.binance.com:9443/stream"
symbols = ["BTCUSDT"]
stale_after = "30s"

[[signal]]
name = "silver_crash"
kind = "drawdown"
instruments = ["XAG/USD"]
window = "24h"
levels = [{ at = -0.08, severity = "warning" }, { at = -0.15, severity = "critical" }]
rearm = 0.02

[[signal]]
name = "crypto_crash"
kind = "drawdown"
select = "tag:crypto"
ref = "prev_close"
levels = [{ at = -0.06, severity = "critical" }]

[[signal]]
name = "shock"
kind = "composite"
inputs = ["silver_crash", "crypto_crash"]
within = "6h"
levels = [{ at = 2, severity = "critical" }]
)",
                                        "full.toml");
    EXPECT_TRUE(c.engine.deterministic);
    EXPECT_EQ(c.engine.lateness, 250'000'000);
    EXPECT_EQ(c.server.listen, "127.0.0.1:9090");
    EXPECT_EQ(c.server.io_threads, 2u);
    EXPECT_EQ(c.server.coalesce, 2'000'000);
    EXPECT_EQ(load_config_string(k_base, "default.toml").server.coalesce, 0) << "off by default";
    ASSERT_EQ(c.server.tokens.size(), 2u);
    EXPECT_EQ(c.server.tokens[0].topics[0], "crypto_*");
    EXPECT_TRUE(c.server.tokens[0].roles.empty()) << "subscribe by default";
    EXPECT_EQ(c.server.tokens[1].roles, (std::vector<std::string>{"metrics", "admin"}));
    ASSERT_EQ(c.feeds.size(), 1u);
    EXPECT_EQ(c.feeds[0].stale_after, 30'000'000'000);
    ASSERT_EQ(c.signals.size(), 3u);
    EXPECT_EQ(c.signals[0].window, 24LL * 3600 * 1'000'000'000);
    EXPECT_EQ(c.signals[1].ref, signals::ref_kind::prev_close);
    EXPECT_EQ(c.signals[2].dir, signals::direction::above);
    EXPECT_EQ(c.instruments[1].aliases[0].first, "binance");
}

TEST(config, errors_name_the_line_and_what_was_expected) {
    // line 9 is the first line after k_base
    expect_error("[engine]\nbogus = 1\n", 10, "unknown key 'bogus'");
    expect_error("[engine]\nlateness = 5\n", 10, "duration");
    expect_error("[engine]\nlateness = \"5 parsecs\"\n", 10, "bad duration");
    expect_error("[engine]\ndeterministic = \"yes\"\n", 10, "true or false");
    // After k_base, a bare key belongs to the last [[instrument]] table (TOML's rule).
    expect_error("nonsense = 1\n", 9, "[[instrument]]: unknown key 'nonsense'");
    try {
        (void)load_config_string("nonsense = 1\n", "top.toml");
        ADD_FAILURE() << "no error";
    } catch (const config_error& e) {
        EXPECT_EQ(e.line(), 1u);
        EXPECT_NE(std::string(e.what()).find("unknown top-level key 'nonsense'"),
                  std::string::npos);
    }
    expect_error("[[signal]]\nname = \"x\"\nkind = \"drawdown\"\ninstruments = [\"GOLD\"]\nwindow "
                 "= \"1h\"\nlevels = [{ at = -0.1 }]\n",
                 12, "unknown instrument 'GOLD'");
    expect_error("[[signal]]\nname = \"x\"\nkind = \"drawdown\"\ninstruments = "
                 "[\"XAG/USD\"]\nwindow = \"1h\"\nlookback = \"1d\"\nlevels = [{ at = -0.1 }]\n",
                 14, "unknown key 'lookback'");
    expect_error("[[signal]]\nname = \"x\"\nkind = \"level\"\ninstruments = [\"XAG/USD\"]\nlevels "
                 "= [{ at = \"high\" }]\n",
                 13, "'at' must be a number");
    expect_error("[[signal]]\nname = \"x\"\nkind = \"wobble\"\n", 11, "unknown kind 'wobble'");
    expect_error("[[signal]]\nname = \"x\"\nkind = \"level\"\ninstruments = [\"XAG/USD\"]\nlevels "
                 "= [{ at = 1 }]\n"
                 "[[signal]]\nname = \"x\"\nkind = \"level\"\ninstruments = [\"XAG/USD\"]\nlevels "
                 "= [{ at = 1 }]\n",
                 15, "duplicate signal name 'x'");
    expect_error("[[signal]]\nname = \"c\"\nkind = \"composite\"\ninputs = [\"ghost\"]\nwithin = "
                 "\"1h\"\nlevels = [{ at = 1 }]\n",
                 12, "unknown input signal 'ghost'");
    expect_error("[[signal]]\nname = \"a\"\nkind = \"composite\"\ninputs = [\"b\"]\nwithin = "
                 "\"1h\"\nlevels = [{ at = 1 }]\n"
                 "[[signal]]\nname = \"b\"\nkind = \"composite\"\ninputs = [\"a\"]\nwithin = "
                 "\"1h\"\nlevels = [{ at = 1 }]\n",
                 9, "cycle: a -> b -> a");
    expect_error("[[signal]]\nname = \"x\"\nkind = \"drawdown\"\ninstruments = "
                 "[\"XAG/USD\"]\nlevels = [{ at = -0.1 }]\n",
                 9, "exactly one of 'window'");
    expect_error("[[signal]]\nname = \"x\"\nkind = \"level\"\nselect = \"tag:nothing\"\nlevels = "
                 "[{ at = 1 }]\n",
                 12, "matches no [[instrument]] tag");
    expect_error("[[signal]]\nname = \"x y\"\n", 10, "letters, digits");
    expect_error("[[instrument]]\nsymbol = \"XAG/USD\"\n", 10, "duplicate instrument");
    expect_error("[[instrument]]\nsymbol = \"Z\"\naliases = [\"nocolon\"]\n", 11, "VENUE:NATIVE");
    expect_error("[[instrument]]\nsymbol = \"Z\"\naliases = [\"binanse:BTCUSDT\"]\n", 11,
                 "unknown venue 'binanse' in alias 'binanse:BTCUSDT' (generic, binance,");
    expect_error("[[feed]]\nname = \"f\"\nvenue = \"nyse\"\nurl = \"wss://x\"\n", 11,
                 "unknown venue 'nyse'");
    expect_error("[[feed]]\nname = \"f\"\nvenue = \"binance\"\nurl = \"http://x\"\n", 12,
                 "ws:// or wss://");
    expect_error("[[feed]]\nname = \"f\"\nvenue = \"binance\"\nurl = \"wss://x\"\n"
                 "channels = [\"trade\", \"aggTrade\"]\n",
                 13, "applies every trade twice");
    expect_error("[server]\nlisten = \"localhost\"\n", 10, "HOST:PORT");
    expect_error("[[signal]]\nname = \"x\"\nkind = \"level\"\ninstruments = [\"XAG/USD\"]\nlevels "
                 "= [{ at = 1, severity = \"dire\" }]\n",
                 13, "\"info\", \"warning\" or \"critical\"");
    expect_error("[engine\n", 9, "TOML syntax error");
    expect_error("[server]\ntokens = [{ token = \"a\", roles = [\"root\"] }]\n", 10,
                 "unknown role 'root' (subscribe, metrics, admin)");
    expect_error("[server]\ntokens = [{ token = \"\" }]\n", 10, "must not be empty");
    expect_error("[server]\ntokens = [{ token = \"a\" }, { token = \"a\" }]\n", 10, "listed twice");
    // hardening finding 8: listen addresses, limits, files named in the config
    expect_error("[server]\nlisten = \"127.0.0.1:70000\"\n", 10, "0-65535");
    expect_error("[server]\nlisten = \":-5\"\n", 10, "0-65535");
    expect_error("[server]\nlisten = \":18085x\"\n", 10, "0-65535");
    expect_error("[server]\nlisten = \"abc\"\n", 10, "has no port");
    expect_error("[server]\nlisten = \"::1:80\"\n", 10, "IPv6 in brackets");
    expect_error("[server]\nlisten = \"0.0.0.0:8080\"\ntokens = [{ token = \"a\" }]\n", 10,
                 "clear text");
    expect_error("[server]\ntls_cert = \"/nonexistent/c.pem\"\ntls_key = \"/nonexistent/k.pem\"\n",
                 10, "'tls_cert' /nonexistent/c.pem: No such file or directory");
    expect_error("[[feed]]\nname = \"f\"\nvenue = \"binance\"\nurl = \"wss://x\"\n"
                 "ca_file = \"/nonexistent/ca.pem\"\n",
                 13, "'ca_file' /nonexistent/ca.pem");
    expect_error("[engine]\nmax_instruments = 2\n[[instrument]]\nsymbol = \"C\"\n", 11,
                 "more instruments than [engine] max_instruments (2)");
    expect_error("[engine]\nmax_instruments = 3\n[[feed]]\nname = \"f\"\nvenue = \"binance\"\n"
                 "url = \"wss://x\"\nsymbols = [\"BTCUSDT\", \"ETHUSDT\", \"XRPUSDT\"]\n",
                 11, "past [engine] max_instruments (3)");
    expect_error("[server]\nidle_timeout = \"1ms\"\n", 10, "at least 200ms");
    expect_error("[server]\nclient_rate = -1\n", 10, "between 0 and");
    expect_error("[engine]\nidle_spin = \"20ms\"\n", 10, "between \"0us\" and \"10ms\"");
    expect_error("[server]\nio_threads = 65\n", 10, "between 0 and 64");
    expect_error("[server]\ncoalesce = \"101ms\"\n", 10, "between \"0ms\" and \"100ms\"");
    expect_error("[server]\ncoalesce = 2\n", 10, "coalesce");
    // allowed: a loopback listener with tokens, TLS, or allow_insecure; BTCUSDT is an alias
    for (const char* ok : {"[server]\nlisten = \"127.0.0.1:0\"\ntokens = [{ token = \"a\" }]\n",
                           "[server]\nlisten = \"[::1]:0\"\ntokens = [{ token = \"a\" }]\n",
                           "[server]\nlisten = \"0.0.0.0:0\"\nallow_insecure = true\n"
                           "tokens = [{ token = \"a\" }]\n",
                           "[engine]\nmax_instruments = 3\n[[feed]]\nname = \"f\"\n"
                           "venue = \"binance\"\nurl = \"wss://x\"\n"
                           "symbols = [\"BTCUSDT\", \"ETHUSDT\"]\n"}) {
        EXPECT_NO_THROW((void)load_config_string(std::string(k_base) + ok, "ok.toml")) << ok;
    }
}

TEST(config, a_directory_is_not_a_config_file) {
    try {
        (void)load_config_file(::testing::TempDir());
        ADD_FAILURE() << "no error";
    } catch (const config_error& e) {
        EXPECT_NE(std::string(e.what()).find("is a directory"), std::string::npos) << e.what();
    }
}

TEST(config, missing_file_is_an_error) {
    try {
        (void)load_config_file("/nonexistent/seismo.toml");
        ADD_FAILURE() << "no error";
    } catch (const config_error& e) {
        EXPECT_EQ(std::string(e.what()),
                  "/nonexistent/seismo.toml: cannot open the config file (No such file or "
                  "directory)")
            << "no made-up position";
    }
}

// Every signal's state is bounded at load: a window too fine for memory is refused with the
// signal, its line and the bytes it needs (it used to pass validate and die in bad_alloc).
TEST(config, state_beyond_the_memory_budget_is_refused_with_the_bytes) {
    expect_error("[[signal]]\nname = \"x\"\nkind = \"drawdown\"\ninstruments = [\"XAG/USD\"]\n"
                 "window = \"30d\"\nresolution = \"1ms\"\nlevels = [{ at = -0.1 }]\n",
                 9, "'x': its window over its resolution is more than 2^31 buckets");
    expect_error("[[signal]]\nname = \"x\"\nkind = \"drawdown\"\ninstruments = [\"XAG/USD\"]\n"
                 "window = \"30d\"\nresolution = \"5ms\"\nlevels = [{ at = -0.1 }]\n",
                 9,
                 "'x': its state needs 7.7 GiB (1 members x 7.7 GiB), over [engine] "
                 "memory_budget = 4.0 GiB");
    expect_error("[engine]\nmemory_budget = \"1MiB\"\n[[signal]]\nname = \"x\"\nkind = "
                 "\"change\"\nselect = \"tag:crypto\"\nlookback = \"1d\"\nresolution = \"1s\"\n"
                 "levels = [{ at = -0.1 }]\n",
                 11, "its state needs 2.0 MiB (1 members x 2.0 MiB)");
    expect_error("[engine]\nmemory_budget = \"lots\"\n", 10, "'memory_budget' must be a size");
    // within the budget: fine
    const config c = load_config_string(
        std::string(k_base) + "[[signal]]\nname = \"x\"\nkind = \"drawdown\"\ninstruments = "
                              "[\"XAG/USD\"]\nwindow = \"1d\"\nresolution = \"1s\"\nlevels = "
                              "[{ at = -0.1 }]\n",
        "test.toml");
    EXPECT_EQ(c.signals.back().member_state_bytes(), 128u + 86400u * 16u);
}

// A misspelt key is reported as itself, before what its absence would break.
TEST(config, an_unknown_key_is_reported_before_what_it_leaves_out) {
    expect_error("[[signal]]\nname = \"x\"\nkind = \"drawdown\"\ninstruments = [\"XAG/USD\"]\n"
                 "windw = \"1h\"\nlevels = [{ at = -0.1 }]\n",
                 13, "unknown key 'windw' for kind 'drawdown'");
    expect_error("[[feed]]\nname = \"f\"\nvenu = \"binance\"\nurl = \"wss://x\"\n", 11,
                 "unknown key 'venu'");
    expect_error("[[instrument]]\nsymbl = \"Z\"\n", 10, "unknown key 'symbl'");
    expect_error("[[signal]]\nname = \"x\"\nkind = \"level\"\ninstruments = [\"XAG/USD\"]\n"
                 "levels = [{ att = 1 }]\n",
                 13, "unknown key 'att'");
}

} // namespace
} // namespace seismo::engine
