// Run by spawn_test across exec: `fd_report <fd>`. Adopts descriptor <fd> as a stream socket
// (proving it arrived, open and of the right kind), sends back over it the numbers of every
// descriptor open in this process, "0 1 2 5", and exits 0. Exits 2 if the adoption fails.
#include <socketpair/socketpair.hpp>

#include <dirent.h>

#include <cstdlib>
#include <set>
#include <string>

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
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.' && std::atoi(entry->d_name) != own) {
      open.insert(std::atoi(entry->d_name));
    }
  }
  ::closedir(dir);

  auto channel = sockpair::socket<sockpair::stream>::adopt(sockpair::unique_fd(std::atoi(argv[1])));
  if (!channel) {
    return 2;
  }
  std::string report;
  for (const int fd : open) {
    report += (report.empty() ? "" : " ") + std::to_string(fd);
  }
  return channel.value().send_all(std::string_view(report)) ? 0 : 3;
}
