// Runs fuzz targets' inputs without libFuzzer: every file named on the command line, or in a
// directory named there, goes once through LLVMFuzzerTestOneInput. This is how the committed
// corpus runs in `bazel test //...` under every compiler and sanitizer configuration, and how
// a crashing input is replayed under a debugger.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

// NOLINTNEXTLINE(readability-identifier-naming): the name libFuzzer calls
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
// Each fuzz target defines its own (weak here: a binary links one target).
[[gnu::weak]] void receive_fuzzer_print_totals();
[[gnu::weak]] void shm_fuzzer_print_totals();

namespace {

std::vector<std::string> files_in(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    std::fprintf(stderr, "corpus_driver: cannot stat %s\n", path.c_str());
    return {};
  }
  if (!S_ISDIR(st.st_mode)) {
    return {path};
  }
  std::vector<std::string> files;
  if (DIR* dir = ::opendir(path.c_str())) {
    // NOLINTNEXTLINE(concurrency-mt-unsafe): this DIR stream is used by this thread only
    while (const dirent* entry = ::readdir(dir)) {
      if (entry->d_name[0] != '.') {
        files.push_back(path + "/" + static_cast<const char*>(entry->d_name));
      }
    }
    ::closedir(dir);
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t inputs = 0;
  for (int i = 1; i < argc; ++i) {
    for (const std::string& file : files_in(argv[i])) {
      std::ifstream in(file, std::ios::binary);
      const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                    std::istreambuf_iterator<char>());
      LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
      ++inputs;
    }
  }
  for (void (*print)() : {receive_fuzzer_print_totals, shm_fuzzer_print_totals}) {
    if (print != nullptr) {
      print();
    }
  }
  if (inputs == 0) {
    std::fprintf(stderr, "corpus_driver: no inputs found\n");
    return 1;
  }
  std::printf("corpus_driver: %zu inputs, no invariant violated\n", inputs);
  return 0;
}
