#include "engine/core/crc32c.hpp"

#include <gtest/gtest.h>

namespace seismo::core {
namespace {

TEST(crc32c, known_vectors) {
    EXPECT_EQ(crc32c("123456789", 9), 0xe3069283u);
    EXPECT_EQ(crc32c("", 0), 0u);
    // continuing a CRC across pieces equals one pass
    EXPECT_EQ(crc32c("6789", 4, crc32c("12345", 5)), 0xe3069283u);
}

} // namespace
} // namespace seismo::core
