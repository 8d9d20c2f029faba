#include "engine/journal/line_reader.hpp"

#include <zlib.h>
#include <zstd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace seismo::journal {

class line_reader::source {
  public:
    virtual ~source() = default;
    /// Reads up to n bytes; 0 at end of input. Throws on errors.
    virtual std::size_t read(char* p, std::size_t n) = 0;
    [[nodiscard]] virtual const char* name() const noexcept = 0;
};

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
    throw std::runtime_error(path + ": " + what);
}

class fd_source final : public line_reader::source {
  public:
    fd_source(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
    ~fd_source() override {
        if (fd_ > 2) ::close(fd_);
    }
    std::size_t read(char* p, std::size_t n) override {
        for (;;) {
            const ssize_t r = ::read(fd_, p, n);
            if (r >= 0) return static_cast<std::size_t>(r);
            if (errno != EINTR) fail(path_, std::strerror(errno));
        }
    }
    [[nodiscard]] const char* name() const noexcept override { return "none"; }

  protected:
    int fd_;
    std::string path_;
};

/// Raw bytes of a file with some already-peeked bytes in front.
class prefixed_fd final : public line_reader::source {
  public:
    prefixed_fd(int fd, std::string path, std::vector<char> head)
        : inner_(fd, std::move(path)), head_(std::move(head)) {}
    std::size_t read(char* p, std::size_t n) override {
        if (pos_ < head_.size()) {
            const std::size_t k = std::min(n, head_.size() - pos_);
            std::memcpy(p, head_.data() + pos_, k);
            pos_ += k;
            return k;
        }
        return inner_.read(p, n);
    }
    [[nodiscard]] const char* name() const noexcept override { return "none"; }

  private:
    fd_source inner_;
    std::vector<char> head_;
    std::size_t pos_ = 0;
};

class gzip_source final : public line_reader::source {
  public:
    gzip_source(int fd, const std::string& path) : path_(path) {
        if (::lseek(fd, 0, SEEK_SET) != 0) fail(path, "gzip input must be a regular file");
        gz_ = gzdopen(fd, "rb");
        if (gz_ == nullptr) fail(path, "cannot open gzip stream");
        gzbuffer(gz_, 1 << 20);
    }
    ~gzip_source() override { gzclose(gz_); }
    std::size_t read(char* p, std::size_t n) override {
        const int r = gzread(gz_, p, static_cast<unsigned>(std::min<std::size_t>(n, 1u << 30)));
        if (r < 0) {
            int err = 0;
            fail(path_, std::string("gzip: ") + gzerror(gz_, &err));
        }
        return static_cast<std::size_t>(r);
    }
    [[nodiscard]] const char* name() const noexcept override { return "gzip"; }

  private:
    gzFile gz_ = nullptr;
    std::string path_;
};

class zstd_source final : public line_reader::source {
  public:
    zstd_source(int fd, std::string path, std::vector<char> head)
        : raw_(fd, std::move(path), std::move(head)), path_name_() {
        dctx_ = ZSTD_createDCtx();
        in_buf_.resize(ZSTD_DStreamInSize());
    }
    ~zstd_source() override { ZSTD_freeDCtx(dctx_); }
    std::size_t read(char* p, std::size_t n) override {
        ZSTD_outBuffer out{p, n, 0};
        while (out.pos == 0) {
            if (in_.pos == in_.size) {
                const std::size_t got = raw_.read(in_buf_.data(), in_buf_.size());
                if (got == 0) {
                    if (last_ret_ != 0) throw std::runtime_error("zstd: truncated input");
                    return 0;
                }
                in_ = {in_buf_.data(), got, 0};
            }
            const std::size_t r = ZSTD_decompressStream(dctx_, &out, &in_);
            if (ZSTD_isError(r))
                throw std::runtime_error(std::string("zstd: ") + ZSTD_getErrorName(r));
            last_ret_ = r;
        }
        return out.pos;
    }
    [[nodiscard]] const char* name() const noexcept override { return "zstd"; }

  private:
    prefixed_fd raw_;
    std::string path_name_;
    ZSTD_DCtx* dctx_ = nullptr;
    std::vector<char> in_buf_;
    ZSTD_inBuffer in_{nullptr, 0, 0};
    std::size_t last_ret_ = 0;
};

} // namespace

line_reader::line_reader(const std::string& path, std::size_t max_line) : max_line_(max_line) {
    int fd = 0;
    if (path != "-") {
        fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) fail(path, std::strerror(errno));
        struct stat st {};
        if (::fstat(fd, &st) == 0) file_size_ = static_cast<std::uint64_t>(st.st_size);
    }
    // Sniff the first bytes for gzip (1f 8b) or zstd (28 b5 2f fd) magic.
    std::vector<char> head(4);
    std::size_t got = 0;
    while (got < head.size()) {
        const ssize_t r = ::read(fd, head.data() + got, head.size() - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) fail(path, std::strerror(errno));
        if (r == 0) break;
        got += static_cast<std::size_t>(r);
    }
    head.resize(got);
    const auto b = [&](std::size_t i) { return static_cast<unsigned char>(head[i]); };
    if (got >= 2 && b(0) == 0x1f && b(1) == 0x8b) {
        src_ = std::make_unique<gzip_source>(fd, path);
    } else if (got >= 4 && b(0) == 0x28 && b(1) == 0xb5 && b(2) == 0x2f && b(3) == 0xfd) {
        src_ = std::make_unique<zstd_source>(fd, path, std::move(head));
    } else {
        src_ = std::make_unique<prefixed_fd>(fd, path, std::move(head));
    }
    buf_.resize(std::max<std::size_t>(4u << 20, max_line_ * 2 + 1) + k_line_padding);
}

line_reader::~line_reader() = default;

const char* line_reader::compression() const noexcept {
    return src_->name();
}

std::size_t line_reader::fill() {
    // Keep the unread tail, then read until the buffer (minus padding) is full or input ends.
    if (begin_ != 0) {
        std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
    }
    const std::size_t cap = buf_.size() - k_line_padding;
    std::size_t added = 0;
    while (end_ < cap && !eof_) {
        const std::size_t r = src_->read(buf_.data() + end_, cap - end_);
        if (r == 0) {
            eof_ = true;
            break;
        }
        end_ += r;
        added += r;
    }
    return added;
}

bool line_reader::next(line& out) {
    for (;;) {
        const char* base = buf_.data();
        const void* nl = std::memchr(base + begin_, '\n', end_ - begin_);
        if (skip_rest_) {
            // Discarding the remainder of an overlong line handed out (cut) before.
            if (nl != nullptr) {
                const auto at = static_cast<std::size_t>(static_cast<const char*>(nl) - base);
                consumed_ += at + 1 - begin_;
                begin_ = at + 1;
                skip_rest_ = false;
                continue;
            }
            consumed_ += end_ - begin_;
            begin_ = end_;
            if (eof_) return false;
            fill();
            continue;
        }
        if (nl != nullptr || eof_) {
            if (nl == nullptr && begin_ == end_) return false;
            const std::size_t stop =
                nl != nullptr ? static_cast<std::size_t>(static_cast<const char*>(nl) - base)
                              : end_;
            std::size_t len = stop - begin_;
            out.number = ++line_no_;
            out.truncated = false;
            consumed_ += len + (nl != nullptr ? 1 : 0);
            if (len > 0 && base[begin_ + len - 1] == '\r') --len;
            if (len > max_line_) {
                len = max_line_;
                out.truncated = true;
            }
            out.text = std::string_view(base + begin_, len);
            begin_ = nl != nullptr ? stop + 1 : end_;
            return true;
        }
        if (end_ - begin_ > max_line_) {
            // No newline within max_line bytes: hand out the head, skip the rest on the next call.
            out.number = ++line_no_;
            out.truncated = true;
            out.text = std::string_view(base + begin_, max_line_);
            consumed_ += max_line_;
            begin_ += max_line_;
            skip_rest_ = true;
            return true;
        }
        fill();
    }
}

} // namespace seismo::journal
