// Whole-file reads and atomic writes (files.h).
#include "io/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace ckpt {
namespace {

std::string quoted(const std::string& path) { return "\"" + path + "\""; }

// Writes all of `data` to `fd`; false with errno set on failure.
bool write_all(int fd, const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        done += size_t(n);
    }
    return true;
}

Status io_error(const std::string& path, int err) {
    return Status::failure("cannot write " + quoted(path) + ": " + std::strerror(err), ErrorKind::io);
}

}  // namespace

Result<std::string> read_text_file(const std::string& path, size_t max_bytes, const std::string& what) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error{"cannot open " + what + " " + quoted(path) + ": " + std::strerror(errno), ErrorKind::io};
    std::ostringstream text;
    char buf[1 << 16];
    size_t total = 0;
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
        total += size_t(in.gcount());
        if (total > max_bytes)
            return Error{path + ": the file is larger than " + std::to_string(max_bytes >> 20) + " MiB; not a " + what,
                         ErrorKind::bad_input};
        text.write(buf, in.gcount());
    }
    if (in.bad()) return Error{"cannot read " + what + " " + quoted(path), ErrorKind::io};
    return text.str();
}

Status write_file_atomic(const std::string& path, const std::string& data) {
    struct stat st{};
    const bool exists = ::stat(path.c_str(), &st) == 0;
    if (exists && !S_ISREG(st.st_mode)) {
        // A device or a pipe (/dev/stdout, /dev/full): nothing to replace, but every error counts.
        const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
        if (fd < 0) return io_error(path, errno);
        const bool ok = write_all(fd, data);
        const int err = errno;
        if (::close(fd) != 0 && ok) return io_error(path, errno);
        return ok ? Status::success() : io_error(path, err);
    }
    std::string tmp = path + ".tmp-XXXXXX";
    const int fd = ::mkstemp(tmp.data());
    if (fd < 0) return io_error(path, errno);
    // mkstemp makes the file private; give it the old file's mode, or the usual 0644.
    ::fchmod(fd, exists ? (st.st_mode & 07777) : 0644);
    bool ok = write_all(fd, data) && ::fsync(fd) == 0;
    int err = errno;
    if (::close(fd) != 0 && ok) {
        ok = false;
        err = errno;
    }
    if (ok && ::rename(tmp.c_str(), path.c_str()) != 0) {
        ok = false;
        err = errno;
    }
    if (!ok) {
        ::unlink(tmp.c_str());
        return io_error(path, err);
    }
    return Status::success();
}

}  // namespace ckpt
