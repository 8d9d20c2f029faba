// The registry read without a lock while another thread interns
// (engine/core/instrument_registry.hpp): every id a reader has received reads back its own symbol
// and venue name. Run under ThreadSanitizer too (the tsan preset), where a read racing the
// interning would be reported.
#include "engine/core/instrument_registry.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace seismo::core {
namespace {

TEST(registry_threads, readers_without_a_lock_see_every_handed_out_entry_whole) {
    constexpr std::size_t k_symbols = 20'000, k_venues = 300;
    instrument_registry reg(k_symbols);
    // What the interning thread has handed out so far, in order (as a queue would hand ids).
    std::vector<instrument_id> ids(k_symbols, k_no_instrument);
    std::vector<venue_id> venues(k_venues);
    std::atomic<std::size_t> published{0}, venues_published{0};
    std::thread writer([&] {
        for (std::size_t i = 0; i < k_symbols; ++i) {
            if (i % (k_symbols / k_venues) == 0 && i / (k_symbols / k_venues) < k_venues) {
                const std::size_t v = i / (k_symbols / k_venues);
                venues[v] = reg.venue("venue" + std::to_string(v));
                venues_published.store(v + 1, std::memory_order_release);
            }
            ids[i] = reg.resolve(venue_id{0}, "S" + std::to_string(i));
            published.store(i + 1, std::memory_order_release);
        }
    });
    std::atomic<std::size_t> wrong{0}, read{0};
    std::vector<std::thread> readers;
    for (int r = 0; r < 2; ++r) {
        readers.emplace_back([&, r] {
            std::size_t seen = 0;
            while (seen < k_symbols) {
                const std::size_t n = published.load(std::memory_order_acquire);
                for (std::size_t i = (r == 0 ? seen : n - (n - seen) / 2); i < n; ++i) {
                    if (reg.info(ids[i]).symbol != "S" + std::to_string(i)) wrong.fetch_add(1);
                    read.fetch_add(1, std::memory_order_relaxed);
                }
                const std::size_t nv = venues_published.load(std::memory_order_acquire);
                for (std::size_t v = 0; v < nv; v += 7) {
                    if (reg.venue_name(venues[v]) != "venue" + std::to_string(v))
                        wrong.fetch_add(1);
                }
                seen = n;
            }
        });
    }
    writer.join();
    for (auto& t : readers)
        t.join();
    EXPECT_EQ(wrong.load(), 0u);
    EXPECT_GE(read.load(), k_symbols);
    EXPECT_EQ(reg.size(), k_symbols);
    EXPECT_EQ(reg.resolve(venue_id{0}, "one more"), k_no_instrument) << "full";
    EXPECT_EQ(reg.venue_name(venue_id{static_cast<std::uint16_t>(k_venues + 5)}), "?");
    EXPECT_EQ(reg.info(ids[k_symbols - 1]).symbol, "S" + std::to_string(k_symbols - 1));
}

} // namespace
} // namespace seismo::core
