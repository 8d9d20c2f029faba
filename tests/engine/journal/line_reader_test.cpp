#include "engine/journal/line_reader.hpp"

#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace seismo::journal {
namespace {

std::string temp_path(const std::string& name) {
    return ::testing::TempDir() + "seismo_lr_" + std::to_string(::getpid()) + "_" + name;
}

void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary);
    f << bytes;
}

std::vector<std::string> read_all(const std::string& path, std::size_t max_line = 1 << 20,
                                  std::vector<bool>* truncated = nullptr) {
    line_reader r(path, max_line);
    std::vector<std::string> out;
    line_reader::line l;
    while (r.next(l)) {
        out.emplace_back(l.text);
        if (truncated != nullptr) truncated->push_back(l.truncated);
        // every line has readable padding after it (ASan would catch reads past the buffer)
        volatile char sink = 0;
        for (std::size_t i = 0; i < k_line_padding; ++i)
            sink = static_cast<char>(sink ^ l.text.data()[l.text.size() + i]);
    }
    return out;
}

TEST(line_reader, lines_crlf_and_a_missing_final_newline) {
    const auto p = temp_path("plain");
    write_file(p, "a\r\nbb\n\nccc");
    const auto lines = read_all(p);
    ASSERT_EQ(lines.size(), 4u);
    EXPECT_EQ(lines[0], "a");
    EXPECT_EQ(lines[1], "bb");
    EXPECT_EQ(lines[2], "");
    EXPECT_EQ(lines[3], "ccc");
    std::remove(p.c_str());
}

TEST(line_reader, overlong_lines_are_cut_and_the_rest_skipped) {
    const auto p = temp_path("long");
    std::string big(10'000'000, 'x'); // larger than the buffer
    write_file(p, "first\n" + big + "\nlast\n");
    std::vector<bool> cut;
    const auto lines = read_all(p, 1000, &cut);
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_EQ(lines[0], "first");
    EXPECT_EQ(lines[1].size(), 1000u);
    EXPECT_TRUE(cut[1]);
    EXPECT_EQ(lines[2], "last");
    EXPECT_FALSE(cut[2]);
    std::remove(p.c_str());
}

TEST(line_reader, many_lines_across_buffer_refills) {
    const auto p = temp_path("many");
    std::string text;
    for (int i = 0; i < 300000; ++i)
        text += "line " + std::to_string(i) + "\n";
    write_file(p, text);
    const auto lines = read_all(p);
    ASSERT_EQ(lines.size(), 300000u);
    EXPECT_EQ(lines[123456], "line 123456");
    std::remove(p.c_str());
}

TEST(line_reader, gzip_and_zstd_by_magic_bytes) {
    std::string text;
    for (int i = 0; i < 50000; ++i)
        text += "{\"n\":" + std::to_string(i) + "}\n";
    const auto gz = temp_path("x.gz");
    {
        gzFile f = gzopen(gz.c_str(), "wb");
        ASSERT_NE(f, nullptr);
        gzwrite(f, text.data(), static_cast<unsigned>(text.size()));
        gzclose(f);
    }
    const auto zs = temp_path("x.data"); // no telling extension: detected by magic
    {
        std::string comp(ZSTD_compressBound(text.size()), '\0');
        const std::size_t n = ZSTD_compress(comp.data(), comp.size(), text.data(), text.size(), 3);
        ASSERT_FALSE(ZSTD_isError(n));
        comp.resize(n);
        write_file(zs, comp);
    }
    for (const auto& p : {gz, zs}) {
        const auto lines = read_all(p);
        ASSERT_EQ(lines.size(), 50000u) << p;
        EXPECT_EQ(lines[49999], "{\"n\":49999}");
        std::remove(p.c_str());
    }
}

TEST(line_reader, unreadable_file_throws) {
    EXPECT_THROW(line_reader("/nonexistent/file"), std::runtime_error);
}

} // namespace
} // namespace seismo::journal
