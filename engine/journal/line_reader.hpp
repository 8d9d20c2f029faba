#pragma once
// Reads a text file line by line into one reusable buffer, decompressing .gz and .zst input (by
// magic bytes, whatever the name). Every line handed out has at least `k_line_padding` readable
// bytes after it, so parsers can read it in place with simdjson. Lines longer than `max_line`
// are cut (flagged `truncated`) and the rest skipped, so memory stays bounded whatever the input.
//
// One owner thread. Throws std::runtime_error when a file cannot be opened or decompressed.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace seismo::journal {

inline constexpr std::size_t k_line_padding = 64;

class line_reader {
  public:
    struct line {
        std::string_view text;    ///< without the newline (and without a trailing '\r')
        std::uint64_t number = 0; ///< 1-based line number
        bool truncated = false;   ///< longer than max_line: text holds its first max_line bytes
    };

    /// `path` "-" reads standard input.
    explicit line_reader(const std::string& path, std::size_t max_line = 1 << 20);
    ~line_reader();
    line_reader(const line_reader&) = delete;
    line_reader& operator=(const line_reader&) = delete;

    /// The next line; false at the end of input.
    bool next(line& out);

    /// The input already read past the last line handed out (the next lines, the last of them
    /// perhaps incomplete), valid until the next call to next(); its first byte is input byte
    /// bytes(). For a reader that looks ahead (a replay's prefetch hints).
    [[nodiscard]] std::string_view unread() const noexcept {
        return {buf_.data() + begin_, end_ - begin_};
    }

    /// Bytes of (decompressed) input consumed so far, and the compressed file size (0 if unknown).
    [[nodiscard]] std::uint64_t bytes() const noexcept { return consumed_; }
    [[nodiscard]] std::uint64_t file_size() const noexcept { return file_size_; }
    [[nodiscard]] const char* compression() const noexcept;

    class source;

  private:
    std::size_t fill();

    std::unique_ptr<source> src_;
    std::vector<char> buf_;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
    std::size_t max_line_;
    bool eof_ = false;
    bool skip_rest_ = false;
    std::uint64_t line_no_ = 0;
    std::uint64_t consumed_ = 0;
    std::uint64_t file_size_ = 0;
};

} // namespace seismo::journal
