#include "engine/core/spsc_ring.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace seismo::core {
namespace {

TEST(spsc_ring, records_cross_threads_intact_through_many_wraparounds) {
    spsc_ring ring(1000); // rounded up to 1024: records wrap the end constantly
    EXPECT_EQ(ring.capacity(), 1024u);
    constexpr std::uint32_t k_n = 200000;
    std::thread producer([&] {
        for (std::uint32_t i = 0; i < k_n; ++i) {
            const std::uint32_t len = 1 + i % 97;
            std::string body(len, static_cast<char>('a' + i % 26));
            while (!ring.write(&len, 4, &i, 4, body.data(), body.size()))
                std::this_thread::yield();
        }
    });
    std::vector<char> got;
    std::uint32_t next = 0;
    while (next < k_n) {
        const std::size_t n = ring.readable();
        if (n == 0) {
            std::this_thread::yield();
            continue;
        }
        const std::size_t at = got.size();
        got.resize(at + n);
        ring.read(got.data() + at, n);
        std::size_t pos = 0;
        while (got.size() - pos >= 8) {
            std::uint32_t len = 0, no = 0;
            std::memcpy(&len, got.data() + pos, 4);
            if (got.size() - pos < 8 + len) break;
            std::memcpy(&no, got.data() + pos + 4, 4);
            ASSERT_EQ(no, next);
            ASSERT_EQ(len, 1 + no % 97);
            ASSERT_EQ(got[pos + 8], static_cast<char>('a' + no % 26));
            ASSERT_EQ(got[pos + 8 + len - 1], static_cast<char>('a' + no % 26));
            pos += 8 + len;
            ++next;
        }
        got.erase(got.begin(), got.begin() + static_cast<std::ptrdiff_t>(pos));
    }
    producer.join();
    EXPECT_EQ(ring.readable(), 0u);
    // a record larger than the ring never fits
    std::string big(2000, 'x');
    EXPECT_FALSE(ring.write(big.data(), big.size()));
}

} // namespace
} // namespace seismo::core
