// Privilege separation with descriptor passing: a privileged parent opens a file and hands
// the open descriptor to an unprivileged child, which can read the file through it but could
// not open it by its path. docs/fd_passing.md walks through this program.
//
// Run as root: the child becomes `nobody` (uid/gid 65534) before it is given anything.
// Run as anyone else: nothing can be dropped, so the child keeps the caller's ids, says so,
// and skips the by-path check. Exits non-zero on any failure.
#include <socketpair/ancillary.hpp>
#include <socketpair/socket_pair.hpp>

#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <system_error>
#include <utility>

namespace {

constexpr uid_t nobody_uid = 65534;
constexpr gid_t nobody_gid = 65534;

using channel = sockpair::socket<sockpair::seqpacket>;

// Prints what failed and returns the exit status for failure.
int fail(const char* who, const char* what, const std::error_code& error) {
  std::fprintf(stderr, "%s: %s: %s\n", who, what, error.message().c_str());
  return 1;
}

int fail(const char* who, const char* what) {
  return fail(who, what, std::error_code(errno, std::system_category()));
}

// ---- The child: unprivileged, works only through the descriptor it is given --------------

// Drops every privilege for good: no supplementary groups, then real, effective and saved
// gid, then uid (in that order: once the uid is gone, changing groups is no longer allowed).
bool drop_privileges() {
  if (::setgroups(0, nullptr) != 0 || ::setresgid(nobody_gid, nobody_gid, nobody_gid) != 0 ||
      ::setresuid(nobody_uid, nobody_uid, nobody_uid) != 0) {
    return false;
  }
  // Check rather than trust: every id is nobody's and root cannot be regained.
  uid_t ruid = 0;
  uid_t euid = 0;
  uid_t suid = 0;
  gid_t rgid = 0;
  gid_t egid = 0;
  gid_t sgid = 0;
  return ::getresuid(&ruid, &euid, &suid) == 0 && ::getresgid(&rgid, &egid, &sgid) == 0 &&
         ruid == nobody_uid && euid == nobody_uid && suid == nobody_uid && rgid == nobody_gid &&
         egid == nobody_gid && sgid == nobody_gid && ::setuid(0) != 0;
}

int run_child(channel sock, const char* path) {
  const char* me = "child";
  const bool root = ::geteuid() == 0;
  if (root) {
    if (!drop_privileges()) {
      return fail(me, "dropping privileges to nobody");
    }
    std::printf("child:  dropped privileges: now uid %u gid %u\n", ::getuid(), ::getgid());
  } else {
    std::printf(
        "child:  not running as root (uid %u): no privileges to drop; continuing as "
        "uid %u, so the by-path check below is skipped\n",
        ::getuid(), ::getuid());
  }

  // Ask for the file. The parent checks who we are from the kernel's credentials on this
  // message, not from anything we could claim in it.
  if (auto sent = sock.send(std::string_view("ready")); !sent) {
    return fail(me, "sending ready", sent.error());
  }

  std::array<char, 256> name{};
  auto got = sockpair::receive_with_fds<1>(sock, name);
  if (!got) {
    return fail(me, "receiving the descriptor", got.error());
  }
  if (got.value().fds.size() != 1) {
    std::fprintf(stderr, "child: expected one descriptor, got %zu\n", got.value().fds.size());
    return 1;
  }
  const sockpair::unique_fd file = std::move(got.value().fds[0]);
  std::printf("child:  received descriptor %d for \"%.*s\"\n", file.get(),
              static_cast<int>(got.value().size), name.data());

  // The proof: by its path, the file is out of reach.
  if (root) {
    const int direct = ::open(path, O_RDONLY | O_CLOEXEC);
    if (direct >= 0) {
      ::close(direct);
      std::fprintf(stderr, "child: opened %s by path as nobody: privileges were not dropped\n",
                   path);
      return 1;
    }
    if (errno != EACCES) {
      return fail(me, "open by path failed, but not for lack of permission");
    }
    std::printf("child:  open(\"%s\") by path: %s, as it should be\n", path,
                std::error_code(EACCES, std::system_category()).message().c_str());
  }

  // Through the descriptor it works: the parent's open(2) granted the access.
  std::array<char, 256> contents{};
  const ssize_t n = ::pread(file.get(), contents.data(), contents.size(), 0);
  if (n < 0) {
    return fail(me, "reading through the descriptor");
  }
  std::printf("child:  read %zd bytes through the descriptor\n", n);
  if (auto sent = sock.send(std::string_view(contents.data(), static_cast<std::size_t>(n)));
      !sent) {
    return fail(me, "reporting the contents", sent.error());
  }
  return 0;
}

// ---- The parent: privileged, opens the file and decides who gets it ------------------------

// Paths and the secret live in fixed buffers: nothing here allocates.
using text = std::array<char, 4096>;

// A private directory with one file only its owner may read. Returns false on failure.
bool make_secret(text& dir, text& path, std::string_view secret) {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): single-threaded, before any fork.
  const char* base = std::getenv("TEST_TMPDIR");  // under `bazel test`; else /tmp
  if (std::snprintf(dir.data(), dir.size(), "%s/privsep.XXXXXX", base != nullptr ? base : "/tmp") >=
          static_cast<int>(dir.size()) ||
      ::mkdtemp(dir.data()) == nullptr || ::chmod(dir.data(), 0711) != 0) {
    return false;
  }
  if (std::snprintf(path.data(), path.size(), "%s/secret.txt", dir.data()) >=
      static_cast<int>(path.size())) {
    return false;
  }
  const int fd = ::open(path.data(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return false;
  }
  const bool written =
      ::write(fd, secret.data(), secret.size()) == static_cast<ssize_t>(secret.size());
  return ::close(fd) == 0 && written;
}

int run_parent(channel sock, pid_t child, const char* path, std::string_view secret) {
  const char* me = "parent";
  // Who asks? The kernel attaches the sender's credentials (SO_PASSCRED, enabled before the
  // fork so that nothing the child sends can arrive without them).
  std::array<char, 16> request{};
  auto ready = sockpair::receive_with_fds<1>(sock, request);
  if (!ready) {
    return fail(me, "receiving the child's request", ready.error());
  }
  if (!ready.value().credentials) {
    // With SO_PASSCRED on, every message carries credentials: this is the end of the stream.
    std::fprintf(stderr, "parent: the child hung up without asking\n");
    return 1;
  }
  const sockpair::credentials who = *ready.value().credentials;
  const bool root = ::geteuid() == 0;
  const uid_t want_uid = root ? nobody_uid : ::getuid();
  const gid_t want_gid = root ? nobody_gid : ::getgid();
  if (who.pid != child || who.uid != want_uid || who.gid != want_gid) {
    std::fprintf(stderr,
                 "parent: request from pid %d uid %u gid %u; expected pid %d uid %u "
                 "gid %u: not handing over the file\n",
                 static_cast<int>(who.pid), who.uid, who.gid, static_cast<int>(child), want_uid,
                 want_gid);
    return 1;
  }
  std::printf("parent: request from pid %d, uid %u, gid %u (checked by the kernel)\n",
              static_cast<int>(who.pid), who.uid, who.gid);

  // Open with the parent's privileges, pass the open file, keep nothing.
  sockpair::unique_fd file(::open(path, O_RDONLY | O_CLOEXEC));
  if (!file) {
    return fail(me, "opening the file");
  }
  auto sent = sockpair::send_with_fds(sock, std::string_view("secret.txt"), {file.get()});
  if (!sent) {
    return fail(me, "passing the descriptor", sent.error());
  }
  if (auto closed = file.close(); !closed) {
    return fail(me, "closing its own copy", closed.error());
  }
  std::printf("parent: passed the open file to the child and closed its own copy\n");

  std::array<char, 256> report{};
  auto got = sock.receive(report);
  if (!got) {
    return fail(me, "receiving the child's report", got.error());
  }
  if (std::string_view(report.data(), got.value()) != secret) {
    std::fprintf(stderr, "parent: the child read something else than the secret\n");
    return 1;
  }
  std::printf("parent: the child read the secret through the descriptor\n");
  return 0;
}

}  // namespace

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // parent and child lines in the order written
  text secret_text{};
  const int length =
      std::snprintf(secret_text.data(), secret_text.size(), "secret %d\n", ::getpid());
  const std::string_view secret(secret_text.data(), static_cast<std::size_t>(length));
  text dir{};
  text path{};
  if (!make_secret(dir, path, secret)) {
    return fail("parent", "creating the secret file");
  }
  std::printf("parent: uid %u wrote %s (mode 0600)\n", ::getuid(), path.data());

  auto pair = sockpair::socket_pair<sockpair::seqpacket>::create();
  if (!pair) {
    return fail("parent", "socketpair", pair.error());
  }
  auto [parent_end, child_end] = std::move(pair).value();
  if (auto on = sockpair::set_receive_credentials(parent_end, true); !on) {
    return fail("parent", "SO_PASSCRED", on.error());
  }

  std::fflush(stdout);
  const pid_t child = ::fork();
  if (child < 0) {
    return fail("parent", "fork");
  }
  if (child == 0) {
    static_cast<void>(parent_end.close());
    const int status = run_child(std::move(child_end), path.data());
    std::fflush(stdout);
    ::_exit(status);
  }
  static_cast<void>(child_end.close());
  int status = run_parent(std::move(parent_end), child, path.data(), secret);

  int child_status = 0;
  while (::waitpid(child, &child_status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(child_status) || WEXITSTATUS(child_status) != 0) {
    std::fprintf(stderr, "parent: the child failed\n");
    status = 1;
  }
  ::unlink(path.data());
  ::rmdir(dir.data());
  std::printf("%s\n", status == 0 ? "privilege separation: OK" : "privilege separation: FAILED");
  return status;
}
