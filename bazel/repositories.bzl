"""Repository macros for WORKSPACE-based consumers of socketpair.

`socketpair_dependencies()` adds what the library itself needs; `socketpair_dev_dependencies()`
adds what its tests and benchmarks need; `socketpair_offline_shims()` adds the three
repositories that Bazel 4.2.3 (Debian's `bazel-bootstrap`) would otherwise download. Each adds
only the repositories the calling WORKSPACE has not defined yet, so a consumer that already
has `@boost.outcome` (say, from an `http_archive` of the Bazel Central Registry's module)
keeps its own.

The repository names are the Bazel Central Registry's module names, so BUILD files read the
same under WORKSPACE and under bzlmod. Here they map onto Debian's system packages
(`libboost1.81-dev`, `libgtest-dev`, `libbenchmark-dev`, `bazel-rules-java`).
"""

def _missing(name):
    return not native.existing_rule(name)

_BOOST_OUTCOME_BUILD = """
# Boost.Outcome from Debian's libboost1.81-dev. The headers live in /usr/include, which the
# compiler searches already; listing them here makes Bazel rebuild when they change.
cc_library(
    name = "boost.outcome",
    hdrs = glob(["boost/outcome/**/*.hpp", "boost/outcome.hpp"], allow_empty = True),
    visibility = ["//visibility:public"],
)
"""

_GOOGLETEST_BUILD = """
# GoogleTest built from Debian's libgtest-dev sources, so that sanitizer configurations
# instrument it together with the tests.
cc_library(
    name = "gtest",
    srcs = ["googletest/src/gtest-all.cc"],
    hdrs = glob(["googletest/src/*.h", "googletest/src/*.cc"]),
    copts = ["-Iexternal/googletest/googletest", "-w"],
    linkopts = ["-pthread"],
    visibility = ["//visibility:public"],
)

cc_library(
    name = "gtest_main",
    srcs = ["googletest/src/gtest_main.cc"],
    copts = ["-w"],
    deps = [":gtest"],
    visibility = ["//visibility:public"],
)

cc_library(
    name = "gmock",
    srcs = ["googlemock/src/gmock-all.cc"],
    hdrs = glob(["googlemock/src/*.cc"]),
    copts = ["-Iexternal/googletest/googlemock", "-w"],
    deps = [":gtest"],
    visibility = ["//visibility:public"],
)
"""

_GOOGLE_BENCHMARK_BUILD = """
# Google Benchmark from Debian's libbenchmark-dev (headers and libraries, no sources).
cc_library(
    name = "benchmark",
    linkopts = ["-lbenchmark", "-pthread"],
    visibility = ["//visibility:public"],
)

cc_library(
    name = "benchmark_main",
    linkopts = ["-lbenchmark_main", "-lbenchmark", "-pthread"],
    visibility = ["//visibility:public"],
)
"""

# A WORKSPACE setup macro, called once with no arguments (as rules_foo_dependencies() are):
# it defines repositories, not targets, so it has no `name`.
# buildifier: disable=unnamed-macro
def socketpair_dependencies():
    """Adds `@boost.outcome`, the library's only dependency, unless already defined."""
    if _missing("boost.outcome"):
        native.new_local_repository(
            name = "boost.outcome",
            path = "/usr/include",
            build_file_content = _BOOST_OUTCOME_BUILD,
        )

# A WORKSPACE setup macro, called once with no arguments (as rules_foo_dependencies() are):
# it defines repositories, not targets, so it has no `name`.
# buildifier: disable=unnamed-macro
def socketpair_dev_dependencies():
    """Adds `@googletest` and `@google_benchmark` for tests and benchmarks, unless defined."""
    if _missing("googletest"):
        native.new_local_repository(
            name = "googletest",
            path = "/usr/src/googletest",
            build_file_content = _GOOGLETEST_BUILD,
        )
    if _missing("google_benchmark"):
        native.new_local_repository(
            name = "google_benchmark",
            path = "/usr/lib/x86_64-linux-gnu",
            build_file_content = _GOOGLE_BENCHMARK_BUILD,
        )

_RULES_CC_DEFS = '''"""Re-exports Bazel 4.2.3's native C++ rules (stand-in for @rules_cc offline)."""

def cc_library(**kwargs):
    native.cc_library(**kwargs)

def cc_binary(**kwargs):
    native.cc_binary(**kwargs)

def cc_test(**kwargs):
    native.cc_test(**kwargs)

def cc_import(**kwargs):
    native.cc_import(**kwargs)

def cc_toolchain(**kwargs):
    native.cc_toolchain(**kwargs)

def cc_toolchain_suite(**kwargs):
    native.cc_toolchain_suite(**kwargs)

def objc_library(**kwargs):
    native.objc_library(**kwargs)

def objc_import(**kwargs):
    native.objc_import(**kwargs)
'''

def _rules_cc_shim_impl(ctx):
    ctx.file("WORKSPACE", "workspace(name = \"rules_cc\")\n")
    ctx.file("BUILD.bazel", "")
    ctx.file("cc/BUILD.bazel", "exports_files([\"defs.bzl\"])\n")
    ctx.file("cc/defs.bzl", _RULES_CC_DEFS)

_rules_cc_shim = repository_rule(implementation = _rules_cc_shim_impl, local = True)

def _coverage_tools_shim_impl(ctx):
    ctx.file("WORKSPACE", "workspace(name = \"remote_coverage_tools\")\n")
    ctx.file("BUILD.bazel", """# Offline stand-in: `bazel coverage` does not work without the real tools.
filegroup(name = "coverage_report_generator", visibility = ["//visibility:public"])
filegroup(name = "lcov_merger", visibility = ["//visibility:public"])
""")

_coverage_tools_shim = repository_rule(implementation = _coverage_tools_shim_impl, local = True)

# A WORKSPACE setup macro, called once with no arguments (as rules_foo_dependencies() are):
# it defines repositories, not targets, so it has no `name`.
# buildifier: disable=unnamed-macro
def socketpair_offline_shims():
    """Adds `@rules_cc`, `@rules_java` and `@remote_coverage_tools` for offline Bazel 4.2.3.

    Only needed where Bazel cannot download them; each is added only if not defined yet.
    `@rules_java` comes from Debian's bazel-rules-java package.
    """
    if _missing("rules_cc"):
        _rules_cc_shim(name = "rules_cc")
    if _missing("rules_java"):
        native.local_repository(name = "rules_java", path = "/usr/share/bazel/rules/java")
    if _missing("remote_coverage_tools"):
        _coverage_tools_shim(name = "remote_coverage_tools")
