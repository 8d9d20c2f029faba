#pragma once
// Buffered append-only output to a file or standard output ("-"), written with write(2) in
// large chunks. One owner thread. Throws std::runtime_error on I/O errors.

#include <string>
#include <string_view>

namespace seismo::journal {

class output_file {
  public:
    output_file() = default;
    /// Opens `path` ("-" = stdout); `append` keeps existing content (audit logs).
    explicit output_file(const std::string& path, bool append = false);
    ~output_file();
    output_file(output_file&& o) noexcept;
    output_file& operator=(output_file&& o) noexcept;
    output_file(const output_file&) = delete;
    output_file& operator=(const output_file&) = delete;

    [[nodiscard]] bool is_open() const noexcept { return fd_ >= 0; }
    void write(std::string_view s) {
        buf_.append(s);
        if (buf_.size() >= k_flush_at) flush();
    }
    void flush();
    void close();
    [[nodiscard]] const std::string& path() const noexcept { return path_; }

  private:
    static constexpr std::size_t k_flush_at = 1 << 20;
    int fd_ = -1;
    std::string path_;
    std::string buf_;
};

} // namespace seismo::journal
