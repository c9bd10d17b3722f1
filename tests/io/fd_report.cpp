// Run by spawn_test across exec: `fd_report <fd>`. Adopts descriptor <fd> as a stream socket
// (proving it arrived, open and of the right kind), sends back over it the numbers of every
// descriptor open in this process, "0 1 2 5", and exits 0. Exits 2 if the adoption fails.
#include <socketpair/socketpair.hpp>

#include <dirent.h>

#include <charconv>
#include <cstring>
#include <set>
#include <string>
#include <system_error>

namespace {

// The descriptor number `text` spells, or -1 ("." and ".." among them).
int parse_fd(const char* text) {
  int fd = -1;
  const char* end = text + std::strlen(text);
  const auto [stop, error] = std::from_chars(text, end, fd);
  return error == std::errc{} && stop == end ? fd : -1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    return 2;
  }
  std::set<int> open;
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) {
    return 2;
  }
  const int own = ::dirfd(dir);
  // readdir is safe on a DIR that no other thread uses (readdir_r is deprecated).
  // NOLINTNEXTLINE(concurrency-mt-unsafe): this DIR is private to the call
  while (const dirent* entry = ::readdir(dir)) {
    const int fd = parse_fd(entry->d_name);
    if (fd >= 0 && fd != own) {
      open.insert(fd);
    }
  }
  ::closedir(dir);

  auto channel = sockpair::socket<sockpair::stream>::adopt(sockpair::unique_fd(parse_fd(argv[1])));
  if (!channel) {
    return 2;
  }
  std::string report;
  for (const int fd : open) {
    report += (report.empty() ? "" : " ") + std::to_string(fd);
  }
  return channel.value().send_all(std::string_view(report)) ? 0 : 3;
}
