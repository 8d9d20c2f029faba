#include "engine/core/instrument_registry.hpp"
#include "engine/core/json_writer.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace seismo::core {
namespace {

TEST(instrument_registry, aliases_map_venue_symbols_and_unknown_symbols_are_interned) {
    instrument_registry reg;
    instrument_info btc;
    btc.symbol = "BTC/USD";
    btc.tags = {"crypto"};
    const auto id = reg.add(btc);
    ASSERT_TRUE(id.has_value());
    EXPECT_FALSE(reg.add(btc).has_value()); // duplicate symbol
    const venue_id binance = reg.venue("binance");
    EXPECT_EQ(reg.venue("binance"), binance);
    EXPECT_EQ(reg.venue_name(binance), "binance");
    ASSERT_TRUE(reg.add_alias(binance, "BTCUSDT", *id));
    EXPECT_FALSE(reg.add_alias(binance, "BTCUSDT", *id));
    EXPECT_EQ(reg.resolve(binance, "BTCUSDT"), *id);
    EXPECT_EQ(reg.resolve(reg.venue("generic"), "BTC/USD"), *id);
    // Another venue without the alias: the native symbol is its own instrument.
    const auto other = reg.resolve(reg.venue("kraken"), "BTCUSDT");
    EXPECT_NE(other, *id);
    EXPECT_EQ(reg.info(other).symbol, "BTCUSDT");
    EXPECT_FALSE(reg.info(other).declared);
    EXPECT_EQ(reg.find("BTCUSDT"), other);
    EXPECT_EQ(reg.find("nope"), k_no_instrument);
}

TEST(instrument_registry, templates_give_first_seen_symbols_tags_and_kind) {
    instrument_registry reg;
    instrument_template t;
    t.globs = {"??????.SH", "??????.SZ"};
    t.tags = {"a_share"};
    reg.add_template(t);
    const auto a = reg.resolve(reg.venue("generic"), "600519.SH");
    EXPECT_TRUE(reg.info(a).has_tag("a_share"));
    const auto b = reg.resolve(reg.venue("generic"), "6005190.SH");
    EXPECT_FALSE(reg.info(b).has_tag("a_share"));
}

TEST(instrument_registry, full_registry_refuses_new_symbols) {
    instrument_registry reg(2);
    const venue_id g = reg.venue("generic");
    EXPECT_NE(reg.resolve(g, "a"), k_no_instrument);
    EXPECT_NE(reg.resolve(g, "b"), k_no_instrument);
    EXPECT_EQ(reg.resolve(g, "c"), k_no_instrument);
    EXPECT_NE(reg.resolve(g, "a"), k_no_instrument); // known ones still resolve
}

TEST(symbol_cache, caches_ids_and_value_kinds) {
    instrument_registry reg;
    instrument_info lvl;
    lvl.symbol = "LIQ";
    lvl.kind = value_kind::level;
    (void)reg.add(lvl);
    symbol_cache cache(reg, reg.venue("generic"));
    const auto e = cache.resolve("LIQ");
    EXPECT_EQ(e.kind, value_kind::level);
    EXPECT_EQ(cache.resolve("LIQ").id, e.id);
    EXPECT_EQ(cache.resolve("NEW").kind, value_kind::price);
}

TEST(string_map, grows_and_finds_many_keys) {
    string_map<std::uint32_t> m;
    for (std::uint32_t i = 0; i < 20000; ++i)
        ASSERT_TRUE(m.insert("k" + std::to_string(i), i));
    EXPECT_EQ(m.size(), 20000u);
    for (std::uint32_t i = 0; i < 20000; ++i) {
        const auto* v = m.find("k" + std::to_string(i));
        ASSERT_NE(v, nullptr);
        EXPECT_EQ(*v, i);
    }
    EXPECT_EQ(m.find("k20000"), nullptr);
    EXPECT_FALSE(m.insert("k7", 1));
}

/// Keys up to k_inline bytes live in their slot, longer ones out of line: lengths on both sides
/// of the boundary, the empty key and keys that differ only in their last byte are all found,
/// after growing, and for_each lists each once with its value.
TEST(string_map, keys_in_and_out_of_their_slot) {
    using map = string_map<std::uint32_t>;
    map m;
    std::vector<std::string> keys{""};
    for (std::size_t n = 1; n <= map::k_inline + 12; ++n) {
        std::string k(n, 'S');
        for (std::size_t i = 0; i < n; ++i)
            k[i] = static_cast<char>('A' + (i * 5 + n) % 26);
        keys.push_back(k);
        k.back() = static_cast<char>(k.back() ^ 0x20);
        keys.push_back(k);
    }
    for (std::uint32_t round = 0; round < 40; ++round) { // enough to grow the table a few times
        for (std::size_t i = 0; i < keys.size(); ++i) {
            const std::string k = round == 0 ? keys[i] : keys[i] + "#" + std::to_string(round);
            ASSERT_TRUE(m.insert(k, round * 1000 + static_cast<std::uint32_t>(i))) << k;
        }
    }
    ASSERT_EQ(m.size(), keys.size() * 40);
    for (std::uint32_t round = 0; round < 40; ++round) {
        for (std::size_t i = 0; i < keys.size(); ++i) {
            const std::string k = round == 0 ? keys[i] : keys[i] + "#" + std::to_string(round);
            const auto* v = m.find(k);
            ASSERT_NE(v, nullptr) << k;
            EXPECT_EQ(*v, round * 1000 + i) << k;
            EXPECT_FALSE(m.insert(k, 7)) << k;
        }
    }
    EXPECT_EQ(m.find(keys.back() + "x"), nullptr);
    EXPECT_EQ(m.find(keys.back().substr(0, keys.back().size() - 1)), nullptr);
    std::map<std::string, std::uint32_t> seen;
    m.for_each([&](std::string_view k, std::uint32_t v) {
        EXPECT_TRUE(seen.emplace(std::string(k), v).second) << k;
    });
    ASSERT_EQ(seen.size(), m.size());
    for (std::size_t i = 0; i < keys.size(); ++i)
        EXPECT_EQ(seen.at(keys[i]), i);
}

TEST(hash_bytes, every_byte_of_every_length_counts) {
    // The tail is read with overlapping loads; a byte they missed would make two symbols that
    // differ only there collide on every lookup. Flip each byte of strings of length 1..40.
    for (std::size_t n = 1; n <= 40; ++n) {
        std::string s(n, 'a');
        for (std::size_t i = 0; i < n; ++i)
            s[i] = static_cast<char>('A' + (i * 7 + n) % 26);
        const std::uint64_t h = hash_bytes(s);
        for (std::size_t i = 0; i < n; ++i) {
            std::string t = s;
            t[i] = static_cast<char>(t[i] ^ 0x20);
            EXPECT_NE(hash_bytes(t), h) << "length " << n << ", byte " << i;
        }
        // A prefix of the same bytes is a different key.
        EXPECT_NE(hash_bytes(std::string_view(s).substr(0, n - 1)), h) << "length " << n;
    }
    // Views into a larger buffer hash by their own bytes only.
    const std::string buf = "BTCUSDT|ETHUSDT";
    EXPECT_EQ(hash_bytes(std::string_view(buf).substr(8, 7)), hash_bytes("ETHUSDT"));
    EXPECT_EQ(hash_bytes(std::string_view(buf).substr(0, 7)), hash_bytes("BTCUSDT"));
}

TEST(string_map, prefetched_hash_finds_the_same_entries) {
    string_map<std::uint32_t> m;
    for (std::uint32_t i = 0; i < 5000; ++i)
        ASSERT_TRUE(m.insert("SH" + std::to_string(600000 + i), i));
    for (std::uint32_t i = 0; i < 5000; ++i) {
        const std::string k = "SH" + std::to_string(600000 + i);
        const std::uint64_t h = m.prefetch(k);
        EXPECT_EQ(h, hash_bytes(k));
        const auto* v = m.find(k, h);
        ASSERT_NE(v, nullptr);
        EXPECT_EQ(*v, i);
    }
    EXPECT_EQ(m.find("SH605000", m.prefetch("SH605000")), nullptr);
}

TEST(glob, matches) {
    EXPECT_TRUE(glob_match("crypto_*", "crypto_crash"));
    EXPECT_TRUE(glob_match("*", ""));
    EXPECT_TRUE(glob_match("??????.SH", "600000.SH"));
    EXPECT_FALSE(glob_match("??????.SH", "60000.SH"));
    EXPECT_TRUE(glob_match("a*b*c", "aXXbYYc"));
    EXPECT_FALSE(glob_match("a*b*c", "aXXbYY"));
}

TEST(json_writer, escapes_and_numbers) {
    std::string s;
    append_json_string(s, "a\"b\\c\n\x01\xff\xc3\xa9");
    EXPECT_EQ(s, "\"a\\\"b\\\\c\\n\\u0001\\u00ff\xc3\xa9\"");
    s.clear();
    append_double(s, 76.51);
    s += ',';
    append_double(s, -0.15);
    s += ',';
    append_double(s, 1e-300 * 1e-300); // underflow to 0
    s += ',';
    append_double(s, std::nan(""));
    EXPECT_EQ(s, "76.51,-0.15,0,null");
}

} // namespace
} // namespace seismo::core
